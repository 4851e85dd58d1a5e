// The tamper-evident chain over each dossier's events.
#pragma once
#include <string>
#include <string_view>

#include "engine/records.hpp"

namespace hoso {

// True when `s` is 64 lowercase hex characters: the shape of every digest hoso stores.
constexpr bool is_digest_hex(std::string_view s) {
  if (s.size() != 64) return false;
  bool hex = true;
  for (char c : s) hex &= (c >= '0' && c <= '9') | (c >= 'a' && c <= 'f');  // no early exit: it vectorizes
  return hex;
}

// Lowercase hex SHA-256 of `data`.
std::string sha256_hex(std::string_view data);

// The canonical bytes hashed for an event: every field except `hash`, each length-prefixed, in a fixed
// order, ending with prev_hash. Stored on disk (by what it hashes): never change.
std::string canonical_event_bytes(const EventRecord& e);

// sha256_hex(canonical_event_bytes(e)), computed without building the canonical string.
std::string event_hash(const EventRecord& e);

// True when e.hash == event_hash(e); allocation-free.
bool event_hash_matches(const EventRecord& e);

// SHA-256 over every field of a projection except last_hash, length-prefixed. Each event records the digest
// of the projection it produced, which binds the projection to the hash chain. Stored on disk: never change.
std::string projection_digest(const DossierRecord& d);

}  // namespace hoso

// The tamper-evident chain over each dossier's events.
#pragma once
#include <string>
#include <string_view>

#include "engine/records.hpp"

namespace hoso {

// Lowercase hex SHA-256 of `data`.
std::string sha256_hex(std::string_view data);

// The canonical bytes hashed for an event: every field except `hash`, each length-prefixed, in a fixed
// order, ending with prev_hash. Stored on disk (by what it hashes): never change.
std::string canonical_event_bytes(const EventRecord& e);

// sha256_hex(canonical_event_bytes(e)).
std::string event_hash(const EventRecord& e);

}  // namespace hoso

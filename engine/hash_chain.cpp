#include "engine/hash_chain.hpp"

#include <openssl/sha.h>

namespace hoso {

std::string sha256_hex(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(2 * SHA256_DIGEST_LENGTH, '0');
  for (int i = 0; i < SHA256_DIGEST_LENGTH; ++i) {
    out[2 * i] = kHex[digest[i] >> 4];
    out[2 * i + 1] = kHex[digest[i] & 0xF];
  }
  return out;
}

namespace {
void put(std::string& out, std::string_view field) {
  out += std::to_string(field.size());
  out += ':';
  out += field;
  out += ';';
}
}  // namespace

std::string canonical_event_bytes(const EventRecord& e) {
  std::string out;
  out.reserve(160 + e.note.size() + e.payload.size());
  put(out, "hoso-event-v1");
  put(out, std::to_string(e.dossier));
  put(out, std::to_string(e.seq));
  put(out, e.type);
  put(out, e.at);
  put(out, e.actor_user);
  put(out, e.actor_role);
  put(out, e.actor_org);
  put(out, e.action);
  put(out, e.from_state);
  put(out, e.to_state);
  put(out, e.holder);
  put(out, e.note);
  put(out, e.payload);
  put(out, std::to_string(e.schema_version));
  put(out, e.prev_hash);
  return out;
}

std::string event_hash(const EventRecord& e) { return sha256_hex(canonical_event_bytes(e)); }

}  // namespace hoso

#include "engine/hash_chain.hpp"

#include <openssl/evp.h>

#include <array>
#include <charconv>
#include <cstring>

namespace hoso {

namespace {

constexpr char kHex[] = "0123456789abcdef";

// One digest context per thread, with the algorithm fetched once (OpenSSL 3's one-shot SHA256()
// fetches it on every call, which costs more than hashing a small event).
class Sha256 {
 public:
  Sha256() : md_(EVP_MD_fetch(nullptr, "SHA256", nullptr)), ctx_(EVP_MD_CTX_new()) {}
  ~Sha256() {
    EVP_MD_CTX_free(ctx_);
    EVP_MD_free(md_);
  }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void begin() { EVP_DigestInit_ex2(ctx_, md_, nullptr); }
  void add(const void* data, std::size_t n) { EVP_DigestUpdate(ctx_, data, n); }
  // Writes 64 lowercase hex characters.
  void finish_hex(char* out) {
    unsigned char digest[32];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_, digest, &len);
    for (int i = 0; i < 32; ++i) {
      out[2 * i] = kHex[digest[i] >> 4];
      out[2 * i + 1] = kHex[digest[i] & 0xF];
    }
  }

 private:
  EVP_MD* md_;
  EVP_MD_CTX* ctx_;
};

Sha256& hasher() {
  thread_local Sha256 h;
  return h;
}

// Feeds "<len>:<bytes>;" — the canonical encoding of one field.
template <typename Sink>
void put(Sink& sink, std::string_view field) {
  char len[24];
  auto [end, ec] = std::to_chars(len, len + sizeof len, field.size());
  (void)ec;
  sink(len, static_cast<std::size_t>(end - len));
  sink(":", 1);
  sink(field.data(), field.size());
  sink(";", 1);
}

template <typename Sink>
void put_number(Sink& sink, std::int64_t v) {
  char num[24];
  auto [end, ec] = std::to_chars(num, num + sizeof num, v);
  (void)ec;
  put(sink, std::string_view(num, static_cast<std::size_t>(end - num)));
}

template <typename Sink>
void canonical(Sink& sink, const EventRecord& e) {
  put(sink, "hoso-event-v1");
  put_number(sink, e.dossier);
  put_number(sink, e.seq);
  put(sink, e.type);
  put(sink, e.at);
  put(sink, e.actor_user);
  put(sink, e.actor_role);
  put(sink, e.actor_org);
  put(sink, e.action);
  put(sink, e.from_state);
  put(sink, e.to_state);
  put(sink, e.holder);
  put(sink, e.note);
  put(sink, e.payload);
  put_number(sink, e.schema_version);
  put(sink, e.prev_hash);
}

// Builds the canonical bytes in a per-thread buffer (no allocation once it has grown) and hashes them in
// one update: many small updates cost more than the hashing itself.
void hash_hex(const EventRecord& e, char* out) {
  thread_local std::string buffer;
  buffer.clear();
  auto sink = [](const char* p, std::size_t n) { buffer.append(p, n); };
  canonical(sink, e);
  Sha256& h = hasher();
  h.begin();
  h.add(buffer.data(), buffer.size());
  h.finish_hex(out);
}

}  // namespace

std::string sha256_hex(std::string_view data) {
  Sha256& h = hasher();
  h.begin();
  h.add(data.data(), data.size());
  std::string out(64, '0');
  h.finish_hex(out.data());
  return out;
}

std::string canonical_event_bytes(const EventRecord& e) {
  std::string out;
  auto sink = [&out](const char* p, std::size_t n) { out.append(p, n); };
  canonical(sink, e);
  return out;
}

std::string event_hash(const EventRecord& e) {
  std::string out(64, '0');
  hash_hex(e, out.data());
  return out;
}

bool event_hash_matches(const EventRecord& e) {
  if (e.hash.size() != 64) return false;
  std::array<char, 64> h;
  hash_hex(e, h.data());
  return std::memcmp(h.data(), e.hash.data(), 64) == 0;
}

std::string projection_digest(const DossierRecord& d) {
  std::string bytes;
  bytes.reserve(512 + d.fields.size() + d.documents.size() + d.vote.size() + d.timing.size());
  auto sink = [&bytes](const char* p, std::size_t n) { bytes.append(p, n); };
  put(sink, "hoso-projection-v3");
  put_number(sink, d.id);
  put(sink, d.workflow);
  put(sink, d.definition_hash);
  put(sink, d.award);
  put(sink, d.origin);
  put(sink, d.state);
  put(sink, d.holder);
  put(sink, d.previous_holder);
  put_number(sink, d.closed ? 1 : 0);
  put_number(sink, d.version);
  put(sink, d.fields);
  put(sink, d.documents);
  put(sink, d.vote);
  put(sink, d.created_by);
  put(sink, d.created_at);
  put(sink, d.updated_at);
  put(sink, d.submitted_at);
  put(sink, d.timing);
  return sha256_hex(bytes);
}

}  // namespace hoso

#include "adapters/http/auth.hpp"

#include <fmt/format.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cctype>

#include "adapters/views/json_views.hpp"
#include "engine/hash_chain.hpp"

namespace hoso::http {

namespace {

Error denied(const std::string& reason, const std::string& message) {
  Error e = make_error(ErrorCode::kNotPermitted, message);
  e.reason = reason;
  return e;
}

Result<UserId> active_user(const Directory& dir, const std::string& key) {
  auto id = dir.find_user(key);
  if (!id) return make_error(ErrorCode::kNotFound, fmt::format("Không có người dùng '{}'", key));
  if (!dir.user(*id).active)
    return make_error(ErrorCode::kNotPermitted, fmt::format("Người dùng '{}' không còn hoạt động", key));
  return *id;
}

}  // namespace

std::string token_hash(std::string_view token) { return sha256_hex(token); }

Result<IssuedToken> issue_token(Store& store, const Directory& dir, const std::string& user, Timestamp now,
                                std::optional<std::int64_t> lifetime_ms) {
  if (auto id = active_user(dir, user); !id) return id.error();
  if (lifetime_ms && *lifetime_ms <= 0)
    return make_error(ErrorCode::kInvalidInput, "Thời hạn của mã truy cập phải lớn hơn 0");
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return make_error(ErrorCode::kInternal, "RAND_bytes failed");
  std::string token = "hoso_";
  for (unsigned char b : bytes) token += fmt::format("{:02x}", b);
  IssuedToken issued{std::move(token), lifetime_ms ? format_utc(Timestamp{now.millis + *lifetime_ms}) : ""};
  Status st = store.write([&](WriteTx& tx) {
    return tx.put_token(TokenRecord{token_hash(issued.token), user, format_utc(now), "", issued.expires_at});
  });
  if (!st) return st.error();
  return issued;
}

Result<std::int64_t> revoke_tokens(Store& store, const Directory& dir, const std::string& user, Timestamp now) {
  if (!dir.find_user(user)) return make_error(ErrorCode::kNotFound, fmt::format("Không có người dùng '{}'", user));
  std::int64_t revoked = 0;
  Status st = store.write([&](WriteTx& tx) -> Status {
    auto n = tx.revoke_tokens(user, format_utc(now));
    if (!n) return n.error();
    revoked = *n;
    return Status::Ok();
  });
  if (!st) return st.error();
  return revoked;
}

Result<UserId> authenticate(Store& store, const Directory& dir, std::string_view authorization, Clock& clock,
                            std::string* token_user) {
  // The scheme's name in any case (RFC 9110 11.1), then one space and the token.
  constexpr std::string_view kBearer = "bearer ";
  const bool bearer = authorization.size() > kBearer.size() &&
                      std::equal(kBearer.begin(), kBearer.end(), authorization.begin(), [](char a, char b) {
                        return a == std::tolower(static_cast<unsigned char>(b));
                      });
  if (!bearer) return denied("no_token", "Cần mã truy cập (Authorization: Bearer ...)");
  auto found = store.token(token_hash(authorization.substr(kBearer.size())));
  if (!found) return found.error();
  if (!found->has_value()) return denied("unknown_token", "Mã truy cập không hợp lệ");
  if (token_user) *token_user = (*found)->user;
  // A user no longer active is told so (their tokens were revoked with it); a revoked token, that it is.
  auto id = dir.find_user((*found)->user);
  if (!id || !dir.user(*id).active) return denied("inactive_user", "Người dùng của mã truy cập không còn hoạt động");
  if (!(*found)->revoked_at.empty()) return denied("revoked_token", "Mã truy cập đã bị thu hồi");
  // UTC texts of one format: their order is the times' order (the clock read only for a token that expires).
  if (const std::string& until = (*found)->expires_at; !until.empty() && format_utc(clock.now()) >= until)
    return denied("expired_token",
                  fmt::format("Mã truy cập đã hết hạn lúc {}; hãy xin mã mới (hoso users token)",
                              views::vietnam_time(until)));
  return *id;
}

}  // namespace hoso::http

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

std::string token_id(const std::string& hash) { return hash.substr(0, 12); }

Result<IssuedToken> issue_token(Store& store, const Directory& dir, const std::string& user, Timestamp now,
                                std::optional<std::int64_t> lifetime_ms) {
  if (auto id = active_user(dir, user); !id) return id.error();
  if (lifetime_ms && *lifetime_ms <= 0)
    return make_error(ErrorCode::kInvalidInput, "Thời hạn của mã truy cập phải lớn hơn 0");
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return make_error(ErrorCode::kInternal, "RAND_bytes failed");
  std::string token = "hoso_";
  for (unsigned char b : bytes) token += fmt::format("{:02x}", b);
  const std::string hash = token_hash(token);
  IssuedToken issued{std::move(token), token_id(hash),
                     lifetime_ms ? format_utc(Timestamp{now.millis + *lifetime_ms}) : ""};
  Status st = store.write([&](WriteTx& tx) {
    return tx.put_token(TokenRecord{hash, user, format_utc(now), "", issued.expires_at});
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

Result<std::vector<TokenRecord>> list_tokens(Store& store, const Directory& dir, const std::string& user) {
  if (!dir.find_user(user))
    return make_error(ErrorCode::kNotFound, fmt::format("Không có người dùng '{}'", user));
  return store.tokens_of(user);
}

Result<TokenRecord> revoke_token(Store& store, const Directory& dir, const std::string& user,
                                 const std::string& id, Timestamp now) {
  if (!dir.find_user(user))
    return make_error(ErrorCode::kNotFound, fmt::format("Không có người dùng '{}'", user));
  const bool hex = std::all_of(id.begin(), id.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c)) || (c >= 'a' && c <= 'f');
  });
  if (!hex || id.size() < 8 || id.size() > 64)
    return make_error(
        ErrorCode::kInvalidInput,
        fmt::format("Mã số '{}' không hợp lệ: cần 8 đến 64 chữ số thập lục phân viết thường, như "
                    "'hoso users tokens {}' liệt kê",
                    id, user));
  std::optional<TokenRecord> found;
  Status st = store.write([&](WriteTx& tx) -> Status {
    auto all = store.tokens_of(user);
    if (!all) return all.error();
    std::vector<TokenRecord> named;
    for (auto& t : *all)
      if (t.hash.starts_with(id)) named.push_back(std::move(t));
    if (named.empty())
      return make_error(ErrorCode::kNotFound,
                        fmt::format("{} không có mã truy cập nào mang mã số '{}'", user, id));
    if (named.size() > 1)
      return make_error(ErrorCode::kInvalidInput,
                        fmt::format("Mã số '{}' ứng với {} mã truy cập của {}; hãy ghi thêm chữ số", id,
                                    named.size(), user));
    if (!named.front().revoked_at.empty()) {
      Error e =
          make_error(ErrorCode::kVersionConflict,
                     fmt::format("Mã truy cập {} của {} đã bị thu hồi lúc {}", token_id(named.front().hash),
                                 user, views::vietnam_time(named.front().revoked_at)));
      e.reason = "token_revoked";
      return e;
    }
    auto revoked = tx.revoke_token(named.front().hash, format_utc(now));
    if (!revoked) return revoked.error();
    if (!*revoked)
      return make_error(ErrorCode::kVersionConflict, fmt::format("Mã truy cập {} vừa bị thu hồi", id));
    found = std::move(named.front());
    return Status::Ok();
  });
  if (!st) return st.error();
  return std::move(*found);
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

// Bearer tokens for the HTTP API: issued per user by `hoso users token`, kept only as their SHA-256,
// revocable. Authenticating a request yields the user it acts as.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/directory.hpp"
#include "engine/result.hpp"
#include "engine/store.hpp"
#include "engine/time.hpp"

namespace hoso::http {

// The stored form of a token: SHA-256 hex of its text.
std::string token_hash(std::string_view token);

// How long a token stays valid unless it is issued with a lifetime of its own: 90 days.
inline constexpr std::int64_t kDefaultTokenLifetimeMs = 90LL * 86'400'000;

// The name a token goes by once issued (its text is never shown again): the first 12 hex digits of its hash,
// which do not let anyone act.
std::string token_id(const std::string& hash);

// A token just issued: its text (shown once, never stored), its id and when it expires (UTC; "" never).
struct IssuedToken {
  std::string token;
  std::string id;
  std::string expires_at;
};

// Issues a new token for `user` (who must exist and be active) valid for `lifetime_ms` from `now` (nullopt:
// until revoked), and stores its hash.
Result<IssuedToken> issue_token(Store& store, const Directory& dir, const std::string& user, Timestamp now,
                                std::optional<std::int64_t> lifetime_ms = kDefaultTokenLifetimeMs);

// Revokes every valid token of `user`; returns how many.
Result<std::int64_t> revoke_tokens(Store& store, const Directory& dir, const std::string& user, Timestamp now);

// The tokens of `user` (who must be in the directory), oldest first, revoked and expired ones included.
Result<std::vector<TokenRecord>> list_tokens(Store& store, const Directory& dir, const std::string& user);

// Revokes the one token of `user` whose id begins with `id` (8 to 64 hex digits) and returns it as it was.
// Fails with kInvalidInput when `id` is no such text or names more than one of the user's tokens, kNotFound
// when it names none, kVersionConflict (reason token_revoked) when that token was revoked already.
Result<TokenRecord> revoke_token(Store& store, const Directory& dir, const std::string& user,
                                 const std::string& id, Timestamp now);

// The user an `Authorization: Bearer <token>` header names, at `clock`'s time, as `dir` has them (the caller
// makes sure it is the stored one: App::refresh). Fails with kNotPermitted and a reason: "no_token" (no or
// malformed header), "unknown_token", "revoked_token", "expired_token" (from its expiry time on),
// "inactive_user". When the token is known (refused or not), `token_user` (if given) is set to the user it
// was issued to, for the log of a denied attempt.
Result<UserId> authenticate(Store& store, const Directory& dir, std::string_view authorization, Clock& clock,
                            std::string* token_user = nullptr);

}  // namespace hoso::http

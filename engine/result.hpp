// Errors as values across layer boundaries (after LevelDB's Status).
#pragma once
#include <string>
#include <utility>
#include <variant>

namespace hoso {

// Every failure the product can report. Each maps to one documented CLI exit code and HTTP status.
enum class ErrorCode {
  kInvalidInput,       // malformed value, unknown field/award, non-UTF-8 text, oversize input
  kNotFound,           // no such dossier, user, workflow, definition
  kNotPermitted,       // actor lacks the role or the org relation
  kRefused,            // a rule refused it: guard, missing document, wrong state, dossier closed
  kVersionConflict,    // the command carried a stale version
  kInvalidDefinition,  // workflow or config does not validate
  kVerifyFailed,       // replay or hash chain does not verify
  kInternal,           // I/O, database, invariant broken
};

const char* error_code_name(ErrorCode code);

// A failure: a code plus a message meant for the person reading it (Vietnamese for clerks).
struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  std::string reason;   // optional stable machine-readable reason, e.g. "guard_failed"
  std::string subject;  // optional: the clause, document, field or state concerned
};

// Either a value or an Error.
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// Success or an Error.
class Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT(google-explicit-constructor)
  static Status Ok() { return {}; }
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

inline Error make_error(ErrorCode code, std::string message) {
  return Error{code, std::move(message), {}, {}};
}

}  // namespace hoso

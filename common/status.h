// Status and Result<T>: how errors travel across module boundaries.
//
// Exceptions never cross a module boundary in attestd. A function that can
// fail returns a Status (no value) or a Result<T> (a value or a Status). The
// api layer maps StatusCode to an HTTP status; nothing below it knows HTTP.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace attestd {

enum class StatusCode {
  kOk,
  kInvalidArgument,       // the caller's input is malformed (HTTP 400)
  kNotFound,              // no such object, or it expired (404)
  kConflict,              // the object is not in a state that allows this (409)
  kPermissionDenied,      // authenticated but not allowed (403)
  kUnauthenticated,       // missing or bad credentials (401)
  kUnsupportedMediaType,  // no verifier for this evidence type (415)
  kTooLarge,              // input exceeds a configured bound (413)
  kResourceExhausted,     // rate limited (429)
  kUnavailable,           // a dependency (the store) is down; retry later (503)
  kInternal,              // a bug or an unexpected dependency answer (500)
};

const char* StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) {
  return {StatusCode::kInvalidArgument, std::move(m)};
}
inline Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status Conflict(std::string m) { return {StatusCode::kConflict, std::move(m)}; }
inline Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

// A value of type T, or the Status that says why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}  // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T& value() & { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

  // The error; Status::Ok() when a value is present.
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace attestd

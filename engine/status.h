// Errors as values. Every fallible engine call returns Result<T>; "absent" is std::optional.
//
// The kind says how a caller should react (STYLE.md "retry classes"):
//   fatal       kCorruption, kInternal          stop, tell the operator
//   back off    kBusy, kStorageFull, kUnavailable  retry later, nothing was changed
//   reconnect   kPeerGone                        resume the session
//   refuse      kInvalidInput, kNotFound, kConflict, kIncompatible, kUnauthorized, kProtocol
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace rollcall {

enum class ErrorKind {
  kInvalidInput,   // bad input from a user, a file or a peer
  kNotFound,       // a named thing does not exist
  kConflict,       // contradicts what is stored (duplicate request with other content, fork)
  kIncompatible,   // protocol or format version we cannot speak
  kUnauthorized,   // the peer may not do this
  kProtocol,       // a peer broke the protocol (gap, unexpected message)
  kBusy,           // try again shortly
  kStorageFull,    // below the free-space reserve
  kUnavailable,    // cannot serve now (shutting down, recovering, locked)
  kPeerGone,       // the connection closed
  kIo,             // the operating system refused (open, read, write)
  kCorruption,     // stored data is not what we wrote
  kInternal,       // a bug in our code
};

const char* error_kind_name(ErrorKind kind);

class Error {
 public:
  Error(ErrorKind kind, std::string message) : kind_(kind), message_(std::move(message)) {}

  ErrorKind kind() const { return kind_; }
  const std::string& message() const { return message_; }
  // "kind: message", for logs.
  std::string to_string() const;

  // True when retrying the same call later may succeed.
  bool retryable() const {
    return kind_ == ErrorKind::kBusy || kind_ == ErrorKind::kStorageFull ||
           kind_ == ErrorKind::kUnavailable || kind_ == ErrorKind::kPeerGone;
  }

 private:
  ErrorKind kind_;
  std::string message_;
};

inline Error invalid_input(std::string message) {
  return Error(ErrorKind::kInvalidInput, std::move(message));
}

// A value or an Error. Accessing the wrong side is a bug in our code (asserted).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const {
    assert(!ok());
    return std::get<1>(v_);
  }

 private:
  std::variant<T, Error> v_;
};

// Result<void>: success carries nothing.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const {
    assert(!ok_);
    return error_;
  }

 private:
  Error error_{ErrorKind::kInternal, ""};
  bool ok_ = true;
};

using Status = Result<void>;

inline Status ok_status() { return Status(); }

}  // namespace rollcall

// Propagates an error: ROLLCALL_TRY(s) returns s's error from the enclosing function.
#define ROLLCALL_TRY(expr)                        \
  do {                                            \
    auto rollcall_try_result_ = (expr);           \
    if (!rollcall_try_result_.ok())               \
      return rollcall_try_result_.error();        \
  } while (false)

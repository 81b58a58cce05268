// The one place where Cap'n Proto's exceptions (kj::Exception) become rollcall Errors.
//
// Cap'n Proto validates messages lazily: a malformed pointer throws when it is first followed.
// Every read of a message that came from outside (wire, disk, JSON) runs inside guard_capnp, so
// bad input becomes an ErrorKind::kInvalidInput naming the context and never a crash.
#pragma once

#include <string>
#include <type_traits>
#include <utility>

#include <kj/exception.h>

#include "engine/status.h"

namespace rollcall {

namespace detail {
template <typename T>
struct AsResult {
  using type = Result<T>;
};
template <typename T>
struct AsResult<Result<T>> {
  using type = Result<T>;
};
template <>
struct AsResult<void> {
  using type = Status;
};
}  // namespace detail

// Runs fn(); a kj::Exception becomes Error(kind, context + ": " + description).
// fn returns void, a plain value T or a Result<T>; guard_capnp returns Status or Result<T>.
template <typename Fn>
auto guard_capnp(const std::string& context, Fn&& fn,
                 ErrorKind kind = ErrorKind::kInvalidInput) {
  using R = std::invoke_result_t<Fn>;
  using Out = typename detail::AsResult<R>::type;
  try {
    if constexpr (std::is_void_v<R>) {
      fn();
      return Out();
    } else {
      return Out(fn());
    }
  } catch (const kj::Exception& e) {
    return Out(Error(kind, context + ": " + std::string(e.getDescription().cStr())));
  }
}

}  // namespace rollcall

// Result<T>: errors as values in the protocol core.
//
// Layer: protocol/core. The one alias every core API returns through. It is tl::expected
// (Debian libexpected-dev) under C++20 and std::expected once the library has it, so moving to
// C++23 changes nothing. Code uses only the common subset: has_value, operator bool, *, ->,
// value(), error(), and lancet::unexpected; no and_then/transform.
#pragma once

#if defined(__cpp_lib_expected)
#include <expected>
#else
#include <tl/expected.hpp>
#endif

#include "protocol/core/error.hpp"

namespace lancet {

#if defined(__cpp_lib_expected)
template <class T>
using Result = std::expected<T, Error>;
using unexpected = std::unexpected<Error>;
#else
template <class T>
using Result = tl::expected<T, Error>;
using unexpected = tl::unexpected<Error>;
#endif

/// Success value for Result<void>.
inline Result<void> ok() noexcept { return {}; }

}  // namespace lancet

/// Propagates the error of a Result-returning expression, in the spirit of abseil's
/// RETURN_IF_ERROR. The only control-flow macro in the project.
#define LANCET_TRY(expr)                                        \
  do {                                                          \
    auto&& lancet_try_result_ = (expr);                         \
    if (!lancet_try_result_) {                                  \
      return ::lancet::unexpected(lancet_try_result_.error());  \
    }                                                           \
  } while (0)

/// Checks one of our own invariants (never peer input): on in debug, sanitizer and fuzz builds.
#if defined(LANCET_ENABLE_ASSERT) || !defined(NDEBUG)
#include <cstdlib>
#define LANCET_ASSERT(cond, why) \
  do {                           \
    if (!(cond)) {               \
      __builtin_trap();          \
    }                            \
  } while (0)
#else
#define LANCET_ASSERT(cond, why) ((void)0)
#endif

// Size arithmetic that cannot overflow silently. Every size that comes from outside (a file, a
// flag, a request) and is multiplied or added on its way to an allocation goes through here:
// a product that does not fit is an attnscope::Error naming what was being computed, never a
// wrapped number that allocates too little and is then written past.
#pragma once

#include <cstdint>
#include <limits>
#include <string_view>

#include "core/error.h"

namespace attnscope {

// The largest element count any tensor may have: its bytes (≤ 8 per element, fp64 included,
// plus alignment) must still fit in int64_t.
inline constexpr int64_t kMaxElements = std::numeric_limits<int64_t>::max() / 16;

// a · b for a, b ≥ 0, or false when it does not fit in int64_t.
inline bool mul_fits(int64_t a, int64_t b, int64_t& out) {
  return !__builtin_mul_overflow(a, b, &out);
}
inline bool add_fits(int64_t a, int64_t b, int64_t& out) {
  return !__builtin_add_overflow(a, b, &out);
}

// a · b, or an Error "<what>: a × b does not fit in 64 bits".
inline int64_t checked_mul(int64_t a, int64_t b, std::string_view what) {
  int64_t out = 0;
  if (!mul_fits(a, b, out)) fail("{}: {} × {} does not fit in 64 bits", what, a, b);
  return out;
}
inline int64_t checked_add(int64_t a, int64_t b, std::string_view what) {
  int64_t out = 0;
  if (!add_fits(a, b, out)) fail("{}: {} + {} does not fit in 64 bits", what, a, b);
  return out;
}

// The product of `dims` (each ≥ 0), checked: the product of the non-zero dimensions must be at
// most kMaxElements even when another dimension is 0, so that a shape such as [0, 2^40, 2^40]
// (0 elements, but no program could ever fill it) is refused like its non-empty twin. False
// when a dimension is negative or the product is too large.
template <typename Dims>
bool checked_numel(const Dims& dims, int64_t& numel) {
  int64_t nonzero = 1;
  bool has_zero = false;
  for (const auto d : dims) {
    const auto dim = static_cast<int64_t>(d);
    if (dim < 0) return false;
    if (dim == 0) {
      has_zero = true;
      continue;
    }
    if (!mul_fits(nonzero, dim, nonzero) || nonzero > kMaxElements) return false;
  }
  numel = has_zero ? 0 : nonzero;
  return true;
}

}  // namespace attnscope

// The largest of n floats, written so that every compiler vectorizes it without a reduction
// pragma: 16 independent running maxima (one AVX-512 register, two AVX2 ones) over blocks of 16,
// then one pass over the 16. `#pragma omp simd reduction(max : m)` over std::max is not
// recognised as a reduction by clang 14 (a NaN-aware select), which then fails the pragma's
// request with -Wpass-failed. NaN values are skipped, as std::max(m, x) skips them; the result
// of n == 0 is −∞.
#pragma once

#include <cstdint>
#include <limits>

namespace attnscope::cpu {

inline float row_max(const float* x, int64_t n) {
  constexpr int64_t kLanes = 16;
  float lanes[kLanes];
  for (int64_t k = 0; k < kLanes; ++k) lanes[k] = -std::numeric_limits<float>::infinity();
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes)
    for (int64_t k = 0; k < kLanes; ++k) lanes[k] = x[j + k] > lanes[k] ? x[j + k] : lanes[k];
  for (int64_t k = 0; j + k < n; ++k) lanes[k] = x[j + k] > lanes[k] ? x[j + k] : lanes[k];
  float m = lanes[0];
  for (int64_t k = 1; k < kLanes; ++k) m = lanes[k] > m ? lanes[k] : m;
  return m;
}

}  // namespace attnscope::cpu

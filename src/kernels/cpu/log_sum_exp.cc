// row_log_sum_exp (log_sum_exp.h), compiled by Highway's foreach_target.h for every x86 target it
// builds here and dispatched to the best this CPU runs, so it is built for the baseline x86-64.
// Decoding calls it once per row and step over the whole vocabulary: as a plain loop the compiler
// vectorised the exponentials 8 lanes wide; here they are 16 with AVX-512.
// clang-format off
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/log_sum_exp.cc"
#include <hwy/foreach_target.h>  // must come before highway.h
#include <hwy/highway.h>
// clang-format on

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/cpu/fast_exp.h"
#include "kernels/cpu/fast_exp_simd.h"
#include "kernels/cpu/log_sum_exp.h"

HWY_BEFORE_NAMESPACE();
namespace attnscope::cpu {
namespace HWY_NAMESPACE {

namespace hn = hwy::HWY_NAMESPACE;

float RowLogSumExp(const float* x, int64_t n) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  const auto N = static_cast<int64_t>(hn::Lanes(d));
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  V m0 = hn::Set(d, kNegInf), m1 = m0;
  int64_t j = 0;
  for (; j + 2 * N <= n; j += 2 * N) {
    m0 = hn::Max(hn::LoadU(d, x + j), m0);
    m1 = hn::Max(hn::LoadU(d, x + j + N), m1);
  }
  for (; j + N <= n; j += N) m0 = hn::Max(hn::LoadU(d, x + j), m0);
  float m = hn::GetLane(hn::MaxOfLanes(d, hn::Max(m0, m1)));
  for (; j < n; ++j) m = x[j] > m ? x[j] : m;
  if (m == kNegInf) return kNegInf;  // Σ e^x = 0
  // Σ e^(x − m) in float per block of 1,024 (two accumulators so the adds overlap), in double
  // across blocks.
  const V vm = hn::Set(d, m);
  constexpr int64_t kBlock = 1024;
  double sum = 0;
  for (int64_t j0 = 0; j0 < n; j0 += kBlock) {
    const int64_t j1 = std::min(n, j0 + kBlock);
    V s0 = hn::Zero(d), s1 = hn::Zero(d);
    int64_t k = j0;
    for (; k + 2 * N <= j1; k += 2 * N) {
      s0 = hn::Add(s0, FastExp(d, hn::Sub(hn::LoadU(d, x + k), vm)));
      s1 = hn::Add(s1, FastExp(d, hn::Sub(hn::LoadU(d, x + k + N), vm)));
    }
    for (; k + N <= j1; k += N) s0 = hn::Add(s0, FastExp(d, hn::Sub(hn::LoadU(d, x + k), vm)));
    float block = hn::GetLane(hn::SumOfLanes(d, hn::Add(s0, s1)));
    for (; k < j1; ++k) block += fast_exp(x[k] - m);
    sum += static_cast<double>(block);
  }
  return m + static_cast<float>(std::log(sum));
}

}  // namespace HWY_NAMESPACE
}  // namespace attnscope::cpu
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace attnscope::cpu {

HWY_EXPORT(RowLogSumExp);

float row_log_sum_exp(const float* x, int64_t n) {
  return HWY_DYNAMIC_DISPATCH(RowLogSumExp)(x, n);
}

}  // namespace attnscope::cpu
#endif  // HWY_ONCE

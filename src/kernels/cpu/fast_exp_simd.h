// fast_exp (fast_exp.h) on a Highway vector: the same method and constants, so −∞ gives exactly 0
// and each lane equals the scalar function's float. For the kernels that Highway compiles once per
// instruction set (foreach_target.h): include it after hwy/highway.h, and it is compiled again for
// each target (Highway's per-target include guard, not #pragma once).
#if defined(ATTNSCOPE_KERNELS_CPU_FAST_EXP_SIMD_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef ATTNSCOPE_KERNELS_CPU_FAST_EXP_SIMD_H_
#undef ATTNSCOPE_KERNELS_CPU_FAST_EXP_SIMD_H_
#else
#define ATTNSCOPE_KERNELS_CPU_FAST_EXP_SIMD_H_
#endif

#include <hwy/highway.h>

#include "kernels/cpu/fast_exp.h"

HWY_BEFORE_NAMESPACE();
namespace attnscope::cpu {
namespace HWY_NAMESPACE {

template <class D, class V = hwy::HWY_NAMESPACE::Vec<D>>
HWY_INLINE V FastExp(D d, V x) {
  namespace hn = hwy::HWY_NAMESPACE;
  using namespace fast_exp_constants;
  const hn::RebindToSigned<D> di;
  const auto underflow = hn::Lt(x, hn::Set(d, kLo));
  x = hn::Min(hn::Max(x, hn::Set(d, kLo)), hn::Set(d, kHi));
  const V t = hn::MulAdd(x, hn::Set(d, kLog2e), hn::Set(d, kShifter));
  const V n = hn::Sub(t, hn::Set(d, kShifter));
  const V r = hn::NegMulAdd(n, hn::Set(d, kLn2Lo), hn::NegMulAdd(n, hn::Set(d, kLn2Hi), x));
  V p = hn::Set(d, kPoly[0]);
  for (int i = 1; i < 6; ++i) p = hn::MulAdd(p, r, hn::Set(d, kPoly[i]));
  p = hn::MulAdd(p, hn::Mul(r, r), hn::Add(r, hn::Set(d, 1.0f)));
  const auto exponent = hn::ShiftLeft<23>(
      hn::Add(hn::Sub(hn::BitCast(di, t), hn::Set(di, kShifterBits)), hn::Set(di, 127)));
  return hn::IfThenZeroElse(underflow, hn::Mul(p, hn::BitCast(d, exponent)));
}

}  // namespace HWY_NAMESPACE
}  // namespace attnscope::cpu
HWY_AFTER_NAMESPACE();

#endif  // ATTNSCOPE_KERNELS_CPU_FAST_EXP_SIMD_H_

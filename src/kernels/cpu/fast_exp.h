// e^x in float that the compiler can vectorise: the softmax, attention and cross-entropy
// kernels spend most of their non-GEMM time in exp, and glibc's expf is a scalar call (its
// vector variants need -ffast-math, which we do not build with). Inlined into a loop marked
// `#pragma omp simd`, this becomes 8 (AVX2) or 16 (AVX-512) lanes with no call.
//
// Method (Cephes expf): x = n·ln2 + r with n = round(x / ln2) and |r| ≤ ln2 / 2 (ln2 split in
// two parts so r keeps its low bits), e^r by a degree-7 polynomial, 2^n put straight into the
// exponent bits. Relative error ≤ 2 ulp (about 1.2e-7) for x in [−87.3, 88.37], checked against
// double exp in tests/kernels_fast_exp_test.cc. The kernels only call it with x ≤ 0 (a score
// minus the row's maximum), far from both ends.
//
// Edges: x < −87.3365 (below the smallest normal float) gives exactly 0, so a −∞ score (a masked
// key) gives weight exactly 0 as std::exp would; x > 88.376 gives e^88.376 ≈ 2.4e38, never +∞. NaN
// input gives an unspecified value: the kernels never pass one (a NaN score is a bug upstream, and
// the tests would see it in the outputs).
#pragma once

#include <bit>
#include <cstdint>

namespace attnscope::cpu {

// The constants of the method, shared with the SIMD kernels' vector form (attention_tiles.cc).
namespace fast_exp_constants {
constexpr float kLo = -87.33654f;        // ln(smallest normal float)
constexpr float kHi = 88.3762626f;       // 127.5·ln2: n stays ≤ 127, 2^n a finite float
constexpr float kShifter = 12582912.0f;  // 1.5·2^23: adding it rounds to an integer
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;  // ln2 in two parts
constexpr float kPoly[6] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f,
                            4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f};
constexpr int32_t kShifterBits = 0x4B400000;  // the bits of kShifter
}  // namespace fast_exp_constants

inline float fast_exp(float x) {
  using namespace fast_exp_constants;
  const bool underflow = x < kLo;
  x = underflow ? kLo : x;
  x = x > kHi ? kHi : x;
  // Adding 1.5·2^23 rounds x/ln2 to an integer held in the low mantissa bits of t.
  const float t = x * kLog2e + kShifter;
  const float n = t - kShifter;
  const float r = (x - n * kLn2Hi) - n * kLn2Lo;  // x − n·ln2
  float p = kPoly[0];
  for (int i = 1; i < 6; ++i) p = p * r + kPoly[i];
  p = p * (r * r) + (r + 1.0f);  // e^r
  // 2^n: n + 127 in the exponent field (n is the integer in t's low bits).
  const int32_t scale_bits = (std::bit_cast<int32_t>(t) - kShifterBits + 127) << 23;
  const float y = p * std::bit_cast<float>(scale_bits);
  return underflow ? 0.0f : y;
}

}  // namespace attnscope::cpu

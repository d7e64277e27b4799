// Reference reduced-precision products: plain loops over unpacked weights, the contract of
// kernels/cpu/quantized_linear.h.
//
//   bf16  y = Σ_k bf16(x[r, k]) · bf16(W[c, k]) + b[c]: both operands rounded to bfloat16 (round
//         to nearest even), products exact in fp32, summed in double here.
//   int8  W quantized per output channel (symmetric: scale_w[c] = max_k |W[c, k]| / 127,
//         q = round(W / scale_w) in [−127, 127]) and x per row, dynamically (the same rule);
//         y = scale_x[r] · scale_w[c] · Σ_k qx · qw + b[c], the sum exact in integers.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace attnscope::ref {

// fp32 → bfloat16 bits, round to nearest even (a NaN stays a quiet NaN).
inline uint16_t bf16_round(float v) {
  uint32_t u = 0;
  std::memcpy(&u, &v, sizeof(u));
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

inline float bf16_to_float(uint16_t h) {
  const uint32_t u = static_cast<uint32_t>(h) << 16;
  float v = 0;
  std::memcpy(&v, &u, sizeof(v));
  return v;
}

// The symmetric int8 scale of n values: max |v| / 127 (1 for an all-zero row, so q = 0).
inline float int8_scale(const float* v, int64_t n) {
  float m = 0.0f;
  for (int64_t i = 0; i < n; ++i) m = std::max(m, std::fabs(v[i]));
  return m > 0.0f ? m / 127.0f : 1.0f;
}

// q[i] = round(v[i] / scale), clamped to [−127, 127], round half to even. |v / scale| ≤ 127 (up
// to rounding), so adding and taking away 1.5·2²³ rounds it exactly as nearbyint would, without a
// libm call on a baseline x86-64 build.
inline int32_t int8_round(float v, float inv_scale) {
  constexpr float kRound = 12582912.0f;  // 1.5 · 2^23
  const float c = std::clamp(v * inv_scale, -127.0f, 127.0f);
  return static_cast<int32_t>((c + kRound) - kRound);
}

inline void int8_quantize(const float* v, int64_t n, float scale, int8_t* q) {
  const float inv = 1.0f / scale;
  for (int64_t i = 0; i < n; ++i) q[i] = static_cast<int8_t>(int8_round(v[i], inv));
}

// y[N, out] = bf16(x) · bf16(W)ᵀ + b, W [out, in], b [out] or null.
inline void bf16_linear_forward(const float* x, const float* W, const float* b, float* y, int64_t N,
                                int64_t in, int64_t out) {
  for (int64_t r = 0; r < N; ++r)
    for (int64_t c = 0; c < out; ++c) {
      double acc = b != nullptr ? b[c] : 0.0;
      for (int64_t k = 0; k < in; ++k)
        acc += static_cast<double>(bf16_to_float(bf16_round(x[r * in + k]))) *
               static_cast<double>(bf16_to_float(bf16_round(W[c * in + k])));
      y[r * out + c] = static_cast<float>(acc);
    }
}

// y[N, out] = int8 product of x and W (per-row and per-channel scales) + b.
inline void int8_linear_forward(const float* x, const float* W, const float* b, float* y, int64_t N,
                                int64_t in, int64_t out) {
  std::vector<int8_t> qx(static_cast<size_t>(in)), qw(static_cast<size_t>(out * in));
  std::vector<float> sw(static_cast<size_t>(out));
  for (int64_t c = 0; c < out; ++c) {
    sw[c] = int8_scale(W + c * in, in);
    int8_quantize(W + c * in, in, sw[c], qw.data() + c * in);
  }
  for (int64_t r = 0; r < N; ++r) {
    const float sx = int8_scale(x + r * in, in);
    int8_quantize(x + r * in, in, sx, qx.data());
    for (int64_t c = 0; c < out; ++c) {
      int64_t dot = 0;
      for (int64_t k = 0; k < in; ++k) dot += int64_t{qx[k]} * int64_t{qw[c * in + k]};
      y[r * out + c] = static_cast<float>(static_cast<double>(sx) * static_cast<double>(sw[c]) *
                                              static_cast<double>(dot) +
                                          (b != nullptr ? static_cast<double>(b[c]) : 0.0));
    }
  }
}

}  // namespace attnscope::ref

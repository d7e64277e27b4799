// Sinusoidal positional encoding, computed in double and stored as float.
#include "kernels/cpu/positional_encoding.h"

#include <cmath>

#include "core/error.h"

namespace attnscope::cpu {

void positional_encoding(float* pe, int64_t T, int64_t d, PositionLayout layout) {
  ATTN_CHECK(T >= 0 && d >= 0, "positional_encoding: negative shape [{}, {}]", T, d);
  const double log_base = std::log(10000.0);
  const int64_t half = (d + 1) / 2;  // halves: columns of the sine half
#pragma omp parallel for schedule(static) if (T * d > (1 << 15))
  for (int64_t pos = 0; pos < T; ++pos) {
    float* row = pe + pos * d;  // pe [T, d]
    if (layout == PositionLayout::kInterleaved) {
      for (int64_t c = 0; c < d; c += 2) {
        // 1 / 10000^(2i/d) with 2i = c
        const double angle = static_cast<double>(pos) *
                             std::exp(-log_base * static_cast<double>(c) / static_cast<double>(d));
        row[c] = static_cast<float>(std::sin(angle));
        if (c + 1 < d) row[c + 1] = static_cast<float>(std::cos(angle));
      }
      continue;
    }
    // As Hugging Face computes the angle: pos / 10000^(2i/d), in float64.
    for (int64_t i = 0; i < half; ++i) {
      const double angle = static_cast<double>(pos) /
                           std::pow(10000.0, 2.0 * static_cast<double>(i) / static_cast<double>(d));
      row[i] = static_cast<float>(std::sin(angle));
      if (half + i < d) row[half + i] = static_cast<float>(std::cos(angle));
    }
  }
}

void add_positional_encoding(float* x, const float* pe, int64_t B, int64_t T, int64_t d) {
  ATTN_CHECK(B >= 0 && T >= 0 && d >= 0, "add_positional_encoding: negative shape");
#pragma omp parallel for collapse(2) schedule(static) if (B * T * d > (1 << 15))
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t t = 0; t < T; ++t) {
      float* xr = x + (b * T + t) * d;  // x [B, T, d]
      const float* pr = pe + t * d;     // pe [T, d]
      for (int64_t c = 0; c < d; ++c) xr[c] += pr[c];
    }
  }
}

void add_positional_encoding_backward(const float* dx, float* d_pe, int64_t B, int64_t T,
                                      int64_t d) {
  ATTN_CHECK(B >= 0 && T >= 0 && d >= 0, "add_positional_encoding_backward: negative shape");
  // Parallel over positions: each thread owns its rows of d_pe, so the sum over b needs no lock.
#pragma omp parallel for schedule(static) if (B * T * d > (1 << 15))
  for (int64_t t = 0; t < T; ++t) {
    float* g = d_pe + t * d;  // d_pe [T, d]
    for (int64_t b = 0; b < B; ++b) {
      const float* xr = dx + (b * T + t) * d;  // dx [B, T, d]
      for (int64_t c = 0; c < d; ++c) g[c] += xr[c];
    }
  }
}

}  // namespace attnscope::cpu

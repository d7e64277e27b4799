// Reference sinusoidal positional encoding (kernels/cpu/positional_encoding.h), the closed form
// of both layouts, and the broadcast add with its gradient.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/cpu/positional_encoding.h"

namespace attnscope::ref {

// Interleaved: PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(pos / 10000^(2i/d)).
// Halves: PE[pos, i] = sin(pos / 10000^(2i/d)) (i < h = ⌈d/2⌉), PE[pos, h+i] = cos(same).
template <typename T>
T positional_encoding_at(int64_t pos, int64_t col, int64_t d,
                         cpu::PositionLayout layout = cpu::PositionLayout::kInterleaved) {
  int64_t i = col / 2;
  bool sine = col % 2 == 0;
  if (layout == cpu::PositionLayout::kHalves) {
    const int64_t h = (d + 1) / 2;
    sine = col < h;
    i = sine ? col : col - h;
  }
  const double angle = static_cast<double>(pos) /
                       std::pow(10000.0, static_cast<double>(2 * i) / static_cast<double>(d));
  return static_cast<T>(sine ? std::sin(angle) : std::cos(angle));
}

template <typename T>
void positional_encoding(T* pe, int64_t T_len, int64_t d,
                         cpu::PositionLayout layout = cpu::PositionLayout::kInterleaved) {
  for (int64_t t = 0; t < T_len; ++t)
    for (int64_t c = 0; c < d; ++c) pe[t * d + c] = positional_encoding_at<T>(t, c, d, layout);
}

template <typename T>
void add_positional_encoding(T* x, const T* pe, int64_t B, int64_t T_len, int64_t d) {
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T_len; ++t)
      for (int64_t c = 0; c < d; ++c) x[(b * T_len + t) * d + c] += pe[t * d + c];
}

// d_pe[T, d] += Σ_b dx[b, T, d]
template <typename T>
void add_positional_encoding_backward(const T* dx, T* d_pe, int64_t B, int64_t T_len, int64_t d) {
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T_len; ++t)
      for (int64_t c = 0; c < d; ++c) d_pe[t * d + c] += dx[(b * T_len + t) * d + c];
}

}  // namespace attnscope::ref

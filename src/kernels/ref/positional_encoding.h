// Reference sinusoidal positional encoding (kernels/cpu/positional_encoding.h), the closed form.
#pragma once

#include <cmath>
#include <cstdint>

namespace attnscope::ref {

// PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(pos / 10000^(2i/d)).
template <typename T>
T positional_encoding_at(int64_t pos, int64_t col, int64_t d) {
  const int64_t two_i = col - col % 2;
  const double angle = static_cast<double>(pos) /
                       std::pow(10000.0, static_cast<double>(two_i) / static_cast<double>(d));
  return static_cast<T>(col % 2 == 0 ? std::sin(angle) : std::cos(angle));
}

template <typename T>
void positional_encoding(T* pe, int64_t T_len, int64_t d) {
  for (int64_t t = 0; t < T_len; ++t)
    for (int64_t c = 0; c < d; ++c) pe[t * d + c] = positional_encoding_at<T>(t, c, d);
}

template <typename T>
void add_positional_encoding(T* x, const T* pe, int64_t B, int64_t T_len, int64_t d) {
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T_len; ++t)
      for (int64_t c = 0; c < d; ++c) x[(b * T_len + t) * d + c] += pe[t * d + c];
}

}  // namespace attnscope::ref

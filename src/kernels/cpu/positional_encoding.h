// Sinusoidal positional encoding of "Attention Is All You Need":
// PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(pos / 10000^(2i/d)).
#pragma once

#include <cstdint>

namespace attnscope::cpu {

// pe[T, d] (d may be odd: the last even column has no cosine partner).
void positional_encoding(float* pe, int64_t T, int64_t d);
// x[B, T, d] += pe[T, d] (broadcast over the batch). Its gradient is the identity.
void add_positional_encoding(float* x, const float* pe, int64_t B, int64_t T, int64_t d);

}  // namespace attnscope::cpu

// Sinusoidal positional encoding, in the two layouts models use:
//   interleaved (the paper's, attnscope's own models):
//     PE[pos, 2i] = sin(pos / 10000^(2i/d)),  PE[pos, 2i+1] = cos(pos / 10000^(2i/d))
//   halves (Hugging Face Marian, MarianSinusoidalPositionalEmbedding):
//     PE[pos, i] = sin(pos / 10000^(2i/d)) for i < h = ⌈d/2⌉,
//     PE[pos, h+i] = cos(pos / 10000^(2i/d)) for i < ⌊d/2⌋
// Both are computed in double and stored as float.
#pragma once

#include <cstdint>

namespace attnscope::cpu {

enum class PositionLayout { kInterleaved, kHalves };

// pe[T, d] (d may be odd: interleaved, the last even column has no cosine partner; halves, the
// sine half has one column more).
void positional_encoding(float* pe, int64_t T, int64_t d,
                         PositionLayout layout = PositionLayout::kInterleaved);
// x[B, T, d] += pe[T, d] (broadcast over the batch). Its gradient is the identity.
void add_positional_encoding(float* x, const float* pe, int64_t B, int64_t T, int64_t d);
// d_pe[T, d] += Σ_b dx[b, T, d]: the gradient of a position table that is a parameter.
void add_positional_encoding_backward(const float* dx, float* d_pe, int64_t B, int64_t T,
                                      int64_t d);

}  // namespace attnscope::cpu

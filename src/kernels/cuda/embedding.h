// Token embedding on the device: out [n, dim] = scale · table [ids[i], :] + PE(position_i, :),
// with the sinusoidal positions of either model family:
//   - kInterleaved (attnscope, "Attention Is All You Need"): PE[p, 2i] = sin(p / 10000^(2i/d)),
//     PE[p, 2i+1] = cos(p / 10000^(2i/d)) (cpu/positional_encoding.h);
//   - kHalfSplit (Hugging Face Marian / OPUS-MT): the sines in the first ⌈d/2⌉ columns and the
//     cosines after them: PE[p, c] = sin(p / 10000^(2c/d)) for c < ⌈d/2⌉, and
//     PE[p, ⌈d/2⌉ + j] = cos(p / 10000^(2j/d)).
// Angles and sines are computed in double (as the CPU does) and rounded once.
// Row i is at position pos_offset + i % seq_len: a [B, T] batch has seq_len T and offset 0; a
// decoder step feeding one token per row has seq_len 1 and offset = the step.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/dtype.h"

namespace attnscope::cuda {

enum class PositionLayout { kNone, kInterleaved, kHalfSplit };

struct EmbeddingArgs {
  const int32_t* ids = nullptr;  // [n] token ids, on the device
  int64_t n = 0;
  const void* table = nullptr;  // [vocab, dim]
  DType table_type = DType::kF32;
  int64_t vocab = 0, dim = 0;
  void* out = nullptr;  // [n, dim]
  DType out_type = DType::kF32;
  float scale = 1.0f;  // √d_model when the model scales its embeddings
  PositionLayout positions = PositionLayout::kNone;
  int64_t seq_len = 1;
  int64_t pos_offset = 0;
  // Ids outside [0, vocab) give a zero row, and the smallest such row index is min-ed into
  // *bad_row (a device int the caller set to INT32_MAX), when given. The host checks the ids it
  // uploads; ids the device's own top-k makes are always in range.
  int32_t* bad_row = nullptr;
};

void embedding_forward(const EmbeddingArgs& a, cudaStream_t stream);

}  // namespace attnscope::cuda

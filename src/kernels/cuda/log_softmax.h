// The next-token step of decoding on the device, over logits [rows, V]:
//   log_softmax:       out [rows, V] = logits − logsumexp(row)  (fp32, accurate exp/log)
//   log_softmax_topk:  per row, the k best tokens of offset[row] + log_softmax(logits)[row, v],
//                      best first, ties to the smaller token id, skipping up to 4 banned ids
//                      (pad, bos; they still count in the normalisation). One pass over the row:
//                      the logsumexp is accumulated online while each thread keeps its own k
//                      best, then k block-wide arg-max rounds merge them. offset is the beam's
//                      running log-probability, so the result is what beam search ranks.
// k ≤ 32 (2 · beam for beams up to 16). Rows with fewer than k selectable finite logits get id
// −1 and value −∞ in the remaining slots.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/dtype.h"

namespace attnscope::cuda {

void log_softmax(DType type, const void* logits, int64_t rows, int64_t V, float* out,
                 cudaStream_t stream);

struct TopKArgs {
  int64_t rows = 0, V = 0;
  DType type = DType::kF32;
  const void* logits = nullptr;   // [rows, V]
  const float* offset = nullptr;  // [rows] added to every log-probability of the row, or null
  int k = 1;                      // 1 ≤ k ≤ 32
  int32_t banned[4] = {-1, -1, -1, -1};  // ids never selected (−1: unused slot)
  float* values = nullptr;               // [rows, k] offset + log p, descending
  int32_t* ids = nullptr;                // [rows, k]
};

constexpr int kMaxTopK = 32;

void log_softmax_topk(const TopKArgs& a, cudaStream_t stream);

}  // namespace attnscope::cuda

// Label-smoothed cross-entropy over logits, ignoring a pad target (PyTorch F.cross_entropy with
// ignore_index and label_smoothing): per token, loss = (1 − ε)·(−log p_y) + ε · mean_v(−log p_v).
#pragma once

#include <cstdint>

namespace attnscope::cpu {

struct CrossEntropyResult {
  double loss_sum = 0;  // Σ over counted tokens
  int64_t count = 0;    // tokens whose target != ignore_index
};

// logits [N, V], targets [N]. When dlogits is not null, writes (overwrites)
// dlogits[N, V] = grad_scale · (softmax(logits) − q), q the smoothed target distribution,
// and zero rows for ignored tokens. The mean loss is loss_sum / count; pass grad_scale = 1/count
// for its gradient. Throws attnscope::Error for a target outside [0, V) that is not ignored.
CrossEntropyResult cross_entropy(const float* logits, const int32_t* targets, float* dlogits,
                                 int64_t N, int64_t V, int32_t ignore_index, float label_smoothing,
                                 float grad_scale);

}  // namespace attnscope::cpu

// The training loss: label-smoothed cross-entropy of the logits against tgt_out, averaged over
// the target tokens that are not padding (F.cross_entropy(ignore_index=pad, label_smoothing)).
#pragma once

#include "core/tensor.h"

namespace attnscope {

struct LossValue {
  double mean = 0;     // loss per counted token
  int64_t tokens = 0;  // target tokens that count (not padding)
};

// logits [B, T, V], tgt_out [B, T]. When d_logits is not null it receives d(mean)/d(logits)
// [B, T, V] (zero rows at padding).
LossValue sequence_loss(const Tensor& logits, const TokenBatch& tgt_out, int32_t pad_id,
                        float label_smoothing, Tensor* d_logits);

}  // namespace attnscope

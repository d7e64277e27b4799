#include "train/loss.h"

#include "core/error.h"
#include "kernels/cpu/cross_entropy.h"

namespace attnscope {

LossValue sequence_loss(const Tensor& logits, const TokenBatch& tgt_out, int32_t pad_id,
                        float label_smoothing, Tensor* d_logits) {
  const int64_t V = logits.dim(-1), N = logits.numel() / V;
  ATTN_CHECK(tgt_out.rows * tgt_out.cols == N, "loss: {} targets for logits {}",
             tgt_out.rows * tgt_out.cols, logits.shape_str());
  int64_t count = 0;
  for (int32_t id : tgt_out.ids) count += id != pad_id;
  if (d_logits) d_logits->resize(logits.shape());
  const float scale = count ? 1.0f / static_cast<float>(count) : 0.0f;
  const auto r =
      cpu::cross_entropy(logits.data(), tgt_out.ids.data(), d_logits ? d_logits->data() : nullptr,
                         N, V, pad_id, label_smoothing, scale);
  return LossValue{r.count ? r.loss_sum / static_cast<double>(r.count) : 0.0, r.count};
}

}  // namespace attnscope

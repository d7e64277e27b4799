#include "inspect/rollout.h"

#include "core/error.h"

namespace attnscope {

Tensor attention_rollout(const std::vector<Tensor>& layers, float residual_share) {
  ATTN_CHECK(!layers.empty(), "attention rollout needs at least one layer's maps");
  ATTN_CHECK(residual_share >= 0 && residual_share <= 1,
             "rollout residual share {} is outside [0, 1]", residual_share);
  const Tensor& first = layers[0];
  ATTN_CHECK((first.rank() == 3 || first.rank() == 4) && first.dim(-1) == first.dim(-2),
             "rollout needs self-attention maps [H, T, T] or [B, H, T, T]; layer 0 is {}",
             first.shape_str());
  for (size_t l = 1; l < layers.size(); ++l)
    ATTN_CHECK(layers[l].shape() == first.shape(), "layer {}'s maps are {}, layer 0's are {}", l,
               layers[l].shape_str(), first.shape_str());
  const bool batched = first.rank() == 4;
  const int64_t B = batched ? first.dim(0) : 1, H = first.dim(-3), T = first.dim(-1);
  const int64_t TT = T * T;
  Tensor rollout = batched ? Tensor({B, T, T}) : Tensor({T, T});
  std::vector<double> layer_map(static_cast<size_t>(TT)), acc(static_cast<size_t>(TT)),
      next(static_cast<size_t>(TT));
  const double r = 1.0 - residual_share;
  for (int64_t b = 0; b < B; ++b) {
    for (size_t l = 0; l < layers.size(); ++l) {
      // Ã_l = row_normalise(r · mean_h A_l^h + (1 − r) · I)
      const float* A = layers[l].data() + b * H * TT;
      for (int64_t i = 0; i < TT; ++i) {
        double s = 0;
        for (int64_t h = 0; h < H; ++h) s += A[h * TT + i];
        layer_map[i] = r * s / static_cast<double>(H);
      }
      for (int64_t i = 0; i < T; ++i) {
        layer_map[i * T + i] += residual_share;
        double sum = 0;
        for (int64_t j = 0; j < T; ++j) sum += layer_map[i * T + j];
        for (int64_t j = 0; j < T; ++j)
          layer_map[i * T + j] = sum > 0 ? layer_map[i * T + j] / sum : 0;
      }
      if (l == 0) {
        acc = layer_map;
        continue;
      }
      // acc ← Ã_l · acc (the new layer on the left)
      for (int64_t i = 0; i < T; ++i)
        for (int64_t j = 0; j < T; ++j) {
          double s = 0;
          for (int64_t k = 0; k < T; ++k) s += layer_map[i * T + k] * acc[k * T + j];
          next[i * T + j] = s;
        }
      acc.swap(next);
    }
    for (int64_t i = 0; i < TT; ++i) rollout[b * TT + i] = static_cast<float>(acc[i]);
  }
  return rollout;
}

namespace {
Tensor hypothesis_rollout(const std::vector<Tensor>& maps, const char* what, float residual_share) {
  ATTN_CHECK(!maps.empty(),
             "the hypothesis has no captured {} attention (decode with the "
             "attention captured for every layer)",
             what);
  for (size_t l = 0; l < maps.size(); ++l)
    ATTN_CHECK(maps[l].rank() == 3 && maps[l].dim(1) == maps[l].dim(2),
               "captured {} attention of layer {} is {}, rollout needs every query row [H, T, T]",
               what, l, maps[l].shape_str());
  return attention_rollout(maps, residual_share);
}
}  // namespace

Tensor encoder_rollout(const HypothesisAttention& a, float residual_share) {
  return hypothesis_rollout(a.encoder_self, "encoder self", residual_share);
}

Tensor decoder_rollout(const HypothesisAttention& a, float residual_share) {
  return hypothesis_rollout(a.decoder_self, "decoder self", residual_share);
}

}  // namespace attnscope

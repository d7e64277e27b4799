// Attention rollout (Abnar & Zuidema 2020, "Quantifying Attention Flow in Transformers"): how
// much of each input position has flowed into each position after a whole stack of
// self-attention layers, not just one.
//
// One layer's weights A_l [T, T] say how position i mixes the positions j *of the layer below*.
// But the layer below has already mixed its own inputs, and the residual connection carries
// each position's own vector past the attention. Rollout models both:
//
//   Ā_l = mean over heads h of A_l^h                      (the layer's average map)
//   Ã_l = row_normalise(r · Ā_l + (1 − r) · I)            (residual: r = 0.5 in the paper)
//   R   = Ã_L · Ã_(L−1) · … · Ã_1                        (layer 1 = the first, applied first)
//
// R[i, j] is the share of input position j (the embedding of token j) in position i at the top
// of the stack; every row of R sums to 1. The rows are normalised after adding I because a row
// of weights that is all zero (a padded query) would otherwise lose its mass.
//
//   - Encoder: the encoder self-attention maps [H, Ts, Ts] → R [Ts, Ts] over source tokens.
//   - Decoder: the decoder self-attention maps [H, T, T] → R [T, T] over the fed target tokens.
//     It follows only the target-to-target path: what flows in from the source through the
//     cross-attention is not part of it.
//
// Rollout assumes the residual is there: for a model trained with residual: false, use
// residual_share = 0 (then R is the plain product of the head-averaged maps). Layer norms, the
// FFN and the value/output projections are ignored — rollout is a model of the flow, not an
// exact attribution (see inspect/contributions.h for the value vectors' part).
#pragma once

#include <vector>

#include "core/tensor.h"
#include "decode/beam_search.h"

namespace attnscope {

// layers: per layer, in order from the first, either [H, T, T] (one sentence → R [T, T]) or
// [B, H, T, T] (a batch, as Transformer::attention gives it → R [B, T, T]). residual_share is
// the (1 − r) above, in [0, 1]. Throws attnscope::Error naming the layer whose shape differs.
Tensor attention_rollout(const std::vector<Tensor>& layers, float residual_share = 0.5f);

// The rollout of a hypothesis's encoder self-attention [Ts, Ts] and decoder self-attention
// [T, T] (every layer and head must have been captured).
Tensor encoder_rollout(const HypothesisAttention& a, float residual_share = 0.5f);
Tensor decoder_rollout(const HypothesisAttention& a, float residual_share = 0.5f);

}  // namespace attnscope

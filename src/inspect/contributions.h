// Value-weighted contributions (Kobayashi, Kuribayashi, Yokoi & Inui 2020, "Attention is Not
// Only a Weight: Analyzing Transformers with Vector Norms").
//
// "Isn't the information lost in the weighted sum over values?" Not lost — but the weight alone
// does not say how much of it there is. Head h's output for query i is a sum of vectors, one per
// key j:
//
//   out_i = Σ_h Σ_j α^h_ij · f_h(j) + b_O,      f_h(j) = v^h_j · W_O^h
//
// where α^h_ij is the attention weight, v^h_j = x_j·W_V^h + b_V^h is head h's value vector of
// key j (d_head numbers) and W_O^h is the head's slice of out_proj: the d_head columns
// h·d_head .. (h+1)·d_head − 1 of W_O [D, D], which map the head's part of the concatenated
// context into the model's D dimensions. So what key j actually adds to query i's output is the
// vector α^h_ij · f_h(j), and its size is
//
//   per_head[h, i, j] = ‖α^h_ij · f_h(j)‖₂ = α^h_ij · ‖f_h(j)‖₂.
//
// A large weight on a key with a tiny transformed value (a frequent token, </s>, a punctuation
// mark — Kobayashi et al. find exactly these) moves the output very little; a modest weight on
// a key with a long f_h(j) can move it a lot. Read per_head beside the weights: where they
// disagree, the weight map is misleading. value_norms holds ‖f_h(j)‖ itself, the factor that
// turns one into the other.
//
// Heads can also cancel or reinforce each other, so the layer's combined effect of key j on
// query i is the norm of the summed vector:
//
//   summed[i, j] = ‖Σ_h α^h_ij · f_h(j)‖₂   (≤ Σ_h per_head[h, i, j], the triangle inequality)
//
// and Σ_j Σ_h α^h_ij f_h(j) = out_i − b_O is the whole attention output (before the residual).
//
// These are read from the model's last forward (the teacher-forced pass, run for inference so
// no dropout is applied) through the model interface: the attention weights, the value vectors
// v^h_j (Seq2SeqModel::attention_values, b_V included) and W_O
// (Seq2SeqModel::attention_output_weight). Not valid after decode_step, which keeps only one
// query row.
#pragma once

#include <vector>

#include "core/tensor.h"
#include "nn/attention_kind.h"
#include "nn/seq2seq_model.h"

namespace attnscope {

struct LayerContributions {
  Tensor value_norms;  // [B, H, Tk]      ‖f_h(j)‖ = ‖v^h_j · W_O^h‖
  Tensor per_head;     // [B, H, Tq, Tk]  ‖α^h_ij · f_h(j)‖ = α^h_ij · value_norms[h, j]
  Tensor summed;       // [B, Tq, Tk]     ‖Σ_h α^h_ij · f_h(j)‖
};

// One entry per layer of `kind` (kEncoderSelf, kDecoderSelf or kCross), from the model's last
// forward(). Throws attnscope::Error when the model has no value vectors
// (ModelInfo::value_vectors) or its kept activations do not belong to a full forward pass (e.g.
// after decode_step).
std::vector<LayerContributions> value_weighted_contributions(const Seq2SeqModel& model,
                                                             AttentionKind kind);

}  // namespace attnscope

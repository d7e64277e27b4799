// Scaled dot-product attention: out = softmax(Q·Kᵀ · scale + mask) · V, per batch and head.
//
// Q, K, V and the output are addressed through HeadViews so that the packed projection
// [B, T, 3·d_model] can be read in place as [B, T, H, d_head] without a transpose copy.
// Masks: the causal (look-ahead) mask hides key j from query i when j > i + causal_offset
// (causal_offset = Tk − Tq when a KV cache holds earlier positions); key_padding[b, j] != 0 hides
// key j for every query of sequence b. Masked scores are −∞ before the softmax; a query with
// every key masked gets zero weights and a zero output (never NaN).
#pragma once

#include <cstdint>

namespace attnscope::cpu {

// Element (b, h, t, i) lives at data[b·batch_stride + h·head_stride + t·row_stride + i].
struct HeadView {
  float* data = nullptr;
  int64_t batch_stride = 0, head_stride = 0, row_stride = 0;
  float* row(int64_t b, int64_t h, int64_t t) const {
    return data + b * batch_stride + h * head_stride + t * row_stride;
  }
};

// A view of a [B, T, H·d_head] buffer (heads interleaved in the last axis), starting at column
// `col` (0 for Q, d_model for K, 2·d_model for V in a packed [B, T, 3·d_model] buffer).
inline HeadView interleaved_heads(float* base, int64_t T, int64_t width, int64_t d_head,
                                  int64_t col = 0) {
  return HeadView{base + col, T * width, d_head, width};
}

struct AttentionShape {
  int64_t B = 0, H = 0, Tq = 0, Tk = 0, d_k = 0, d_v = 0;
  float scale = 1.0f;  // 1/√d_k normally; 1 when the learner switches it off
  bool causal = false;
  int64_t causal_offset = 0;             // key j visible to query i iff j ≤ i + causal_offset
  const uint8_t* key_padding = nullptr;  // [B, Tk], nonzero = padding (masked), or null
  float dropout = 0.0f;                  // dropout on the weights (training), stateless mask
  uint64_t dropout_seed = 0;
};

// out (b,h,t,:d_v) = Σ_j P[b,h,t,j] · V(b,h,j,:).  probs [B, H, Tq, Tk] receives the weights
// (before dropout), which backward and the inspection tools read; null when only the output is
// wanted. Tiled with an online softmax (attention_tiles.h): the weights are written only when
// asked for, from each row's log-sum-exp; tiles every query of a block cannot see (above the
// causal diagonal, all padding) are skipped, not computed and masked. The output is the same,
// bit for bit, with and without probs.
void attention_forward(const AttentionShape& s, const HeadView& q, const HeadView& k,
                       const HeadView& v, const HeadView& out, float* probs);

// Accumulates dq, dk, dv (same layouts as q, k, v) from dout and the saved probs.
// Both calls run the (b, h) pairs in parallel, so the parts of out, dq, dk, dv that different pairs
// write must not overlap (e.g. no dk/dv shared across heads through head_stride 0).
void attention_backward(const AttentionShape& s, const HeadView& q, const HeadView& k,
                        const HeadView& v, const float* probs, const HeadView& dout,
                        const HeadView& dq, const HeadView& dk, const HeadView& dv);

}  // namespace attnscope::cpu

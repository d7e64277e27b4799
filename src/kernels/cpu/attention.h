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
#include <vector>

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

// Decode steps: each decoder row has one query position and attends to a cache that keeps K
// transposed in blocks of kStepKeyBlock keys (per block, Kᵀ [H·d_k, kStepKeyBlock]): a step packs
// nothing, its scores are products without horizontal sums, and the keys of the first t positions
// are one contiguous range. Rows that read the same cache entry (the beams of one sentence reading
// its encoder memory) are scored together, each key loaded once for all of them.
inline constexpr int64_t kStepKeyBlock = 16;

// Query rows [first, first + count) read cache entry `entry`.
struct StepRun {
  int64_t first = 0, count = 0, entry = 0;
};

struct StepAttention {
  int64_t rows = 0, H = 0, Tk = 0, d_k = 0, d_v = 0, entries = 0;
  float scale = 1.0f;
  const float* q = nullptr;  // (row, h, i) at q[row·ldq + h·d_k + i]
  int64_t ldq = 0;
  // (entry, h, i, j) at kt[entry·kt_entry + (j / kStepKeyBlock)·kt_block + (h·d_k +
  // i)·kStepKeyBlock
  // + j % kStepKeyBlock]
  float* kt = nullptr;
  int64_t kt_entry = 0, kt_block = 0;
  float* v = nullptr;  // (entry, h, j, c) at v[entry·v_entry + j·ldv + h·d_v + c]
  int64_t v_entry = 0, ldv = 0;
  const uint8_t* key_padding = nullptr;  // [entries, Tk] nonzero = masked, or null
  // A self-attention step: when set, each row first writes its new key and value, (row, h, i) at
  // new_k / new_v[row·ld_new + h·d_k + i], at position Tk − 1 of its entry (runs of one row, each
  // its own entry), inside the same parallel pass.
  const float* new_k = nullptr;
  const float* new_v = nullptr;
  int64_t ld_new = 0;
  float* out = nullptr;  // (row, h, c) at out[row·ldo + h·d_v + c]
  int64_t ldo = 0;
  float* probs = nullptr;  // [rows, H, 1, Tk] the weights, or null
};

// out = softmax(scale · q·Kᵀ, masked) · V for every row and head; runs cover each row once.
// Masked keys (padding) get weight 0; a row whose keys are all masked gets zeros. Checks the runs
// and strides, then runs (run, head) pairs in parallel.
void attention_step_forward(const StepAttention& a, const std::vector<StepRun>& runs);

}  // namespace attnscope::cpu

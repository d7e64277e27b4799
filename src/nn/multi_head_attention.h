// nn.MultiheadAttention (batch-first): h heads of d_head = d_model / h, the projections packed
// as PyTorch packs them: in_proj_weight [3·d_model, d_model] = [W_Q; W_K; W_V], in_proj_bias
// [3·d_model], then out_proj (W_O) over the concatenated heads.
//
// Self-attention reads Q, K and V from one packed product x·in_projᵀ [B, T, 3·d_model];
// cross-attention projects Q from the decoder and K, V (rows d_model.. of in_proj) from the
// encoder memory. The weights [B, H, Tq, Tk] are always kept in Activations::probs: backward
// reads them, and they are what a user sees.
//
// Head gates (Michel et al. 2019): head h's output — its d_head columns of the concatenated heads —
// is multiplied by gate[h] before W_O. No gates (the default) is every gate 1, at no cost; a gate
// of 0 switches the head off (`--mask-heads`). backward gives ∂/∂gate[h] per sequence either way,
// so a head's importance is read off the gradient of the loss at the trained model (gates all 1).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/cpu/attention.h"
#include "kernels/cpu/packed_linear.h"
#include "nn/linear.h"
#include "nn/param.h"

namespace attnscope {

// What one attention call sees: sizes, masks and dropout.
struct AttentionCall {
  int64_t B = 0, Tq = 0, Tk = 0;
  bool causal = false;
  const uint8_t* key_padding = nullptr;  // [B, Tk], nonzero = padding, or null
  float dropout = 0.0f;                  // on the weights, training only
  uint64_t dropout_seed = 0;
};

class MultiHeadAttention {
 public:
  struct Activations {
    Tensor qkv;        // self: [B, Tq, 3·D] packed Q|K|V; cross: [B, Tq, D] Q only
    Tensor kv;         // cross: [B, Tk, 2·D] packed K|V from the memory
    Tensor probs;      // [B, H, Tq, Tk] attention weights (before dropout)
    Tensor ctx;        // [B, Tq, D] heads concatenated, before W_O
    Tensor gated;      // [B, Tq, D] ctx with the head gates applied (only when there are gates)
    Tensor gate_grad;  // [B, H] ∂/∂gate[h] for each sequence, written by backward
    // backward scratch
    Tensor d_ctx;  // [B, Tq, D]
    Tensor d_qkv;  // like qkv
    Tensor d_kv;   // like kv
  };

  MultiHeadAttention() = default;
  MultiHeadAttention(const std::string& prefix, int64_t d_model, int64_t heads, bool scale_scores);

  struct PackedStep;
  // x [B, T, D] → y [B, T, D], plus residual [B, T, D] when not null. With `packed` (pack_step(
  // false, …): a decoding's encoder, in the decode steps' format) the two projections read the
  // packed weights, and the output projection adds the residual to each block it computes.
  void forward_self(const float* x, float* y, const AttentionCall& c, Activations& a,
                    const PackedStep* packed = nullptr, const float* residual = nullptr) const;
  // Accumulates dx [B, T, D].
  void backward_self(const float* x, const float* dy, float* dx, const AttentionCall& c,
                     Activations& a);

  // x [B, Tq, D] attends over memory [B, Tk, D] → y [B, Tq, D]
  void forward_cross(const float* x, const float* memory, float* y, const AttentionCall& c,
                     Activations& a) const;
  // Accumulates dx [B, Tq, D] and dmemory [B, Tk, D].
  void backward_cross(const float* x, const float* memory, const float* dy, float* dx,
                      float* dmemory, const AttentionCall& c, Activations& a);

  // The projections of a decode step, packed once per decoding (kernels/cpu/packed_linear.h):
  // self-attention in_proj [3D, D] (or cross-attention's W_Q [D, D]) and out_proj.
  struct PackedStep {
    cpu::PackedWeight in, out;
  };
  // Packs them for forward_self_step (cross = false) or forward_cross_step (cross = true).
  void pack_step(bool cross, PackedStep& p,
                 cpu::WeightFormat format = cpu::WeightFormat::kF32) const;

  // One attention layer's keys and values during incremental decoding, per cache entry (a decoder
  // row for self-attention, a sentence for cross-attention), laid out for the step kernel
  // (cpu::attention_step_forward): K transposed, so a step packs nothing.
  struct StepCache {
    // [entries, blocks, D, kStepKeyBlock]: per block of kStepKeyBlock keys, Kᵀ of every head
    // (head h in rows h·d_head..), key j in column j % kStepKeyBlock of block j / kStepKeyBlock
    Tensor k_t;
    Tensor v;  // [entries, positions, D]
    // Makes it `entries` × `positions` keys, zero. Keys past those a step reads are never weighted.
    void resize(int64_t entries, int64_t positions, int64_t d_model);
    // Floats of one entry's Kᵀ that hold its first `positions` keys (a contiguous prefix).
    int64_t k_t_prefix(int64_t positions) const;
  };

  // Incremental decoding. cache holds K, V of positions 0..t−1 of each of the B rows, row r in
  // entry runs[r].entry (runs {r, 1, entry}, in order, no entry twice); x [B, D] is position t of
  // each row: its K and V are written at position t and it
  // attends over positions 0..t (the look-ahead mask is implicit). y [B, D], plus residual
  // [B, D] when not null (added by the output projection). With `packed` (from pack_step) the
  // projections read the packed weights.
  void forward_self_step(const float* x, float* y, int64_t B, int64_t t, StepCache& cache,
                         const std::vector<cpu::StepRun>& runs, Activations& a,
                         const PackedStep* packed = nullptr, const float* residual = nullptr) const;
  // Cross-attention's K|V projection (rows D..3D of in_proj, [2D, D]) packed for project_memory.
  void pack_memory_projection(cpu::PackedWeight& kv,
                              cpu::WeightFormat format = cpu::WeightFormat::kF32) const;
  // K, V of the encoder memory [B, Ts, D], once per sentence: memory_cache gets B entries of Ts.
  // With `packed_kv` (from pack_memory_projection) the product reads the packed weight.
  void project_memory(const float* memory, int64_t B, int64_t Ts, StepCache& memory_cache,
                      const cpu::PackedWeight* packed_kv = nullptr) const;
  // x [B, D] attends over the projected memory → y [B, D]: the rows of runs[i] read entry
  // runs[i].entry of memory_cache, whose padded positions memory_padding [entries, Ts] marks.
  // residual as in forward_self_step.
  void forward_cross_step(const float* x, float* y, int64_t B, const StepCache& memory_cache,
                          int64_t Ts, const uint8_t* memory_padding,
                          const std::vector<cpu::StepRun>& runs, Activations& a,
                          const PackedStep* packed = nullptr,
                          const float* residual = nullptr) const;

  // The value vectors of the full forward whose activations `a` holds (forward_self, or
  // forward_cross when cross): v [B, H, Tk, d_head], v^h_j = x_j·W_V^h + b_V^h, read out of the
  // packed Q|K|V (self) or K|V (cross) products. Throws attnscope::Error, its message starting
  // with `where`, when `a` holds no full forward pass (nothing yet, or a decode step).
  Tensor values(const Activations& a, bool cross, const std::string& where) const;

  // gates [H], each finite (1 = as trained, 0 = masked); empty: no gates. Throws attnscope::Error
  // for a wrong count or a non-finite gate.
  void set_head_gates(std::vector<float> gates);
  // The gates [H] (all 1 when there are none).
  std::vector<float> head_gates() const;

  void visit_params(const ParamVisitor& f);
  int64_t heads() const { return heads_; }
  int64_t d_model() const { return d_model_; }

  Param in_proj_weight;  // [3·D, D]
  Param in_proj_bias;    // [3·D]
  Linear out_proj;       // W_O [D, D]

 private:
  float scale() const;
  // ctx [rows, D] as W_O reads it: ctx itself without gates, else `gated` filled from it.
  const float* gated_input(const Tensor& ctx, int64_t rows, Tensor& gated) const;
  // backward's end of the gate: gate_grad [B, H] from ctx and d(gated ctx) [B, Tq, D], then
  // d_ctx scaled by the gates (in place).
  void gate_backward(const Tensor& ctx, Tensor& d_ctx, int64_t B, int64_t Tq,
                     Tensor& gate_grad) const;
  std::vector<float> gates_;  // [H] or empty
  int64_t d_model_ = 0, heads_ = 0;
  bool scale_scores_ = true;
};

}  // namespace attnscope

#include "nn/multi_head_attention.h"

#include <cmath>
#include <cstring>

#include "core/error.h"
#include "kernels/cpu/activation.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/gemm.h"

namespace attnscope {

MultiHeadAttention::MultiHeadAttention(const std::string& prefix, int64_t d_model, int64_t heads,
                                       bool scale_scores)
    : in_proj_weight(prefix + ".in_proj_weight", {3 * d_model, d_model}),
      in_proj_bias(prefix + ".in_proj_bias", {3 * d_model}),
      out_proj(prefix + ".out_proj", d_model, d_model),
      d_model_(d_model),
      heads_(heads),
      scale_scores_(scale_scores) {}

float MultiHeadAttention::scale() const {
  // d_k is the key width of one head, not the sequence length.
  return scale_scores_ ? 1.0f / std::sqrt(static_cast<float>(d_model_ / heads_)) : 1.0f;
}

namespace {
cpu::AttentionShape shape_of(const AttentionCall& c, int64_t heads, int64_t d_head, float scale) {
  cpu::AttentionShape s;
  s.B = c.B;
  s.H = heads;
  s.Tq = c.Tq;
  s.Tk = c.Tk;
  s.d_k = d_head;
  s.d_v = d_head;
  s.scale = scale;
  s.causal = c.causal;
  s.causal_offset = c.Tk - c.Tq;
  s.key_padding = c.key_padding;
  s.dropout = c.dropout;
  s.dropout_seed = c.dropout_seed;
  return s;
}
}  // namespace

namespace {
// y [N, out] = residual + x · Wᵀ + b (residual [N, out] or null), through the packed weight when
// there is one (which adds the residual while each block of y is in cache).
void project(const float* x, const float* W, const cpu::PackedWeight* packed, const float* b,
             float* y, int64_t N, int64_t in, int64_t out, const float* residual = nullptr) {
  cpu::Epilogue epilogue;
  epilogue.residual = residual;
  if (packed != nullptr) {
    cpu::packed_linear_forward(x, *packed, b, y, N, epilogue);
  } else {
    cpu::linear_forward(x, W, b, y, N, in, out);
    if (residual != nullptr) cpu::add(residual, y, y, N * out);
  }
}
}  // namespace

void MultiHeadAttention::forward_self(const float* x, float* y, const AttentionCall& c,
                                      Activations& a, const PackedStep* packed,
                                      const float* residual) const {
  const int64_t D = d_model_, dh = D / heads_, N = c.B * c.Tq;
  a.qkv.resize({c.B, c.Tq, 3 * D});
  a.probs.resize({c.B, heads_, c.Tq, c.Tk});
  a.ctx.resize({c.B, c.Tq, D});
  // qkv [B, T, 3D] = x [B, T, D] · in_projᵀ + b
  project(x, in_proj_weight.value.data(), packed ? &packed->in : nullptr, in_proj_bias.value.data(),
          a.qkv.data(), N, D, 3 * D);
  float* qkv = a.qkv.data();
  const auto s = shape_of(c, heads_, dh, scale());
  cpu::attention_forward(s, cpu::interleaved_heads(qkv, c.Tq, 3 * D, dh, 0),
                         cpu::interleaved_heads(qkv, c.Tk, 3 * D, dh, D),
                         cpu::interleaved_heads(qkv, c.Tk, 3 * D, dh, 2 * D),
                         cpu::interleaved_heads(a.ctx.data(), c.Tq, D, dh), a.probs.data());
  const float* ctx = gated_input(a.ctx, N, a.gated);  // heads masked by their gates
  project(ctx, out_proj.weight.value.data(), packed ? &packed->out : nullptr,
          out_proj.bias.value.data(), y, N, D, D, residual);
}

void MultiHeadAttention::backward_self(const float* x, const float* dy, float* dx,
                                       const AttentionCall& c, Activations& a) {
  const int64_t D = d_model_, dh = D / heads_, N = c.B * c.Tq;
  a.d_ctx.resize_zero({c.B, c.Tq, D});
  a.d_qkv.resize_zero({c.B, c.Tq, 3 * D});
  out_proj.backward(gates_.empty() ? a.ctx.data() : a.gated.data(), dy, a.d_ctx.data(), N);
  gate_backward(a.ctx, a.d_ctx, c.B, c.Tq, a.gate_grad);
  float* qkv = a.qkv.data();
  float* dqkv = a.d_qkv.data();
  const auto s = shape_of(c, heads_, dh, scale());
  cpu::attention_backward(s, cpu::interleaved_heads(qkv, c.Tq, 3 * D, dh, 0),
                          cpu::interleaved_heads(qkv, c.Tk, 3 * D, dh, D),
                          cpu::interleaved_heads(qkv, c.Tk, 3 * D, dh, 2 * D), a.probs.data(),
                          cpu::interleaved_heads(a.d_ctx.data(), c.Tq, D, dh),
                          cpu::interleaved_heads(dqkv, c.Tq, 3 * D, dh, 0),
                          cpu::interleaved_heads(dqkv, c.Tk, 3 * D, dh, D),
                          cpu::interleaved_heads(dqkv, c.Tk, 3 * D, dh, 2 * D));
  cpu::linear_backward(x, in_proj_weight.value.data(), dqkv, dx, in_proj_weight.grad.data(),
                       in_proj_bias.grad.data(), N, D, 3 * D);
}

void MultiHeadAttention::forward_cross(const float* x, const float* memory, float* y,
                                       const AttentionCall& c, Activations& a) const {
  const int64_t D = d_model_, dh = D / heads_;
  a.qkv.resize({c.B, c.Tq, D});
  a.kv.resize({c.B, c.Tk, 2 * D});
  a.probs.resize({c.B, heads_, c.Tq, c.Tk});
  a.ctx.resize({c.B, c.Tq, D});
  const float* W = in_proj_weight.value.data();
  const float* b = in_proj_bias.value.data();
  // q [B, Tq, D] = x · W_Qᵀ + b_Q;  kv [B, Tk, 2D] = memory · [W_K; W_V]ᵀ + [b_K; b_V]
  cpu::linear_forward(x, W, b, a.qkv.data(), c.B * c.Tq, D, D);
  cpu::linear_forward(memory, W + D * D, b + D, a.kv.data(), c.B * c.Tk, D, 2 * D);
  const auto s = shape_of(c, heads_, dh, scale());
  cpu::attention_forward(s, cpu::interleaved_heads(a.qkv.data(), c.Tq, D, dh),
                         cpu::interleaved_heads(a.kv.data(), c.Tk, 2 * D, dh, 0),
                         cpu::interleaved_heads(a.kv.data(), c.Tk, 2 * D, dh, D),
                         cpu::interleaved_heads(a.ctx.data(), c.Tq, D, dh), a.probs.data());
  out_proj.forward(gated_input(a.ctx, c.B * c.Tq, a.gated), y, c.B * c.Tq);
}

void MultiHeadAttention::backward_cross(const float* x, const float* memory, const float* dy,
                                        float* dx, float* dmemory, const AttentionCall& c,
                                        Activations& a) {
  const int64_t D = d_model_, dh = D / heads_;
  a.d_ctx.resize_zero({c.B, c.Tq, D});
  a.d_qkv.resize_zero({c.B, c.Tq, D});
  a.d_kv.resize_zero({c.B, c.Tk, 2 * D});
  out_proj.backward(gates_.empty() ? a.ctx.data() : a.gated.data(), dy, a.d_ctx.data(), c.B * c.Tq);
  gate_backward(a.ctx, a.d_ctx, c.B, c.Tq, a.gate_grad);
  const auto s = shape_of(c, heads_, dh, scale());
  cpu::attention_backward(s, cpu::interleaved_heads(a.qkv.data(), c.Tq, D, dh),
                          cpu::interleaved_heads(a.kv.data(), c.Tk, 2 * D, dh, 0),
                          cpu::interleaved_heads(a.kv.data(), c.Tk, 2 * D, dh, D), a.probs.data(),
                          cpu::interleaved_heads(a.d_ctx.data(), c.Tq, D, dh),
                          cpu::interleaved_heads(a.d_qkv.data(), c.Tq, D, dh),
                          cpu::interleaved_heads(a.d_kv.data(), c.Tk, 2 * D, dh, 0),
                          cpu::interleaved_heads(a.d_kv.data(), c.Tk, 2 * D, dh, D));
  const float* W = in_proj_weight.value.data();
  float* dW = in_proj_weight.grad.data();
  float* db = in_proj_bias.grad.data();
  cpu::linear_backward(x, W, a.d_qkv.data(), dx, dW, db, c.B * c.Tq, D, D);
  cpu::linear_backward(memory, W + D * D, a.d_kv.data(), dmemory, dW + D * D, db + D, c.B * c.Tk, D,
                       2 * D);
}

void MultiHeadAttention::pack_step(bool cross, PackedStep& p, cpu::WeightFormat format) const {
  const int64_t D = d_model_;
  // Cross-attention's step projects only Q (rows 0..D of in_proj); K|V come from the memory.
  cpu::pack_weight(in_proj_weight.value.data(), cross ? D : 3 * D, D, p.in, format);
  cpu::pack_weight(out_proj.weight.value.data(), D, D, p.out, format);
}

void MultiHeadAttention::StepCache::resize(int64_t entries, int64_t positions, int64_t d_model) {
  const int64_t blocks = (positions + cpu::kStepKeyBlock - 1) / cpu::kStepKeyBlock;
  k_t.resize_zero({entries, blocks, d_model, cpu::kStepKeyBlock});
  v.resize_zero({entries, positions, d_model});
}

int64_t MultiHeadAttention::StepCache::k_t_prefix(int64_t positions) const {
  return (positions + cpu::kStepKeyBlock - 1) / cpu::kStepKeyBlock * k_t.dim(2) *
         cpu::kStepKeyBlock;
}

namespace {

// The step kernel's view of a cache: its Kᵀ blocks and V rows.
cpu::StepAttention step_call(MultiHeadAttention::StepCache& cache, int64_t H, int64_t Tk) {
  const int64_t D = cache.k_t.dim(2), dh = D / H;
  cpu::StepAttention s;
  s.H = H, s.Tk = Tk, s.d_k = dh, s.d_v = dh, s.entries = cache.v.dim(0);
  s.kt = cache.k_t.data();
  s.kt_block = D * cpu::kStepKeyBlock;
  s.kt_entry = cache.k_t.dim(1) * s.kt_block;
  s.v = cache.v.data(), s.v_entry = cache.v.dim(1) * D, s.ldv = D;
  return s;
}

}  // namespace

void MultiHeadAttention::forward_self_step(const float* x, float* y, int64_t B, int64_t t,
                                           StepCache& cache, const std::vector<cpu::StepRun>& runs,
                                           Activations& a, const PackedStep* packed,
                                           const float* residual) const {
  const int64_t D = d_model_, capacity = cache.v.dim(1);
  ATTN_CHECK(t < capacity, "decoder cache holds {} positions, step {} needs more", capacity, t);
  ATTN_CHECK(cache.v.dim(0) >= B, "decoder cache holds {} rows, the step has {}", cache.v.dim(0),
             B);
  a.qkv.resize({B, 1, 3 * D});
  a.probs.resize({B, heads_, 1, t + 1});
  a.ctx.resize({B, 1, D});
  project(x, in_proj_weight.value.data(), packed ? &packed->in : nullptr, in_proj_bias.value.data(),
          a.qkv.data(), B, D, 3 * D);
  // Each row writes its K and V at position t, then attends over positions 0..t.
  cpu::StepAttention s = step_call(cache, heads_, t + 1);
  s.rows = B, s.scale = scale();
  s.q = a.qkv.data(), s.ldq = 3 * D;
  s.new_k = a.qkv.data() + D, s.new_v = a.qkv.data() + 2 * D, s.ld_new = 3 * D;
  s.out = a.ctx.data(), s.ldo = D;
  s.probs = a.probs.data();
  cpu::attention_step_forward(s, runs);
  project(gated_input(a.ctx, B, a.gated), out_proj.weight.value.data(),
          packed ? &packed->out : nullptr, out_proj.bias.value.data(), y, B, D, D, residual);
}

void MultiHeadAttention::pack_memory_projection(cpu::PackedWeight& kv,
                                                cpu::WeightFormat format) const {
  const int64_t D = d_model_;
  cpu::pack_weight(in_proj_weight.value.data() + D * D, 2 * D, D, kv, format);
}

void MultiHeadAttention::project_memory(const float* memory, int64_t B, int64_t Ts,
                                        StepCache& memory_cache,
                                        const cpu::PackedWeight* packed_kv) const {
  const int64_t D = d_model_, blk = cpu::kStepKeyBlock;
  Tensor kv({B, Ts, 2 * D});
  project(memory, in_proj_weight.value.data() + D * D, packed_kv, in_proj_bias.value.data() + D,
          kv.data(), B * Ts, D, 2 * D);
  memory_cache.resize(B, Ts, D);
  const int64_t per_entry = memory_cache.k_t.dim(1) * D * blk;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = 0; j < Ts; ++j) {
      const float* k = kv.data() + (b * Ts + j) * 2 * D;
      float* kt = memory_cache.k_t.data() + b * per_entry + (j / blk) * D * blk + j % blk;
      for (int64_t i = 0; i < D; ++i) kt[i * blk] = k[i];
      std::memcpy(memory_cache.v.data() + (b * Ts + j) * D, k + D,
                  static_cast<size_t>(D) * sizeof(float));
    }
}

void MultiHeadAttention::forward_cross_step(const float* x, float* y, int64_t B,
                                            const StepCache& memory_cache, int64_t Ts,
                                            const uint8_t* memory_padding,
                                            const std::vector<cpu::StepRun>& runs, Activations& a,
                                            const PackedStep* packed, const float* residual) const {
  const int64_t D = d_model_;
  ATTN_CHECK(memory_cache.v.dim(1) == Ts, "cross-attention step: a memory of {} positions, not {}",
             memory_cache.v.dim(1), Ts);
  a.qkv.resize({B, 1, D});
  a.probs.resize({B, heads_, 1, Ts});
  a.ctx.resize({B, 1, D});
  project(x, in_proj_weight.value.data(), packed ? &packed->in : nullptr, in_proj_bias.value.data(),
          a.qkv.data(), B, D, D);
  // The kernel only reads the memory (no new_k): its view is mutable for the self step's sake.
  cpu::StepAttention s = step_call(const_cast<StepCache&>(memory_cache), heads_, Ts);
  s.rows = B, s.scale = scale();
  s.q = a.qkv.data(), s.ldq = D;
  s.key_padding = memory_padding;
  s.out = a.ctx.data(), s.ldo = D;
  s.probs = a.probs.data();
  cpu::attention_step_forward(s, runs);
  project(gated_input(a.ctx, B, a.gated), out_proj.weight.value.data(),
          packed ? &packed->out : nullptr, out_proj.bias.value.data(), y, B, D, D, residual);
}

void MultiHeadAttention::set_head_gates(std::vector<float> gates) {
  ATTN_CHECK(gates.empty() || static_cast<int64_t>(gates.size()) == heads_,
             "{} head gates for an attention layer of {} heads", gates.size(), heads_);
  for (size_t h = 0; h < gates.size(); ++h)
    ATTN_CHECK(std::isfinite(gates[h]), "head gate {} is {}, not a finite number", h, gates[h]);
  gates_ = std::move(gates);
}

std::vector<float> MultiHeadAttention::head_gates() const {
  return gates_.empty() ? std::vector<float>(static_cast<size_t>(heads_), 1.0f) : gates_;
}

const float* MultiHeadAttention::gated_input(const Tensor& ctx, int64_t rows, Tensor& gated) const {
  if (gates_.empty()) return ctx.data();
  const int64_t D = d_model_, dh = D / heads_;
  gated.resize({rows, D});
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t h = 0; h < heads_; ++h) {
      const float g = gates_[static_cast<size_t>(h)];
      const float* in = ctx.data() + r * D + h * dh;
      float* out = gated.data() + r * D + h * dh;
      for (int64_t i = 0; i < dh; ++i) out[i] = g * in[i];
    }
  return gated.data();
}

void MultiHeadAttention::gate_backward(const Tensor& ctx, Tensor& d_ctx, int64_t B, int64_t Tq,
                                       Tensor& gate_grad) const {
  const int64_t D = d_model_, H = heads_, dh = D / H;
  // gated = g_h · ctx_h, so ∂/∂g_h = Σ_{t,i} ctx_h · ∂/∂gated_h and ∂/∂ctx_h = g_h · ∂/∂gated_h.
  gate_grad.resize_zero({B, H});
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h) {
      double sum = 0;
      for (int64_t t = 0; t < Tq; ++t) {
        const float* c = ctx.data() + (b * Tq + t) * D + h * dh;
        const float* d = d_ctx.data() + (b * Tq + t) * D + h * dh;
        float dot = 0;
        for (int64_t i = 0; i < dh; ++i) dot += c[i] * d[i];
        sum += dot;
      }
      gate_grad.data()[b * H + h] = static_cast<float>(sum);
    }
  if (gates_.empty()) return;
  for (int64_t r = 0; r < B * Tq; ++r)
    for (int64_t h = 0; h < H; ++h) {
      const float g = gates_[static_cast<size_t>(h)];
      float* d = d_ctx.data() + r * D + h * dh;
      for (int64_t i = 0; i < dh; ++i) d[i] *= g;
    }
}

void MultiHeadAttention::visit_params(const ParamVisitor& f) {
  f(in_proj_weight);
  f(in_proj_bias);
  out_proj.visit_params(f);
}

Tensor MultiHeadAttention::values(const Activations& a, bool cross,
                                  const std::string& where) const {
  const int64_t D = d_model_, H = heads_, dh = D / H;
  const Tensor& probs = a.probs;  // [B, H, Tq, Tk]
  ATTN_CHECK(probs.rank() == 4 && probs.dim(1) == H,
             "{}: attention weights {} are not [B, {}, Tq, Tk]; run forward first", where,
             probs.shape_str(), H);
  const int64_t B = probs.dim(0), Tq = probs.dim(2), Tk = probs.dim(3);
  // self qkv [B, T, 3D] (V at columns 2D..), cross kv [B, Tk, 2D] (V at columns D..).
  const Tensor& packed = cross ? a.kv : a.qkv;
  const int64_t stride = cross ? 2 * D : 3 * D, v_off = cross ? D : 2 * D;
  const bool consistent = packed.rank() == 3 && packed.dim(0) == B && packed.dim(1) == Tk &&
                          packed.dim(2) == stride && (cross || Tq == Tk) && a.qkv.rank() == 3 &&
                          a.qkv.dim(1) == Tq;
  ATTN_CHECK(consistent,
             "{}: the kept activations (values {}, weights {}) are not those of one full forward "
             "pass; run forward before reading value vectors",
             where, packed.shape_str(), probs.shape_str());
  Tensor v({B, H, Tk, dh});
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t j = 0; j < Tk; ++j)
        std::memcpy(v.data() + ((b * H + h) * Tk + j) * dh,
                    packed.data() + (b * Tk + j) * stride + v_off + h * dh,
                    static_cast<size_t>(dh) * sizeof(float));
  return v;
}

}  // namespace attnscope

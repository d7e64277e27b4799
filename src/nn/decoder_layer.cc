#include "nn/decoder_layer.h"

#include <string>

#include "kernels/cpu/activation.h"
#include "nn/dropout_sites.h"

namespace attnscope {

DecoderLayer::DecoderLayer(const ModelConfig& cfg, int64_t index) : index_(index) {
  const std::string p = "decoder.layers." + std::to_string(index) + ".";
  self_attn = MultiHeadAttention(p + "self_attn", cfg.d_model, cfg.heads, cfg.scale_scores);
  cross_attn = MultiHeadAttention(p + "multihead_attn", cfg.d_model, cfg.heads, cfg.scale_scores);
  ffn = FeedForward(p, cfg.d_model, cfg.d_ff, cfg.activation);
  self_block = ResidualBlock(p + "norm1", cfg.d_model, cfg.layer_norm_eps, cfg.norm, cfg.residual);
  cross_block = ResidualBlock(p + "norm2", cfg.d_model, cfg.layer_norm_eps, cfg.norm, cfg.residual);
  ffn_block = ResidualBlock(p + "norm3", cfg.d_model, cfg.layer_norm_eps, cfg.norm, cfg.residual);
}

uint64_t DecoderLayer::seed(const StackCall& c, DropoutSite s) const {
  return site_seed(c.step_seed, decoder_site(index_, s));
}

AttentionCall DecoderLayer::self_call(const StackCall& c) const {
  AttentionCall call;
  call.B = c.B;
  call.Tq = c.T;
  call.Tk = c.T;
  call.causal = true;  // the look-ahead mask: position i sees positions ≤ i
  call.key_padding = c.self_padding;
  call.dropout = c.dropout;
  call.dropout_seed = seed(c, DropoutSite::kSelfAttnWeights);
  return call;
}

AttentionCall DecoderLayer::cross_call(const StackCall& c) const {
  AttentionCall call;
  call.B = c.B;
  call.Tq = c.T;
  call.Tk = c.Tm;
  call.key_padding = c.memory_padding;
  call.dropout = c.dropout;
  call.dropout_seed = seed(c, DropoutSite::kCrossAttnWeights);
  return call;
}

void DecoderLayer::forward(const float* x, const float* memory, const StackCall& c,
                           Activations& a) const {
  const int64_t N = c.B * c.T;
  const AttentionCall sc = self_call(c), cc = cross_call(c);
  self_block.forward(
      x, N, c.dropout, seed(c, DropoutSite::kSelfAttnResidual), a.self_block,
      [&](const float* u, float* y) { self_attn.forward_self(u, y, sc, a.self_attn); });
  cross_block.forward(
      a.self_block.out.data(), N, c.dropout, seed(c, DropoutSite::kCrossAttnResidual),
      a.cross_block,
      [&](const float* u, float* y) { cross_attn.forward_cross(u, memory, y, cc, a.cross_attn); });
  const uint64_t ffn_seed = seed(c, DropoutSite::kFfnHidden);
  ffn_block.forward(
      a.cross_block.out.data(), N, c.dropout, seed(c, DropoutSite::kFfnResidual), a.ffn_block,
      [&](const float* u, float* y) { ffn.forward(u, y, N, c.dropout, ffn_seed, a.ffn); });
}

void DecoderLayer::backward(const float* x, const float* memory, const float* d_out, float* dx,
                            float* d_memory, const StackCall& c, Activations& a) {
  const int64_t N = c.B * c.T, D = self_attn.d_model();
  const AttentionCall sc = self_call(c), cc = cross_call(c);
  const uint64_t ffn_seed = seed(c, DropoutSite::kFfnHidden);
  a.d_mid2.resize_zero({N, D});
  ffn_block.backward(a.cross_block.out.data(), d_out, a.d_mid2.data(), N, c.dropout,
                     seed(c, DropoutSite::kFfnResidual), a.ffn_block,
                     [&](const float* u, const float* dy, float* du) {
                       ffn.backward(u, dy, du, N, c.dropout, ffn_seed, a.ffn);
                     });
  a.d_mid1.resize_zero({N, D});
  cross_block.backward(a.self_block.out.data(), a.d_mid2.data(), a.d_mid1.data(), N, c.dropout,
                       seed(c, DropoutSite::kCrossAttnResidual), a.cross_block,
                       [&](const float* u, const float* dy, float* du) {
                         cross_attn.backward_cross(u, memory, dy, du, d_memory, cc, a.cross_attn);
                       });
  self_block.backward(x, a.d_mid1.data(), dx, N, c.dropout, seed(c, DropoutSite::kSelfAttnResidual),
                      a.self_block, [&](const float* u, const float* dy, float* du) {
                        self_attn.backward_self(u, dy, du, sc, a.self_attn);
                      });
}

void DecoderLayer::pack_step(PackedStep& p, cpu::WeightFormat format) const {
  self_attn.pack_step(false, p.self_attn, format);
  cross_attn.pack_step(true, p.cross_attn, format);
  ffn.pack_step(p.ffn, format);
}

void DecoderLayer::forward_step(const float* x, int64_t B, int64_t t,
                                MultiHeadAttention::StepCache& self_cache,
                                const std::vector<cpu::StepRun>& self_runs,
                                const MultiHeadAttention::StepCache& memory_cache, int64_t Ts,
                                const uint8_t* memory_padding,
                                const std::vector<cpu::StepRun>& memory_runs, Activations& a,
                                const PackedStep* packed) const {
  // Each block's residual is added by its sub-layer's last product (ResidualBlock::forward_fused).
  self_block.forward_fused(x, B, a.self_block, [&](const float* u, const float* r, float* y) {
    self_attn.forward_self_step(u, y, B, t, self_cache, self_runs, a.self_attn,
                                packed ? &packed->self_attn : nullptr, r);
  });
  cross_block.forward_fused(
      a.self_block.out.data(), B, a.cross_block, [&](const float* u, const float* r, float* y) {
        cross_attn.forward_cross_step(u, y, B, memory_cache, Ts, memory_padding, memory_runs,
                                      a.cross_attn, packed ? &packed->cross_attn : nullptr, r);
      });
  ffn_block.forward_fused(a.cross_block.out.data(), B, a.ffn_block,
                          [&](const float* u, const float* r, float* y) {
                            if (packed != nullptr) {
                              ffn.forward_step(u, y, B, packed->ffn, a.ffn, r);
                            } else {
                              ffn.forward(u, y, B, 0.0f, 0, a.ffn);
                              if (r != nullptr) cpu::add(r, y, y, B * ffn.linear2.out());
                            }
                          });
}

void DecoderLayer::visit_params(const ParamVisitor& f) {
  // PyTorch's state_dict order: self_attn, multihead_attn, linear1, linear2, norm1..3.
  self_attn.visit_params(f);
  cross_attn.visit_params(f);
  ffn.visit_params(f);
  self_block.norm.visit_params(f);
  cross_block.norm.visit_params(f);
  ffn_block.norm.visit_params(f);
}

}  // namespace attnscope

#include "nn/encoder_layer.h"

#include <string>

#include "core/error.h"
#include "nn/dropout_sites.h"

namespace attnscope {

EncoderLayer::EncoderLayer(const ModelConfig& cfg, int64_t index) : index_(index) {
  const std::string p = "encoder.layers." + std::to_string(index) + ".";
  self_attn = MultiHeadAttention(p + "self_attn", cfg.d_model, cfg.heads, cfg.scale_scores);
  ffn = FeedForward(p, cfg.d_model, cfg.d_ff, cfg.activation);
  attn_block = ResidualBlock(p + "norm1", cfg.d_model, cfg.layer_norm_eps, cfg.norm, cfg.residual);
  ffn_block = ResidualBlock(p + "norm2", cfg.d_model, cfg.layer_norm_eps, cfg.norm, cfg.residual);
}

AttentionCall EncoderLayer::self_call(const StackCall& c) const {
  AttentionCall call;
  call.B = c.B;
  call.Tq = c.T;
  call.Tk = c.T;
  call.key_padding = c.self_padding;
  call.dropout = c.dropout;
  call.dropout_seed = site_seed(c.step_seed, encoder_site(index_, DropoutSite::kSelfAttnWeights));
  return call;
}

void EncoderLayer::pack(Packed& p, cpu::WeightFormat format) const {
  self_attn.pack_step(false, p.self_attn, format);
  ffn.pack_step(p.ffn, format);
}

void EncoderLayer::forward(const float* x, const StackCall& c, Activations& a,
                           const Packed* packed) const {
  ATTN_CHECK(packed == nullptr || c.dropout == 0.0f,
             "encoder layer {}: packed weights are for inference (no dropout)", index_);
  const int64_t N = c.B * c.T;
  const AttentionCall call = self_call(c);
  if (packed != nullptr) {  // inference: each residual added by its sub-layer's last product
    attn_block.forward_fused(x, N, a.attn_block, [&](const float* u, const float* r, float* y) {
      self_attn.forward_self(u, y, call, a.attn, &packed->self_attn, r);
    });
    ffn_block.forward_fused(a.attn_block.out.data(), N, a.ffn_block,
                            [&](const float* u, const float* r, float* y) {
                              ffn.forward_step(u, y, N, packed->ffn, a.ffn, r);
                            });
    return;
  }
  attn_block.forward(
      x, N, c.dropout, site_seed(c.step_seed, encoder_site(index_, DropoutSite::kSelfAttnResidual)),
      a.attn_block, [&](const float* u, float* y) { self_attn.forward_self(u, y, call, a.attn); });
  const uint64_t ffn_seed = site_seed(c.step_seed, encoder_site(index_, DropoutSite::kFfnHidden));
  ffn_block.forward(
      a.attn_block.out.data(), N, c.dropout,
      site_seed(c.step_seed, encoder_site(index_, DropoutSite::kFfnResidual)), a.ffn_block,
      [&](const float* u, float* y) { ffn.forward(u, y, N, c.dropout, ffn_seed, a.ffn); });
}

void EncoderLayer::backward(const float* x, const float* d_out, float* dx, const StackCall& c,
                            Activations& a) {
  const int64_t N = c.B * c.T;
  const AttentionCall call = self_call(c);
  const uint64_t ffn_seed = site_seed(c.step_seed, encoder_site(index_, DropoutSite::kFfnHidden));
  a.d_mid.resize_zero({N, self_attn.d_model()});
  ffn_block.backward(a.attn_block.out.data(), d_out, a.d_mid.data(), N, c.dropout,
                     site_seed(c.step_seed, encoder_site(index_, DropoutSite::kFfnResidual)),
                     a.ffn_block, [&](const float* u, const float* dy, float* du) {
                       ffn.backward(u, dy, du, N, c.dropout, ffn_seed, a.ffn);
                     });
  attn_block.backward(x, a.d_mid.data(), dx, N, c.dropout,
                      site_seed(c.step_seed, encoder_site(index_, DropoutSite::kSelfAttnResidual)),
                      a.attn_block, [&](const float* u, const float* dy, float* du) {
                        self_attn.backward_self(u, dy, du, call, a.attn);
                      });
}

void EncoderLayer::visit_params(const ParamVisitor& f) {
  // PyTorch's state_dict order: self_attn, linear1, linear2, norm1, norm2.
  self_attn.visit_params(f);
  ffn.visit_params(f);
  attn_block.norm.visit_params(f);
  ffn_block.norm.visit_params(f);
}

}  // namespace attnscope

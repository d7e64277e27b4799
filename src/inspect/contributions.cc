#include "inspect/contributions.h"

#include <fmt/format.h>

#include <cmath>
#include <string>

#include "core/error.h"

namespace attnscope {

namespace {

const Tensor& find_param(Transformer& model, const std::string& name) {
  const Tensor* found = nullptr;
  model.visit_params([&](Param& p) {
    if (p.name == name) found = &p.value;
  });
  ATTN_CHECK(found != nullptr, "the model has no parameter {}", name);
  return *found;
}

}  // namespace

std::vector<LayerContributions> value_weighted_contributions(Transformer& model,
                                                             AttentionKind kind) {
  const ModelConfig& cfg = model.config();
  const int64_t D = cfg.d_model, H = cfg.heads, dh = D / H;
  const Transformer::Activations& act = model.activations();
  const int64_t L = model.num_layers(kind);
  const char* kind_name = attention_kind_name(kind).data();
  std::vector<LayerContributions> out;
  for (int64_t l = 0; l < L; ++l) {
    const size_t li = static_cast<size_t>(l);
    const bool encoder = kind == AttentionKind::kEncoderSelf;
    const bool cross = kind == AttentionKind::kCross;
    ATTN_CHECK(encoder ? li < act.encoder.size() : li < act.decoder.size(),
               "no {} activations for layer {}: run Transformer::forward first", kind_name, l);
    const MultiHeadAttention::Activations& a =
        encoder ? act.encoder[li].attn
                : (cross ? act.decoder[li].cross_attn : act.decoder[li].self_attn);
    const std::string prefix =
        encoder ? fmt::format("encoder.layers.{}.self_attn", l)
                : fmt::format("decoder.layers.{}.{}", l, cross ? "multihead_attn" : "self_attn");
    const Tensor& W = find_param(model, prefix + ".out_proj.weight");  // [D, D]
    const Tensor& probs = a.probs;                                     // [B, H, Tq, Tk]
    ATTN_CHECK(probs.rank() == 4 && probs.dim(1) == H,
               "{} layer {}: attention weights {} are not [B, {}, Tq, Tk]", kind_name, l,
               probs.shape_str(), H);
    const int64_t B = probs.dim(0), Tq = probs.dim(2), Tk = probs.dim(3);
    // The value vectors: self qkv [B, T, 3D] (V at columns 2D..), cross kv [B, Tk, 2D] (V at D..).
    const Tensor& packed = cross ? a.kv : a.qkv;
    const int64_t stride = cross ? 2 * D : 3 * D, v_off = cross ? D : 2 * D;
    const bool consistent = packed.rank() == 3 && packed.dim(0) == B && packed.dim(1) == Tk &&
                            packed.dim(2) == stride && (cross || Tq == Tk) && a.qkv.rank() == 3 &&
                            a.qkv.dim(1) == Tq;
    ATTN_CHECK(consistent,
               "{} layer {}: the kept activations (values {}, weights {}) are not those of one "
               "full forward pass; run Transformer::forward before reading contributions",
               kind_name, l, packed.shape_str(), probs.shape_str());

    LayerContributions c;
    c.value_norms = Tensor({B, H, Tk});
    c.per_head = Tensor({B, H, Tq, Tk});
    c.summed = Tensor({B, Tq, Tk});
    // f [B, H, Tk, D]: f_h(j)[o] = Σ_c v[b, j, h·dh + c] · W[o, h·dh + c]
    Tensor f({B, H, Tk, D});
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t j = 0; j < Tk; ++j) {
          const float* v = packed.data() + (b * Tk + j) * stride + v_off + h * dh;
          float* fj = f.data() + ((b * H + h) * Tk + j) * D;
          double norm2 = 0;
          for (int64_t o = 0; o < D; ++o) {
            const float* w = W.data() + o * D + h * dh;
            double s = 0;
            for (int64_t k = 0; k < dh; ++k) s += static_cast<double>(v[k]) * w[k];
            fj[o] = static_cast<float>(s);
            norm2 += s * s;
          }
          c.value_norms[(b * H + h) * Tk + j] = static_cast<float>(std::sqrt(norm2));
        }
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t i = 0; i < Tq; ++i)
          for (int64_t j = 0; j < Tk; ++j) {
            const int64_t at = ((b * H + h) * Tq + i) * Tk + j;
            c.per_head[at] = probs[at] * c.value_norms[(b * H + h) * Tk + j];
          }
    std::vector<double> sum(static_cast<size_t>(D));
    for (int64_t b = 0; b < B; ++b)
      for (int64_t i = 0; i < Tq; ++i)
        for (int64_t j = 0; j < Tk; ++j) {
          std::fill(sum.begin(), sum.end(), 0.0);
          for (int64_t h = 0; h < H; ++h) {
            const double alpha = probs[((b * H + h) * Tq + i) * Tk + j];
            if (alpha == 0) continue;
            const float* fj = f.data() + ((b * H + h) * Tk + j) * D;
            for (int64_t o = 0; o < D; ++o) sum[o] += alpha * fj[o];
          }
          double norm2 = 0;
          for (double s : sum) norm2 += s * s;
          c.summed[(b * Tq + i) * Tk + j] = static_cast<float>(std::sqrt(norm2));
        }
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace attnscope

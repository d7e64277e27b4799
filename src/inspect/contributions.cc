#include "inspect/contributions.h"

#include <fmt/format.h>

#include <cmath>
#include <string>

#include "core/error.h"

namespace attnscope {

std::vector<LayerContributions> value_weighted_contributions(const Seq2SeqModel& model,
                                                             AttentionKind kind) {
  const ModelInfo info = model.info();
  ATTN_CHECK(info.value_vectors,
             "value-weighted contributions need the value vectors of each attention head: an {} "
             "model has none",
             info.arch);
  const int64_t H = info.heads;
  const int64_t L = model.num_layers(kind);
  const char* kind_name = attention_kind_name(kind).data();
  std::vector<LayerContributions> out;
  for (int64_t l = 0; l < L; ++l) {
    // The values first: they say when the last pass was not a full forward.
    const Tensor values = model.attention_values(kind, l);     // [B, H, Tk, dh]
    const Tensor& W = model.attention_output_weight(kind, l);  // [D, H·dh]
    const Tensor& probs = model.attention(kind, l);            // [B, H, Tq, Tk]
    ATTN_CHECK(probs.rank() == 4 && probs.dim(1) == H,
               "{} layer {}: attention weights {} are not [B, {}, Tq, Tk]", kind_name, l,
               probs.shape_str(), H);
    const int64_t B = probs.dim(0), Tq = probs.dim(2), Tk = probs.dim(3);
    ATTN_CHECK(values.rank() == 4 && values.dim(0) == B && values.dim(1) == H &&
                   values.dim(2) == Tk && W.rank() == 2 && W.dim(1) == H * values.dim(3),
               "{} layer {}: value vectors {} and output projection {} do not fit the weights {}",
               kind_name, l, values.shape_str(), W.shape_str(), probs.shape_str());
    const int64_t dh = values.dim(3), D = W.dim(0), HD = W.dim(1);

    LayerContributions c;
    c.value_norms = Tensor({B, H, Tk});
    c.per_head = Tensor({B, H, Tq, Tk});
    c.summed = Tensor({B, Tq, Tk});
    // f [B, H, Tk, D]: f_h(j)[o] = Σ_c v[b, h, j, c] · W[o, h·dh + c]
    Tensor f({B, H, Tk, D});
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t j = 0; j < Tk; ++j) {
          const float* v = values.data() + ((b * H + h) * Tk + j) * dh;
          float* fj = f.data() + ((b * H + h) * Tk + j) * D;
          double norm2 = 0;
          for (int64_t o = 0; o < D; ++o) {
            const float* w = W.data() + o * HD + h * dh;
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

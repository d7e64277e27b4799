// Value-weighted contributions: equal to a naive recomputation from the model's weights and each
// layer's input (the naive vectors themselves add up to the attention output the forward pass
// produced), the norm relations (α·‖f‖, triangle inequality, one head = summed, a query that
// sees one key), zero for masked keys, and errors when there was no full forward pass.
#include "inspect/contributions.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "core/error.h"
#include "nn/seq2seq_model.h"
#include "nn/transformer.h"

namespace attnscope {
namespace {

ModelConfig config(int64_t heads) {
  ModelConfig c;
  c.d_model = 8;
  c.heads = heads;
  c.encoder_layers = 2;
  c.decoder_layers = 2;
  c.d_ff = 12;
  c.src_vocab = 13;
  c.tgt_vocab = 11;
  c.max_len = 16;
  c.dropout = 0;
  return c;
}

const int32_t P = 0;
TokenBatch sources() {
  return TokenBatch{2, 5, {5, 6, 7, 8, 2, 9, 4, 2, P, P}};
}
TokenBatch targets() {
  return TokenBatch{2, 4, {1, 4, 5, 6, 1, 9, P, P}};
}

std::map<std::string, Tensor> params(Transformer& m) {
  std::map<std::string, Tensor> out;
  m.visit_params([&](Param& p) { out[p.name] = p.value; });
  return out;
}

struct Case {
  AttentionKind kind;
  int64_t layer;
};

// Per (kind, layer): the naive f [B, H, Tk, D], from the layer's input x (post-norm: the
// attention reads the layer input itself; cross-attention reads the memory).
Tensor naive_f(Transformer& m, const Case& c) {
  const ModelConfig& cfg = m.config();
  const int64_t D = cfg.d_model, H = cfg.heads, dh = D / H;
  const auto& act = m.activations();
  const size_t l = static_cast<size_t>(c.layer);
  const Tensor* x = nullptr;
  std::string prefix;
  switch (c.kind) {
    case AttentionKind::kEncoderSelf:
      x = l == 0 ? &act.src_embedded : &act.encoder[l - 1].out();
      prefix = "encoder.layers." + std::to_string(l) + ".self_attn";
      break;
    case AttentionKind::kDecoderSelf:
      x = l == 0 ? &act.tgt_embedded : &act.decoder[l - 1].out();
      prefix = "decoder.layers." + std::to_string(l) + ".self_attn";
      break;
    case AttentionKind::kCross:
      x = &act.memory;
      prefix = "decoder.layers." + std::to_string(l) + ".multihead_attn";
      break;
  }
  auto p = params(m);
  const Tensor& Win = p.at(prefix + ".in_proj_weight");  // [3D, D]
  const Tensor& bin = p.at(prefix + ".in_proj_bias");
  const Tensor& Wo = p.at(prefix + ".out_proj.weight");  // [D, D]
  // Layer outputs are kept flat [B·T, D]; the sizes come from the weights [B, H, Tq, Tk].
  const Tensor& alpha = m.attention(c.kind, c.layer);
  const int64_t B = alpha.dim(0), Tk = alpha.dim(3);
  Tensor f({B, H, Tk, D});
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = 0; j < Tk; ++j) {
      // v = x_j · W_Vᵀ + b_V, W_V = rows 2D..3D of in_proj
      std::vector<double> v(static_cast<size_t>(D));
      for (int64_t r = 0; r < D; ++r) {
        double s = bin[2 * D + r];
        for (int64_t k = 0; k < D; ++k) s += Win[(2 * D + r) * D + k] * (*x)[(b * Tk + j) * D + k];
        v[r] = s;
      }
      for (int64_t h = 0; h < H; ++h)
        for (int64_t o = 0; o < D; ++o) {
          double s = 0;
          for (int64_t k = 0; k < dh; ++k) s += v[h * dh + k] * Wo[o * D + h * dh + k];
          f[((b * H + h) * Tk + j) * D + o] = static_cast<float>(s);
        }
    }
  return f;
}

const Tensor& attention_output(Transformer& m, const Case& c) {  // y [B, Tq, D] before residual
  const auto& act = m.activations();
  const size_t l = static_cast<size_t>(c.layer);
  switch (c.kind) {
    case AttentionKind::kEncoderSelf:
      return act.encoder[l].attn_block.y;
    case AttentionKind::kDecoderSelf:
      return act.decoder[l].self_block.y;
    case AttentionKind::kCross:
      break;
  }
  return act.decoder[l].cross_block.y;
}

std::string out_bias_name(const Case& c) {
  const std::string l = std::to_string(c.layer);
  switch (c.kind) {
    case AttentionKind::kEncoderSelf:
      return "encoder.layers." + l + ".self_attn.out_proj.bias";
    case AttentionKind::kDecoderSelf:
      return "decoder.layers." + l + ".self_attn.out_proj.bias";
    case AttentionKind::kCross:
      break;
  }
  return "decoder.layers." + l + ".multihead_attn.out_proj.bias";
}

TEST(Contributions, EqualNaiveRecomputationFromWeightsAndInputs) {
  Transformer model(config(2));
  model.init_weights(11);
  // Non-zero biases, so that b_V (in the values) and b_O (not in the contributions) matter.
  model.visit_params([](Param& p) {
    if (p.name.find("bias") != std::string::npos)
      for (int64_t i = 0; i < p.value.numel(); ++i)
        p.value[i] = 0.1f * static_cast<float>((i * 7) % 5) - 0.2f;
  });
  model.forward(sources(), targets(), {});
  const int64_t H = 2, D = 8;
  for (AttentionKind kind : kAllAttentionKinds) {
    const auto contrib = value_weighted_contributions(model, kind);
    ASSERT_EQ(contrib.size(), 2u);
    for (int64_t l = 0; l < 2; ++l) {
      const Case c{kind, l};
      SCOPED_TRACE(std::string(attention_kind_name(kind)) + " layer " + std::to_string(l));
      const LayerContributions& lc = contrib[static_cast<size_t>(l)];
      const Tensor& alpha = model.attention(kind, l);  // [B, H, Tq, Tk]
      const int64_t B = alpha.dim(0), Tq = alpha.dim(2), Tk = alpha.dim(3);
      ASSERT_EQ(lc.per_head.shape(), alpha.shape());
      ASSERT_EQ(lc.summed.shape(), (Shape{B, Tq, Tk}));
      ASSERT_EQ(lc.value_norms.shape(), (Shape{B, H, Tk}));
      const Tensor f = naive_f(model, c);
      const Tensor& y = attention_output(model, c);
      const Tensor bo = params(model).at(out_bias_name(c));
      for (int64_t b = 0; b < B; ++b)
        for (int64_t i = 0; i < Tq; ++i) {
          std::vector<double> total(static_cast<size_t>(D), 0.0);
          for (int64_t j = 0; j < Tk; ++j) {
            std::vector<double> sum(static_cast<size_t>(D), 0.0);
            for (int64_t h = 0; h < H; ++h) {
              const double a = alpha[((b * H + h) * Tq + i) * Tk + j];
              double n2 = 0;
              for (int64_t o = 0; o < D; ++o) {
                const double v = a * f[((b * H + h) * Tk + j) * D + o];
                n2 += v * v;
                sum[o] += v;
              }
              EXPECT_NEAR(lc.per_head[((b * H + h) * Tq + i) * Tk + j], std::sqrt(n2), 1e-5);
            }
            double n2 = 0;
            for (int64_t o = 0; o < D; ++o) {
              n2 += sum[o] * sum[o];
              total[o] += sum[o];
            }
            EXPECT_NEAR(lc.summed[(b * Tq + i) * Tk + j], std::sqrt(n2), 1e-5);
          }
          // The naive vectors add up to what the forward pass produced: y_i − b_O.
          for (int64_t o = 0; o < D; ++o)
            EXPECT_NEAR(total[o], y[(b * Tq + i) * D + o] - bo[o], 1e-5) << b << " " << i;
        }
      for (int64_t b = 0; b < B; ++b)
        for (int64_t h = 0; h < H; ++h)
          for (int64_t j = 0; j < Tk; ++j) {
            double n2 = 0;
            for (int64_t o = 0; o < D; ++o) {
              const double v = f[((b * H + h) * Tk + j) * D + o];
              n2 += v * v;
            }
            EXPECT_NEAR(lc.value_norms[(b * H + h) * Tk + j], std::sqrt(n2), 1e-5);
          }
    }
  }
}

TEST(Contributions, NormRelations) {
  Transformer model(config(2));
  model.init_weights(5);
  model.forward(sources(), targets(), {});
  const int64_t H = 2, D = 8;
  for (AttentionKind kind : kAllAttentionKinds) {
    const auto contrib = value_weighted_contributions(model, kind);
    for (int64_t l = 0; l < 2; ++l) {
      SCOPED_TRACE(std::string(attention_kind_name(kind)) + " layer " + std::to_string(l));
      const LayerContributions& lc = contrib[static_cast<size_t>(l)];
      const Tensor& alpha = model.attention(kind, l);
      const int64_t B = alpha.dim(0), Tq = alpha.dim(2), Tk = alpha.dim(3);
      const Tensor& y = attention_output(model, {kind, l});
      const Tensor bo = params(model).at(out_bias_name({kind, l}));
      for (int64_t b = 0; b < B; ++b)
        for (int64_t i = 0; i < Tq; ++i) {
          double row_sum = 0;
          for (int64_t j = 0; j < Tk; ++j) {
            double heads = 0;
            for (int64_t h = 0; h < H; ++h) {
              const int64_t at = ((b * H + h) * Tq + i) * Tk + j;
              // ‖α f‖ = α ‖f‖
              EXPECT_NEAR(lc.per_head[at], alpha[at] * lc.value_norms[(b * H + h) * Tk + j], 1e-6);
              heads += lc.per_head[at];
            }
            const float s = lc.summed[(b * Tq + i) * Tk + j];
            EXPECT_LE(s, heads + 1e-5);  // heads can cancel, never add up to more
            row_sum += s;
            // Masked keys (padding, the future) contribute nothing.
            if (alpha[((b * H) * Tq + i) * Tk + j] == 0 &&
                alpha[((b * H + 1) * Tq + i) * Tk + j] == 0) {
              EXPECT_EQ(s, 0.0f);
            }
          }
          // Σ_j ‖Σ_h α f‖ ≥ ‖Σ_j Σ_h α f‖ = ‖y_i − b_O‖
          double n2 = 0;
          for (int64_t o = 0; o < D; ++o) {
            const double v = y[(b * Tq + i) * D + o] - bo[o];
            n2 += v * v;
          }
          EXPECT_GE(row_sum, std::sqrt(n2) - 1e-5);
          // A query that sees one key only (decoder self row 0): equality.
          if (kind == AttentionKind::kDecoderSelf && i == 0) {
            EXPECT_NEAR(lc.summed[(b * Tq) * Tk], std::sqrt(n2), 1e-5);
          }
        }
      // Padded source keys of sentence 1 (columns 3, 4) get exactly zero.
      if (kind != AttentionKind::kDecoderSelf) {
        for (int64_t i = 0; i < Tq; ++i)
          for (int64_t j = 3; j < 5; ++j) EXPECT_EQ(lc.summed[(1 * Tq + i) * Tk + j], 0.0f);
      }
    }
  }
}

TEST(Contributions, OneHeadSummedEqualsPerHead) {
  Transformer model(config(1));
  model.init_weights(2);
  model.forward(sources(), targets(), {});
  for (AttentionKind kind : kAllAttentionKinds)
    for (const LayerContributions& lc : value_weighted_contributions(model, kind)) {
      ASSERT_EQ(lc.summed.numel(), lc.per_head.numel());
      for (int64_t k = 0; k < lc.summed.numel(); ++k)
        EXPECT_NEAR(lc.summed[k], lc.per_head[k], 1e-6);
    }
}

// What the model interface hands contributions: the V rows of in_proj applied to the keys'
// input, split by head, and out_proj.weight itself.
TEST(Contributions, ValueVectorsThroughTheModelInterface) {
  Transformer model(config(2));
  model.init_weights(5);
  model.forward(sources(), targets(), {});
  const Seq2SeqModel& m = model;
  EXPECT_TRUE(m.info().value_vectors);
  auto p = params(model);
  const int64_t D = 8, H = 2, dh = D / H;
  for (const Case c : {Case{AttentionKind::kEncoderSelf, 1}, Case{AttentionKind::kDecoderSelf, 0},
                       Case{AttentionKind::kCross, 1}}) {
    const Tensor v = m.attention_values(c.kind, c.layer);
    const Tensor& alpha = m.attention(c.kind, c.layer);
    const int64_t B = alpha.dim(0), Tk = alpha.dim(3);
    ASSERT_EQ(v.shape(), (Shape{B, H, Tk, dh}));
    // f = v·W_O^h per head must equal the naive f: v and W_O are what contributions multiplies.
    const Tensor& Wo = m.attention_output_weight(c.kind, c.layer);
    const std::string prefix = out_bias_name(c).substr(0, out_bias_name(c).size() - 5);
    EXPECT_EQ(Wo.to_vector(), p.at(prefix + ".weight").to_vector());
    const Tensor f = naive_f(model, c);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t j = 0; j < Tk; ++j)
          for (int64_t o = 0; o < D; ++o) {
            double s = 0;
            for (int64_t k = 0; k < dh; ++k)
              s += v[((b * H + h) * Tk + j) * dh + k] * Wo[o * D + h * dh + k];
            ASSERT_NEAR(s, f[((b * H + h) * Tk + j) * D + o], 1e-5);
          }
  }
  EXPECT_THROW(m.attention_values(AttentionKind::kCross, 2), Error);  // no layer 2
}

TEST(Contributions, NeedsAFullForwardPass) {
  Transformer model(config(2));
  model.init_weights(1);
  EXPECT_THROW(value_weighted_contributions(model, AttentionKind::kEncoderSelf), Error);
  EXPECT_THROW(value_weighted_contributions(model, AttentionKind::kCross), Error);
  auto cache = model.start_decoding(sources(), 1, 4);
  EXPECT_NO_THROW(value_weighted_contributions(model, AttentionKind::kEncoderSelf));
  model.decode_step(*cache, {1, 1});
  model.decode_step(*cache, {4, 9});
  try {
    value_weighted_contributions(model, AttentionKind::kDecoderSelf);
    ADD_FAILURE() << "no error after decode_step";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("run forward"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace attnscope

// Finite-difference gradient checks of the whole Transformer (every module's backward at once)
// on a tiny model, across the switches: post/pre-norm, ReLU/GELU/tanh GELU/SiLU, tied and shared
// embeddings, no final norms, no residual, no 1/√d_k, dropout on (fixed masks), positions in
// halves and as parameter tables, Marian's source-tail padding mask, and padding on both sides.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "core/error.h"
#include "core/rng.h"
#include "nn/transformer.h"
#include "tiny_transformer.h"
#include "train/loss.h"

namespace attnscope {
namespace {

struct GradCase {
  std::string name;
  ModelConfig cfg;
  bool training = false;
};
// ctest lists the case by its name, not its bytes.
void PrintTo(const GradCase& c, std::ostream* os) {
  *os << c.name;
}

ModelConfig tiny() {
  return test::tiny_transformer_config();
}

std::vector<GradCase> cases() {
  std::vector<GradCase> v;
  v.push_back({"post_gelu", tiny()});
  {
    auto c = tiny();
    c.norm = NormPlacement::kPre;
    v.push_back({"pre_gelu", c});
  }
  {
    auto c = tiny();
    c.activation = cpu::Activation::kRelu;
    c.tie_output = true;
    v.push_back({"relu_tied_output", c});
  }
  {
    auto c = tiny();
    c.src_vocab = c.tgt_vocab = 10;
    c.share_embeddings = true;
    c.tie_output = true;
    c.final_norms = false;
    c.norm = NormPlacement::kPre;
    v.push_back({"shared_embeddings_no_final_norms", c});
  }
  {
    auto c = tiny();
    c.residual = false;
    c.scale_scores = false;
    c.embed_scale = false;
    v.push_back({"no_residual_no_scale", c});
  }
  {
    auto c = tiny();
    c.dropout = 0.2f;
    v.push_back({"dropout_fixed_masks", c, true});
  }
  {
    auto c = tiny();
    c.encoder_layers = 1;
    c.decoder_layers = 1;
    c.heads = 4;
    c.generator_bias = false;
    v.push_back({"four_heads_one_layer", c});
  }
  {
    // Hugging Face Marian's switches: SiLU, sinusoid halves, no final norms, shared and tied
    // tables with a generator bias, only the source's trailing pads masked.
    auto c = tiny();
    c.src_vocab = c.tgt_vocab = 10;
    c.share_embeddings = true;
    c.tie_output = true;
    c.final_norms = false;
    c.activation = cpu::Activation::kSilu;
    c.positions = Positions::kSinusoidHalves;
    c.padding_mask = PaddingMask::kSourceTail;
    v.push_back({"marian_silu_halves_source_tail", c});
  }
  {
    // Position tables as parameters (their gradients checked too), tanh GELU.
    auto c = tiny();
    c.activation = cpu::Activation::kGeluTanh;
    c.positions = Positions::kTable;
    v.push_back({"gelu_tanh_position_tables", c, true});
  }
  return v;
}

class TransformerGradient : public ::testing::TestWithParam<GradCase> {};

TEST_P(TransformerGradient, MatchesFiniteDifferences) {
  const GradCase& gc = GetParam();
  Transformer model(gc.cfg);
  model.init_weights(7);
  // Larger random biases and norm gains than the init, so no gradient is trivially zero.
  Rng rng(11);
  model.visit_params([&](Param& p) {
    if (p.value.rank() == 1)
      for (int64_t i = 0; i < p.value.numel(); ++i) p.value[i] += 0.2f * rng.normal();
  });
  model.alloc_grads();
  model.zero_grads();

  // Padding on both sides: source lengths 5 and 3, target lengths 4 and 6.
  const int32_t pad = gc.cfg.pad_id;
  TokenBatch src{2, 5, {5, 6, 7, 8, 2, 9, 4, 2, pad, pad}};
  TokenBatch tgt_in{2, 6, {1, 3, 4, 5, pad, pad, 1, 6, 7, 3, 4, 8}};
  TokenBatch tgt_out{2, 6, {3, 4, 5, 2, pad, pad, 6, 7, 3, 4, 8, 2}};
  ForwardOptions opt{gc.training, 1234};
  const float ls = 0.1f;

  auto loss_at = [&]() {
    return sequence_loss(model.forward(src, tgt_in, opt), tgt_out, pad, ls, nullptr).mean;
  };
  Tensor d_logits;
  sequence_loss(model.forward(src, tgt_in, opt), tgt_out, pad, ls, &d_logits);
  model.backward(d_logits);

  // Central differences on a sample of every parameter's entries.
  const float eps = 2e-3f;
  int checked = 0;
  double worst = 0;
  std::string worst_where;
  model.visit_params([&](Param& p) {
    const int64_t n = p.value.numel();
    const int64_t samples = std::min<int64_t>(n, 6);
    for (int64_t s = 0; s < samples; ++s) {
      const int64_t i = (s * 7919 + 13) % n;
      const float saved = p.value[i];
      p.value[i] = saved + eps;
      const double up = loss_at();
      p.value[i] = saved - eps;
      const double down = loss_at();
      p.value[i] = saved;
      const double numeric = (up - down) / (2.0 * eps);
      const double analytic = p.grad[i];
      const double err = std::abs(numeric - analytic) / std::max(1e-2, std::abs(numeric));
      if (err > worst) {
        worst = err;
        worst_where = p.name + "[" + std::to_string(i) + "] analytic " + std::to_string(analytic) +
                      " numeric " + std::to_string(numeric);
      }
      ++checked;
    }
  });
  EXPECT_GT(checked, 50);
  EXPECT_LT(worst, 2e-2) << "worst entry: " << worst_where;
}

INSTANTIATE_TEST_SUITE_P(Configs, TransformerGradient, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<GradCase>& i) { return i.param.name; });

TEST(TransformerAttention, MasksAndRowSums) {
  ModelConfig c = tiny();
  Transformer model(c);
  model.init_weights(3);
  const int32_t pad = c.pad_id;
  TokenBatch src{2, 4, {5, 6, 7, 2, 8, 2, pad, pad}};
  TokenBatch tgt{2, 3, {1, 3, 4, 1, pad, pad}};
  model.forward(src, tgt, ForwardOptions{});
  for (AttentionKind kind : kAllAttentionKinds) {
    for (int64_t l = 0; l < model.num_layers(kind); ++l) {
      const Tensor& p = model.attention(kind, l);
      const int64_t B = p.dim(0), H = p.dim(1), Tq = p.dim(2), Tk = p.dim(3);
      for (int64_t b = 0; b < B; ++b)
        for (int64_t h = 0; h < H; ++h)
          for (int64_t i = 0; i < Tq; ++i) {
            double sum = 0;
            for (int64_t j = 0; j < Tk; ++j) {
              const float w = p[((b * H + h) * Tq + i) * Tk + j];
              ASSERT_FALSE(std::isnan(w));
              const bool key_is_pad =
                  kind == AttentionKind::kDecoderSelf ? tgt.at(b, j) == pad : src.at(b, j) == pad;
              const bool future = kind == AttentionKind::kDecoderSelf && j > i;
              if (key_is_pad || future) {
                EXPECT_EQ(w, 0.0f) << attention_kind_name(kind);
              }
              sum += w;
            }
            EXPECT_NEAR(sum, 1.0, 1e-5) << attention_kind_name(kind) << " layer " << l;
          }
    }
  }
}

TEST(TransformerAttention, SourceTailMasksOnlyTheSourcesTrailingPads) {
  // Hugging Face Marian: a pad id inside the source (a literal <pad> in the text) is a token;
  // the pads after the last token are padding; the decoder masks nothing but the future (its
  // start token is the pad id).
  ModelConfig c = tiny();
  c.padding_mask = PaddingMask::kSourceTail;
  Transformer model(c);
  model.init_weights(3);
  const int32_t pad = c.pad_id;
  TokenBatch src{2, 5, {5, pad, 7, 2, pad, 8, 2, pad, pad, pad}};
  TokenBatch tgt{2, 3, {pad, 3, 4, pad, 5, pad}};
  model.forward(src, tgt, ForwardOptions{});
  const int64_t src_len[2] = {4, 2};
  for (AttentionKind kind : kAllAttentionKinds) {
    const Tensor& p = model.attention(kind, 0);
    const int64_t H = p.dim(1), Tq = p.dim(2), Tk = p.dim(3);
    for (int64_t b = 0; b < 2; ++b)
      for (int64_t i = 0; i < Tq; ++i)
        for (int64_t j = 0; j < Tk; ++j) {
          const float w = p[((b * H + 0) * Tq + i) * Tk + j];
          const bool masked = kind == AttentionKind::kDecoderSelf ? j > i : j >= src_len[b];
          if (masked)
            EXPECT_EQ(w, 0.0f) << attention_kind_name(kind) << " " << b << " " << i << " " << j;
          else
            EXPECT_GT(w, 0.0f) << attention_kind_name(kind) << " " << b << " " << i << " " << j;
        }
  }
}

TEST(TransformerErrors, BadTokenIdNamesSideAndPosition) {
  Transformer model(tiny());
  TokenBatch src{1, 3, {5, 99, 2}};
  TokenBatch tgt{1, 2, {1, 3}};
  try {
    model.forward(src, tgt, ForwardOptions{});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("source token id 99"), std::string::npos) << e.what();
  }
}

TEST(TransformerErrors, TooLongForPositionalEncoding) {
  ModelConfig c = tiny();
  c.max_len = 4;
  Transformer model(c);
  TokenBatch src{1, 5, {5, 6, 7, 8, 2}};
  TokenBatch tgt{1, 2, {1, 3}};
  EXPECT_THROW(model.forward(src, tgt, ForwardOptions{}), Error);
}

}  // namespace
}  // namespace attnscope

// Head gates (nn/multi_head_attention.h) and --mask-heads (nn/head_mask.h): a gate of 0 is the
// head's slice of W_O's input zeroed, in the teacher-forced pass and in every decode step; the
// gate's gradient and the input embeddings' gradient against finite differences; a whole layer
// masked stays finite; the parser's and the model's refusals.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "core/error.h"
#include "core/rng.h"
#include "io/model_dir.h"
#include "nn/head_mask.h"
#include "nn/rnn_seq2seq_model.h"
#include "nn/transformer.h"
#include "tiny_transformer.h"

namespace attnscope {
namespace {

ModelConfig tiny() {
  return test::tiny_transformer_config();
}

const TokenBatch kSrc{2, 5, {5, 6, 7, 8, 2, 9, 4, 2, 0, 0}};
const TokenBatch kTgt{2, 4, {1, 3, 4, 5, 1, 6, 7, 0}};

void zero_head_columns(Seq2SeqModel& m, AttentionKind kind, int64_t layer, int64_t head) {
  // W_O [D, D]: head h's part of its input is columns h·dh … (h+1)·dh − 1.
  auto& w = const_cast<Tensor&>(m.attention_output_weight(kind, layer));
  const int64_t D = w.dim(0), dh = D / m.info().heads;
  for (int64_t r = 0; r < D; ++r)
    for (int64_t c = head * dh; c < (head + 1) * dh; ++c) w[r * D + c] = 0.0f;
}

void expect_same(const Tensor& a, const Tensor& b, const std::string& what) {
  ASSERT_EQ(a.numel(), b.numel()) << what;
  for (int64_t i = 0; i < a.numel(); ++i) ASSERT_NEAR(a[i], b[i], 1e-5f) << what << " at " << i;
}

// The greedy decode steps' logits, 4 steps from bos.
std::vector<Tensor> decode_steps(Seq2SeqModel& m) {
  auto state = m.start_decoding(kSrc, 1, 8);
  std::vector<int32_t> tokens(2, 1);
  std::vector<Tensor> out;
  for (int step = 0; step < 4; ++step) {
    const Tensor& logits = m.decode_step(*state, tokens);
    out.push_back(logits.clone());
    for (int64_t r = 0; r < 2; ++r) tokens[static_cast<size_t>(r)] = 3 + step;
  }
  return out;
}

TEST(HeadGates, MaskedHeadEqualsZeroedSliceOfOutputProjectionInput) {
  for (AttentionKind kind : kAllAttentionKinds) {
    Transformer gated(tiny()), zeroed(tiny());
    gated.init_weights(5);
    zeroed.init_weights(5);
    apply_head_masks(gated, parse_head_masks(std::string(attention_kind_name(kind)) + ":1:1", "m"),
                     "m");
    EXPECT_EQ(gated.head_gates(kind, 1), (std::vector<float>{1.0f, 0.0f}));
    zero_head_columns(zeroed, kind, 1, 1);
    const std::string what(attention_kind_name(kind));
    expect_same(gated.forward(kSrc, kTgt, {}), zeroed.forward(kSrc, kTgt, {}), what + " forward");
    const auto a = decode_steps(gated), b = decode_steps(zeroed);
    for (size_t s = 0; s < a.size(); ++s) expect_same(a[s], b[s], what + " decode step");
    // And the mask changes something: the unmasked model differs.
    Transformer plain(tiny());
    plain.init_weights(5);
    const Tensor p = plain.forward(kSrc, kTgt, {}).clone();
    const Tensor& g = gated.forward(kSrc, kTgt, {});
    double diff = 0;
    for (int64_t i = 0; i < p.numel(); ++i) diff += std::abs(p[i] - g[i]);
    EXPECT_GT(diff, 1e-3) << what;
  }
}

TEST(HeadGates, EveryHeadOfEveryLayerMaskedStaysFinite) {
  Transformer m(tiny());
  m.init_weights(5);
  apply_head_masks(m, parse_head_masks("encoder_self:*:*,decoder_self:1:*,cross:*:*", "m"), "m");
  const Tensor& logits = m.forward(kSrc, kTgt, {});
  for (int64_t i = 0; i < logits.numel(); ++i) ASSERT_TRUE(std::isfinite(logits[i]));
  for (const Tensor& t : decode_steps(m))
    for (int64_t i = 0; i < t.numel(); ++i) ASSERT_TRUE(std::isfinite(t[i]));
  apply_head_masks(m, {}, "m");  // no items: nothing changes
  EXPECT_EQ(m.head_gates(AttentionKind::kCross, 0), (std::vector<float>{0.0f, 0.0f}));
  m.set_head_gates(AttentionKind::kCross, 0, {});
  EXPECT_EQ(m.head_gates(AttentionKind::kCross, 0), (std::vector<float>{1.0f, 1.0f}));
}

// L = Σ r · logits with fixed random r: its gradient is backward(r).
Tensor random_like(const Tensor& t, uint64_t seed) {
  Rng rng(seed);
  Tensor r(t.shape());
  for (int64_t i = 0; i < r.numel(); ++i) r[i] = rng.normal();
  return r;
}
double dot(const Tensor& a, const Tensor& b) {
  double s = 0;
  for (int64_t i = 0; i < a.numel(); ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

TEST(HeadGates, GateGradientMatchesFiniteDifferences) {
  Transformer m(tiny());
  m.init_weights(9);
  m.alloc_grads();
  for (AttentionKind kind : kAllAttentionKinds)
    for (int64_t l = 0; l < 2; ++l) m.set_head_gates(kind, l, {0.8f, 1.3f});
  const Tensor r = random_like(m.forward(kSrc, kTgt, {}), 3);
  m.zero_grads();
  m.backward(r);
  const float eps = 1e-2f;
  for (AttentionKind kind : kAllAttentionKinds)
    for (int64_t l = 0; l < 2; ++l) {
      const Tensor g = m.head_gate_gradient(kind, l);  // [B, H]
      ASSERT_EQ(g.dim(0), 2);
      for (int64_t h = 0; h < 2; ++h) {
        std::vector<float> gates = m.head_gates(kind, l), saved = gates;
        gates[static_cast<size_t>(h)] += eps;
        m.set_head_gates(kind, l, gates);
        const double up = dot(m.forward(kSrc, kTgt, {}), r);
        gates[static_cast<size_t>(h)] -= 2 * eps;
        m.set_head_gates(kind, l, gates);
        const double down = dot(m.forward(kSrc, kTgt, {}), r);
        m.set_head_gates(kind, l, saved);
        const double numeric = (up - down) / (2 * eps);
        const double analytic = g[h] + g[2 + h];  // both sequences
        EXPECT_NEAR(analytic, numeric, 2e-2 * std::max(1.0, std::abs(numeric)))
            << attention_kind_name(kind) << " layer " << l << " head " << h;
      }
    }
}

TEST(InputGradient, MatchesFiniteDifferencesOnBothSides) {
  Transformer m(tiny());
  m.init_weights(4);
  m.alloc_grads();
  Tensor src = m.token_embeddings(InputSide::kSource, kSrc);
  Tensor tgt = m.token_embeddings(InputSide::kTarget, kTgt);
  ForwardOptions o;
  o.src_embeddings = &src;
  o.tgt_embeddings = &tgt;
  // The given embeddings reproduce the ordinary pass.
  const Tensor plain = m.forward(kSrc, kTgt, {}).clone();
  expect_same(m.forward(kSrc, kTgt, o), plain, "given = own embeddings");
  const Tensor r = random_like(plain, 8);
  m.zero_grads();
  m.forward(kSrc, kTgt, o);
  m.backward(r);
  const Tensor gs = m.input_gradient(InputSide::kSource).clone();
  const Tensor gt = m.input_gradient(InputSide::kTarget).clone();
  const float eps = 1e-2f;
  for (Tensor* x : {&src, &tgt}) {
    const Tensor& g = x == &src ? gs : gt;
    ASSERT_EQ(g.numel(), x->numel());
    for (int64_t i = 0; i < x->numel(); i += 5) {
      const float saved = (*x)[i];
      (*x)[i] = saved + eps;
      const double up = dot(m.forward(kSrc, kTgt, o), r);
      (*x)[i] = saved - eps;
      const double down = dot(m.forward(kSrc, kTgt, o), r);
      (*x)[i] = saved;
      const double numeric = (up - down) / (2 * eps);
      EXPECT_NEAR(g[i], numeric, 2e-2 * std::max(1.0, std::abs(numeric)))
          << (x == &src ? "source" : "target") << " entry " << i;
    }
  }
  // Training steps keep no input gradient, and refuse given embeddings.
  EXPECT_THROW(m.forward(kSrc, kTgt, ForwardOptions{true, 1, &src, nullptr}), Error);
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(HeadMask, ParsesAndRefusesWithTheFlagsName) {
  const auto m = parse_head_masks("cross:1:2,encoder_self:0:*,decoder_self:*:0", "--mask-heads");
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(head_mask_name(m[0]), "cross:1:2");
  EXPECT_EQ(head_mask_name(m[1]), "encoder_self:0:*");
  EXPECT_EQ(head_mask_name(m[2]), "decoder_self:*:0");
  for (const char* bad : {"", "cross:1", "cross:1:2:3", "crossx:0:0", "cross:-1:0", "cross:a:0",
                          "cross:0:1x", "cross:0:0,", "self:0:0"}) {
    const std::string e = error_of([&] { parse_head_masks(bad, "--mask-heads"); });
    EXPECT_NE(e.find("--mask-heads"), std::string::npos) << bad << ": " << e;
  }
  EXPECT_NE(error_of([&] {
              parse_head_masks("encoder:0:0", "--mask-heads");
            }).find("encoder_self, decoder_self or cross"),
            std::string::npos);
}

TEST(HeadMask, OutOfRangeLeavesTheModelAsItWas) {
  Transformer m(tiny());
  m.init_weights(1);
  const std::string layer =
      error_of([&] { apply_head_masks(m, parse_head_masks("cross:0:0,cross:2:0", "f"), "f"); });
  EXPECT_NE(layer.find("no layer 2"), std::string::npos) << layer;
  EXPECT_EQ(m.head_gates(AttentionKind::kCross, 0), (std::vector<float>{1.0f, 1.0f}));
  const std::string head =
      error_of([&] { apply_head_masks(m, parse_head_masks("decoder_self:*:2", "f"), "f"); });
  EXPECT_NE(head.find("no head 2 (the model has heads 0–1)"), std::string::npos) << head;
}

TEST(HeadMask, TheRnnModelSaysItHasOneHead) {
  RnnConfig c;
  c.embed_size = 5;
  c.encoder_hidden = 3;
  c.decoder_hidden = 5;
  c.attention_size = 7;
  c.src_vocab = 11;
  c.tgt_vocab = 9;
  RnnSeq2SeqModel m(c);
  m.init_weights(1);
  EXPECT_FALSE(m.info().head_gates);
  const std::string e = error_of(
      [&] { apply_head_masks(m, parse_head_masks("cross:0:0", "--mask-heads"), "--mask-heads"); });
  EXPECT_NE(e.find("--mask-heads: an rnn-attention model has no head gates"), std::string::npos)
      << e;
  EXPECT_NE(e.find("one attention head"), std::string::npos) << e;
}

// A model on a device has no gates (nn/cuda/ runs its own kernels): the refusal says where the
// model is and what to do. The base class's refusal, as the CUDA Transformer inherits it.
class DeviceLikeModel : public Transformer {
 public:
  using Transformer::Transformer;
  ModelInfo info() const override {
    ModelInfo i = Transformer::info();
    i.on_device = true;
    i.device = "cuda (a test device)";
    i.head_gates = false;
    return i;
  }
  std::vector<float> head_gates(AttentionKind kind, int64_t layer) const override {
    return Seq2SeqModel::head_gates(kind, layer);
  }
};

TEST(HeadMask, AModelOnADeviceSaysToRunOnTheCpu) {
  DeviceLikeModel m(tiny());
  const std::string e = error_of(
      [&] { apply_head_masks(m, parse_head_masks("cross:0:0", "--mask-heads"), "--mask-heads"); });
  EXPECT_NE(e.find("--mask-heads: a model on cuda (a test device) has no head gates: run it on "
                   "the CPU"),
            std::string::npos)
      << e;
}

TEST(HeadMask, AMarianModelMasksLikeATransformer) {
  const std::string dir = std::string(ATTNSCOPE_TEST_DATA) + "/marian/separate_gelu/model";
  auto gated = load_model(dir), zeroed = load_model(dir), plain = load_model(dir);
  EXPECT_TRUE(gated->info().head_gates);
  apply_head_masks(*gated, parse_head_masks("cross:0:1,encoder_self:*:0", "f"), "f");
  zero_head_columns(*zeroed, AttentionKind::kCross, 0, 1);
  for (int64_t l = 0; l < zeroed->num_layers(AttentionKind::kEncoderSelf); ++l)
    zero_head_columns(*zeroed, AttentionKind::kEncoderSelf, l, 0);
  const ModelInfo info = gated->info();
  TokenBatch src{1, 4, {5, 6, 7, info.eos_id}};
  TokenBatch tgt{1, 3, {info.decoder_start_id, 8, 9}};
  const Tensor a = gated->forward(src, tgt, {}).clone();
  expect_same(a, zeroed->forward(src, tgt, {}), "marian");
  const Tensor& p = plain->forward(src, tgt, {});
  double diff = 0;
  for (int64_t i = 0; i < p.numel(); ++i) {
    ASSERT_TRUE(std::isfinite(a[i]));
    diff += std::abs(p[i] - a[i]);
  }
  EXPECT_GT(diff, 1e-4);
}

}  // namespace
}  // namespace attnscope

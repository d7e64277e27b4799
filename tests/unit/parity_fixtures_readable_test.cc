// The committed PyTorch parity fixtures (tools/make_parity_fixtures.py) read back with our own
// readers and are self-consistent: every name and shape the config implies, attention rows that
// sum to 1 with masked keys exactly 0, a gradient for every parameter and nothing else.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "io/config_json.h"
#include "io/safetensors.h"
#include "nn/model_config.h"

namespace attnscope {
namespace {

const std::string kParityDir = std::string(ATTNSCOPE_TEST_DATA) + "/parity/";

// attnscope's parameter names and shapes for a config (nn.Transformer's state_dict names).
std::map<std::string, Shape> expected_params(const ModelConfig& c) {
  const int64_t d = c.d_model, f = c.d_ff;
  std::map<std::string, Shape> p;
  p["src_embed.weight"] = {c.src_vocab, d};
  p["tgt_embed.weight"] = {c.tgt_vocab, d};
  auto attention = [&](const std::string& n) {
    p[n + ".in_proj_weight"] = {3 * d, d};
    p[n + ".in_proj_bias"] = {3 * d};
    p[n + ".out_proj.weight"] = {d, d};
    p[n + ".out_proj.bias"] = {d};
  };
  auto norm = [&](const std::string& n) {
    p[n + ".weight"] = {d};
    p[n + ".bias"] = {d};
  };
  auto ffn = [&](const std::string& n) {
    p[n + ".linear1.weight"] = {f, d};
    p[n + ".linear1.bias"] = {f};
    p[n + ".linear2.weight"] = {d, f};
    p[n + ".linear2.bias"] = {d};
  };
  for (int64_t l = 0; l < c.encoder_layers; ++l) {
    const std::string n = "encoder.layers." + std::to_string(l);
    attention(n + ".self_attn");
    ffn(n);
    norm(n + ".norm1");
    norm(n + ".norm2");
  }
  for (int64_t l = 0; l < c.decoder_layers; ++l) {
    const std::string n = "decoder.layers." + std::to_string(l);
    attention(n + ".self_attn");
    attention(n + ".multihead_attn");
    ffn(n);
    norm(n + ".norm1");
    norm(n + ".norm2");
    norm(n + ".norm3");
  }
  norm("encoder.norm");
  norm("decoder.norm");
  if (!c.tie_output) p["generator.weight"] = {c.tgt_vocab, d};
  p["generator.bias"] = {c.tgt_vocab};
  return p;
}

// a [B, H, Tq, Tk]: every row sums to 1; masked(b, q, k) entries are exactly 0.
template <typename Masked>
void check_attention(const std::string& name, const Tensor& a, Masked masked) {
  const int64_t B = a.dim(0), H = a.dim(1), Tq = a.dim(2), Tk = a.dim(3);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t q = 0; q < Tq; ++q) {
        const float* row = a.data() + ((b * H + h) * Tq + q) * Tk;
        double sum = 0;
        for (int64_t k = 0; k < Tk; ++k) {
          ASSERT_GE(row[k], 0.0f) << name;
          sum += row[k];
          if (masked(b, q, k)) {
            ASSERT_EQ(row[k], 0.0f) << name << " b=" << b << " h=" << h << " q=" << q << " k=" << k;
          }
        }
        ASSERT_NEAR(sum, 1.0, 1e-5) << name << " b=" << b << " h=" << h << " q=" << q;
      }
}

class ParityFixtures : public ::testing::TestWithParam<std::string> {};

TEST_P(ParityFixtures, AreReadableAndConsistent) {
  const std::string dir = kParityDir + GetParam() + "/";
  const ModelConfig c = read_config_as<ModelConfig>(dir + "config.json");
  const SafetensorsFile model = read_safetensors(dir + "model.safetensors");
  const SafetensorsFile fx = read_safetensors(dir + "fixture.safetensors");
  EXPECT_EQ(c.dropout, 0.0f);

  // The weights: exactly the expected names and shapes.
  const auto params = expected_params(c);
  std::set<std::string> names;
  for (const auto& [n, t] : model.tensors) names.insert(n);
  for (const auto& [n, shape] : params) {
    ASSERT_TRUE(model.tensors.count(n)) << "missing parameter " << n;
    EXPECT_EQ(model.tensors.at(n).shape(), shape) << n;
    names.erase(n);
  }
  EXPECT_TRUE(names.empty()) << "unexpected parameter " << *names.begin();

  // Inputs.
  const Tensor& src = fx.tensors.at("src");
  const Tensor& tgt_in = fx.tensors.at("tgt_in");
  const Tensor& tgt_out = fx.tensors.at("tgt_out");
  ASSERT_EQ(src.rank(), 2);
  const int64_t B = src.dim(0), Ts = src.dim(1), Tt = tgt_in.dim(1), H = c.heads;
  const int64_t V = c.tgt_vocab;
  ASSERT_EQ(tgt_in.shape(), (Shape{B, Tt}));
  ASSERT_EQ(tgt_out.shape(), (Shape{B, Tt}));
  const float pad = static_cast<float>(c.pad_id);
  auto src_pad = [&](int64_t b, int64_t k) { return src[b * Ts + k] == pad; };
  auto tgt_pad = [&](int64_t b, int64_t k) { return tgt_in[b * Tt + k] == pad; };
  for (int64_t b = 0; b < B; ++b) {
    EXPECT_FALSE(src_pad(b, 0)) << "source " << b << " has no real token";
    EXPECT_EQ(tgt_in[b * Tt], static_cast<float>(c.bos_id));
    for (int64_t t = 0; t < Ts; ++t) {
      EXPECT_TRUE(src[b * Ts + t] >= 0 && src[b * Ts + t] < static_cast<float>(c.src_vocab));
      if (t > 0 && src_pad(b, t - 1)) {
        EXPECT_TRUE(src_pad(b, t)) << "padding is not trailing";
      }
    }
    for (int64_t t = 0; t < Tt; ++t) {
      EXPECT_TRUE(tgt_out[b * Tt + t] >= 0 && tgt_out[b * Tt + t] < static_cast<float>(V));
      if (t + 1 < Tt) {
        EXPECT_EQ(tgt_out[b * Tt + t], tgt_in[b * Tt + t + 1]);  // shifted by one
      }
      if (t > 0 && tgt_pad(b, t - 1)) {
        EXPECT_TRUE(tgt_pad(b, t)) << "padding is not trailing";
      }
    }
  }

  // Outputs.
  const Tensor& logits = fx.tensors.at("logits");
  EXPECT_EQ(logits.shape(), (Shape{B, Tt, V}));
  for (int64_t i = 0; i < logits.numel(); ++i) ASSERT_TRUE(std::isfinite(logits[i]));
  for (int64_t l = 0; l < c.encoder_layers; ++l) {
    const std::string n = "attn.encoder_self." + std::to_string(l);
    const Tensor& a = fx.tensors.at(n);
    ASSERT_EQ(a.shape(), (Shape{B, H, Ts, Ts})) << n;
    check_attention(n, a, [&](int64_t b, int64_t, int64_t k) { return src_pad(b, k); });
  }
  for (int64_t l = 0; l < c.decoder_layers; ++l) {
    const std::string self = "attn.decoder_self." + std::to_string(l);
    const Tensor& a = fx.tensors.at(self);
    ASSERT_EQ(a.shape(), (Shape{B, H, Tt, Tt})) << self;
    check_attention(self, a,
                    [&](int64_t b, int64_t q, int64_t k) { return k > q || tgt_pad(b, k); });
    const std::string cross = "attn.cross." + std::to_string(l);
    const Tensor& x = fx.tensors.at(cross);
    ASSERT_EQ(x.shape(), (Shape{B, H, Tt, Ts})) << cross;
    check_attention(cross, x, [&](int64_t b, int64_t, int64_t k) { return src_pad(b, k); });
  }
  const Tensor& loss = fx.tensors.at("loss");
  ASSERT_EQ(loss.shape(), Shape{1});
  EXPECT_TRUE(std::isfinite(loss[0]) && loss[0] > 0);

  // A gradient for every saved parameter, same shape, and no others.
  size_t grads = 0;
  for (const auto& [n, t] : fx.tensors)
    if (n.rfind("grad.", 0) == 0) {
      ++grads;
      const std::string p = n.substr(5);
      ASSERT_TRUE(params.count(p)) << "gradient of unknown parameter " << p;
      EXPECT_EQ(t.shape(), params.at(p)) << n;
    }
  EXPECT_EQ(grads, params.size());
  // Padding never reaches the loss, so the pad rows of the embeddings get exactly no gradient
  // (a tied tgt_embed does, through the generator).
  const Tensor& gs = fx.tensors.at("grad.src_embed.weight");
  for (int64_t j = 0; j < c.d_model; ++j) EXPECT_EQ(gs[c.pad_id * c.d_model + j], 0.0f);
  if (!c.tie_output) {
    const Tensor& gt = fx.tensors.at("grad.tgt_embed.weight");
    for (int64_t j = 0; j < c.d_model; ++j) EXPECT_EQ(gt[c.pad_id * c.d_model + j], 0.0f);
  }

  // Adam: 5 losses, the first is the loss above, and training on one batch lowers it.
  const Tensor& adam = fx.tensors.at("adam_losses");
  ASSERT_EQ(adam.shape(), Shape{5});
  EXPECT_NEAR(adam[0], loss[0], 1e-6);
  for (int i = 1; i < 5; ++i) EXPECT_LT(adam[i], adam[i - 1]);

  EXPECT_EQ(fx.metadata.at("label_smoothing"), "0.1");
  EXPECT_EQ(fx.metadata.at("lr"), "0.001");
  EXPECT_EQ(fx.metadata.at("betas"), "0.9,0.98");
  EXPECT_EQ(fx.metadata.at("eps"), "1e-09");
}

INSTANTIATE_TEST_SUITE_P(Cases, ParityFixtures, ::testing::Values("post_relu", "pre_gelu"));

// The two cases cover both norm placements, both activations, tied and untied output.
TEST(ParityFixtureCases, CoverBothVariants) {
  const ModelConfig post = read_config_as<ModelConfig>(kParityDir + "post_relu/config.json");
  const ModelConfig pre = read_config_as<ModelConfig>(kParityDir + "pre_gelu/config.json");
  EXPECT_EQ(post.norm, NormPlacement::kPost);
  EXPECT_EQ(post.activation, cpu::Activation::kRelu);
  EXPECT_FALSE(post.tie_output);
  EXPECT_EQ(pre.norm, NormPlacement::kPre);
  EXPECT_EQ(pre.activation, cpu::Activation::kGelu);
  EXPECT_TRUE(pre.tie_output);
}

}  // namespace
}  // namespace attnscope

// The Transformer against PyTorch: fixtures written by tools/make_parity_fixtures.py from
// nn.Transformer with random weights (committed, so CI needs no PyTorch). Forward values match
// to 1e-5 and gradients to 1e-4, relative to each tensor's scale; five Adam steps follow
// PyTorch's losses.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "core/error.h"
#include "io/model_dir.h"
#include "io/safetensors.h"
#include "train/loss.h"
#include "train/optimizer.h"

namespace attnscope {
namespace {

const std::string kParityDir = std::string(ATTNSCOPE_TEST_DATA) + "/parity/";

TokenBatch ids_of(const Tensor& t) {
  TokenBatch b;
  b.rows = t.dim(0);
  b.cols = t.dim(1);
  for (int64_t i = 0; i < t.numel(); ++i) b.ids.push_back(static_cast<int32_t>(t[i]));
  return b;
}

// max |a − b| / max |b|: the error relative to the tensor's scale.
double scaled_error(const float* a, const Tensor& ref) {
  double diff = 0, scale = 0;
  for (int64_t i = 0; i < ref.numel(); ++i) {
    diff = std::max(diff, static_cast<double>(std::abs(a[i] - ref[i])));
    scale = std::max(scale, static_cast<double>(std::abs(ref[i])));
  }
  return diff / std::max(scale, 1e-12);
}

const Tensor& fixture_tensor(const SafetensorsFile& f, const std::string& name) {
  auto it = f.tensors.find(name);
  if (it == f.tensors.end()) throw Error("fixture has no tensor " + name);
  return it->second;
}

class Parity : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = kParityDir + GetParam();
    fixture_ = read_safetensors(dir_ + "/fixture.safetensors");
    model_ = load_model(dir_);
    ASSERT_EQ(model_->info().arch, "transformer");
    src_ = ids_of(fixture_tensor(fixture_, "src"));
    tgt_in_ = ids_of(fixture_tensor(fixture_, "tgt_in"));
    tgt_out_ = ids_of(fixture_tensor(fixture_, "tgt_out"));
    label_smoothing_ = std::stof(fixture_.metadata.at("label_smoothing"));
  }
  std::string dir_;
  SafetensorsFile fixture_;
  std::unique_ptr<Seq2SeqModel> model_;  // a Transformer: config.json says so
  TokenBatch src_, tgt_in_, tgt_out_;
  float label_smoothing_ = 0;
};

TEST_P(Parity, LogitsAndEveryAttentionMap) {
  const Tensor& logits = model_->forward(src_, tgt_in_, ForwardOptions{});
  const Tensor& ref = fixture_tensor(fixture_, "logits");
  ASSERT_EQ(logits.shape(), ref.shape());
  EXPECT_LT(scaled_error(logits.data(), ref), 1e-5);
  int maps = 0;
  for (AttentionKind kind : kAllAttentionKinds) {
    for (int64_t l = 0; l < model_->num_layers(kind); ++l) {
      const std::string name =
          "attn." + std::string(attention_kind_name(kind)) + "." + std::to_string(l);
      const Tensor& want = fixture_tensor(fixture_, name);
      const Tensor& got = model_->attention(kind, l);
      ASSERT_EQ(got.shape(), want.shape()) << name;
      EXPECT_LT(scaled_error(got.data(), want), 1e-5) << name;
      ++maps;
    }
  }
  EXPECT_GE(maps, 4);
}

TEST_P(Parity, LossAndEveryGradient) {
  model_->alloc_grads();
  model_->zero_grads();
  Tensor d_logits;
  const LossValue loss = sequence_loss(model_->forward(src_, tgt_in_, ForwardOptions{}), tgt_out_,
                                       model_->info().pad_id, label_smoothing_, &d_logits);
  EXPECT_NEAR(loss.mean, fixture_tensor(fixture_, "loss")[0], 1e-5);
  model_->backward(d_logits);
  int grads = 0;
  model_->visit_params([&](Param& p) {
    const Tensor& want = fixture_tensor(fixture_, "grad." + p.name);
    ASSERT_EQ(p.grad.shape(), want.shape()) << p.name;
    EXPECT_LT(scaled_error(p.grad.data(), want), 1e-4) << p.name;
    ++grads;
  });
  EXPECT_GT(grads, 20);
}

TEST_P(Parity, AdamStepsFollowPyTorchLosses) {
  const Tensor& want = fixture_tensor(fixture_, "adam_losses");
  cpu::AdamConfig cfg;
  cfg.lr = std::stof(fixture_.metadata.at("lr"));
  cfg.beta1 = 0.9f;
  cfg.beta2 = 0.98f;
  cfg.eps = 1e-9f;
  AdamOptimizer adam(cfg);
  model_->alloc_grads();
  for (int64_t step = 0; step < want.numel(); ++step) {
    model_->zero_grads();
    Tensor d_logits;
    const LossValue loss = sequence_loss(model_->forward(src_, tgt_in_, ForwardOptions{}), tgt_out_,
                                         model_->info().pad_id, label_smoothing_, &d_logits);
    EXPECT_NEAR(loss.mean, want[step], 1e-4 * std::max(1.0f, std::abs(want[step])))
        << "step " << step;
    model_->backward(d_logits);
    adam.step(*model_, cfg.lr);
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Parity, ::testing::Values("post_relu", "pre_gelu"));

}  // namespace
}  // namespace attnscope

// The device Transformer (nn/cuda/) against the CPU Transformer it was built from, in fp32 (the
// CPU's arithmetic up to summation order: logits within 1e-4, maps within 1e-4) and bf16 (logits
// within 5e-2, each map weight within 0.1; rounding the weights alone to bf16 moves the CPU
// model's logits by 0.3–0.6% and its maps by up to 0.007 on these models): the
// teacher-forced logits and every attention map for every config switch (post/pre-norm,
// ReLU/GELU, shared and tied embeddings, no final norms, no embedding scale, no residual, no
// score scaling, no generator bias, no encoder layers, heads of 16, 64 and 128 dimensions, the
// parity models of tests/data), the KV-cached decode steps with beam reorders and dropped rows,
// the ranked step, the value vectors; and the maps' structure (rows sum to 1, masked cells
// exactly 0). What the device model refuses is checked without a GPU too.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "core/error.h"
#include "cuda_model_test_util.h"
#include "io/architectures.h"
#include "io/model_dir.h"
#include "nn/cuda/cuda_transformer.h"
#include "nn/device.h"
#include "nn/transformer.h"

namespace attnscope {
namespace {

using test::cuda_options;
using test::logits_tolerance;
using test::max_abs_diff;
using test::random_model;
using test::relative_error;

ModelConfig base_config() {
  ModelConfig c;
  c.d_model = 32;
  c.heads = 2;
  c.encoder_layers = 2;
  c.decoder_layers = 2;
  c.d_ff = 48;
  c.src_vocab = 50;
  c.tgt_vocab = 45;
  c.max_len = 64;
  c.dropout = 0;
  return c;
}

struct SwitchCase {
  std::string name;
  ModelConfig cfg;
};

// One config per switch of ModelConfig (and the head widths of the attention paths).
std::vector<SwitchCase> switch_cases() {
  std::vector<SwitchCase> out;
  const auto add = [&](const std::string& name, auto&& change) {
    ModelConfig c = base_config();
    change(c);
    out.push_back({name, c});
  };
  add("post_relu", [](ModelConfig&) {});
  add("pre_gelu", [](ModelConfig& c) {
    c.norm = NormPlacement::kPre;
    c.activation = cpu::Activation::kGelu;
  });
  add("shared_and_tied", [](ModelConfig& c) {
    c.tgt_vocab = c.src_vocab;
    c.share_embeddings = true;
    c.tie_output = true;
  });
  add("no_final_norms", [](ModelConfig& c) { c.final_norms = false; });
  add("pre_no_final_norms", [](ModelConfig& c) {
    c.norm = NormPlacement::kPre;
    c.final_norms = false;
  });
  add("no_embed_scale", [](ModelConfig& c) { c.embed_scale = false; });
  add("no_residual", [](ModelConfig& c) { c.residual = false; });
  add("pre_no_residual", [](ModelConfig& c) {
    c.norm = NormPlacement::kPre;
    c.residual = false;
  });
  add("no_scale_scores", [](ModelConfig& c) { c.scale_scores = false; });
  add("no_generator_bias", [](ModelConfig& c) { c.generator_bias = false; });
  add("no_encoder_layers", [](ModelConfig& c) { c.encoder_layers = 0; });
  add("eps_1e-6", [](ModelConfig& c) { c.layer_norm_eps = 1e-6f; });
  add("heads_of_64", [](ModelConfig& c) {  // bf16: the tensor-core path where Tq ≥ 16
    c.d_model = 128;
    c.d_ff = 96;
  });
  add("heads_of_128", [](ModelConfig& c) {
    c.d_model = 256;
    c.d_ff = 64;
    c.encoder_layers = 1;
  });
  add("odd_head_dim", [](ModelConfig& c) {
    c.d_model = 15;
    c.heads = 3;
  });
  return out;
}

// Three sentences of 20 source and 18 target positions, some padded (pad = 0), bos = 1 first.
TokenBatch sources(int64_t vocab) {
  TokenBatch t{3, 20, {}};
  Rng rng(7);
  for (int64_t b = 0; b < 3; ++b) {
    const int64_t len = b == 1 ? 11 : b == 2 ? 17 : 20;
    for (int64_t j = 0; j < 20; ++j)
      t.ids.push_back(j < len - 1    ? 4 + static_cast<int32_t>(rng.below(vocab - 4))
                      : j == len - 1 ? 2
                                     : 0);
  }
  return t;
}
TokenBatch targets(int64_t vocab) {
  TokenBatch t{3, 18, {}};
  Rng rng(8);
  for (int64_t b = 0; b < 3; ++b) {
    const int64_t len = b == 2 ? 9 : 18;
    for (int64_t j = 0; j < 18; ++j)
      t.ids.push_back(j == 0 ? 1 : j < len ? 4 + static_cast<int32_t>(rng.below(vocab - 4)) : 0);
  }
  return t;
}

// Each row of a [G, H, Tq, Tk] map sums to 1 (or is all zero when it sees no key), and the cells
// `masked(g, i, j)` says are hidden hold exactly 0.
template <typename Masked>
void expect_structure(const Tensor& p, Masked&& masked, double tol, const std::string& what) {
  const int64_t G = p.dim(0), H = p.dim(1), Tq = p.dim(2), Tk = p.dim(3);
  int64_t bad_sum = 0, bad_mask = 0;
  for (int64_t g = 0; g < G; ++g)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < Tq; ++i) {
        double sum = 0;
        bool any = false;
        for (int64_t j = 0; j < Tk; ++j) {
          const float v = p[((g * H + h) * Tq + i) * Tk + j];
          if (masked(g, i, j)) {
            bad_mask += v != 0.0f;
          } else {
            any = true;
          }
          sum += v;
        }
        bad_sum += any ? std::abs(sum - 1.0) > tol : sum != 0.0;
      }
  EXPECT_EQ(bad_sum, 0) << what << ": rows that do not sum to 1";
  EXPECT_EQ(bad_mask, 0) << what << ": masked cells that are not exactly 0";
}

class CudaForward : public ::testing::TestWithParam<Precision> {};

TEST_P(CudaForward, LogitsAndEveryMapMatchTheCpuForEverySwitch) {
  ATTN_REQUIRE_GPU();
  const Precision precision = GetParam();
  for (const SwitchCase& c : switch_cases()) {
    SCOPED_TRACE(c.name);
    auto cpu = random_model(c.cfg, 11);
    auto gpu = to_device(random_model(c.cfg, 11), cuda_options(precision));
    ASSERT_TRUE(gpu->info().on_device);
    const TokenBatch src = sources(c.cfg.src_vocab), tgt = targets(c.cfg.tgt_vocab);
    const Tensor want = cpu->forward(src, tgt, {}).clone();
    const Tensor got = gpu->forward(src, tgt, {}).clone();
    const double err = relative_error(got, want);
    std::cout << "[ forward ] " << c.name << " " << precision_name(precision)
              << " logits relative error " << err << "\n";
    EXPECT_LE(err, logits_tolerance(precision));
    for (AttentionKind kind : kAllAttentionKinds)
      for (int64_t l = 0; l < cpu->num_layers(kind); ++l) {
        const std::string what =
            std::string(attention_kind_name(kind)) + " layer " + std::to_string(l);
        const Tensor& w = cpu->attention(kind, l);
        const Tensor& g = gpu->attention(kind, l);
        ASSERT_EQ(g.shape(), w.shape()) << what;
        EXPECT_LE(max_abs_diff(g, w), test::map_tolerance(precision)) << what;
        const TokenBatch& keys = kind == AttentionKind::kEncoderSelf ? src
                                 : kind == AttentionKind::kCross     ? src
                                                                     : tgt;
        const bool causal = kind == AttentionKind::kDecoderSelf;
        expect_structure(
            g,
            [&](int64_t b, int64_t i, int64_t j) {
              return keys.at(b, j) == c.cfg.pad_id || (causal && j > i);
            },
            1e-4, what);
      }
    // A subset of heads, in any order, is those heads of the full maps.
    const Tensor both = gpu->attention(AttentionKind::kCross, 1).clone();
    const Tensor one = gpu->attention_heads(AttentionKind::kCross, 1, {1, 0});
    // one is [B, 2, Tq, Tk] (heads 1, 0); both is [B, H, Tq, Tk].
    const int64_t H = both.dim(1), per_head = both.dim(2) * both.dim(3);
    ASSERT_EQ(one.dim(1), 2);
    for (int64_t b = 0; b < both.dim(0); ++b)
      for (int64_t e = 0; e < per_head; ++e) {
        ASSERT_EQ(one[(b * 2 + 0) * per_head + e], both[(b * H + 1) * per_head + e]) << b;
        ASSERT_EQ(one[(b * 2 + 1) * per_head + e], both[(b * H + 0) * per_head + e]) << b;
      }
  }
}

TEST_P(CudaForward, ValueVectorsMatchTheCpu) {
  ATTN_REQUIRE_GPU();
  const ModelConfig cfg = base_config();
  auto cpu = random_model(cfg, 12);
  auto gpu = to_device(random_model(cfg, 12), cuda_options(GetParam()));
  const TokenBatch src = sources(cfg.src_vocab), tgt = targets(cfg.tgt_vocab);
  cpu->forward(src, tgt, {});
  gpu->forward(src, tgt, {});
  for (AttentionKind kind : kAllAttentionKinds)
    for (int64_t l = 0; l < 2; ++l) {
      const double err =
          relative_error(gpu->attention_values(kind, l), cpu->attention_values(kind, l));
      EXPECT_LE(err, GetParam() == Precision::kF32 ? 1e-4 : 5e-2)
          << attention_kind_name(kind) << " " << l;
      // W_O is the host model's (the same weights).
      EXPECT_EQ(relative_error(gpu->attention_output_weight(kind, l),
                               cpu->attention_output_weight(kind, l)),
                0.0);
    }
}

INSTANTIATE_TEST_SUITE_P(Precisions, CudaForward,
                         ::testing::Values(Precision::kF32, Precision::kBf16),
                         [](const auto& i) { return std::string(precision_name(i.param)); });

TEST(CudaForwardParity, TheParityModelsMatchTheCpu) {
  ATTN_REQUIRE_GPU();
  for (const char* name : {"post_relu", "pre_gelu"}) {
    SCOPED_TRACE(name);
    const std::string dir = test::test_data() + "/parity/" + name;
    auto cpu = load_model(dir);
    auto gpu = to_device(load_model(dir), cuda_options(Precision::kF32));
    const TokenBatch src = sources(cpu->info().src_vocab), tgt = targets(cpu->info().tgt_vocab);
    const Tensor want = cpu->forward(src, tgt, {}).clone();
    EXPECT_LE(relative_error(gpu->forward(src, tgt, {}), want), 1e-4);
  }
}

// Decoding: the same tokens fed to both, beams reordered and rows dropped between steps; every
// step's logits, ranked tokens and maps equal the CPU's.
class CudaDecode : public ::testing::TestWithParam<Precision> {};

TEST_P(CudaDecode, StepsReordersAndDroppedRowsMatchTheCpu) {
  ATTN_REQUIRE_GPU();
  const Precision precision = GetParam();
  for (const SwitchCase& c : switch_cases()) {
    if (c.name != "post_relu" && c.name != "pre_gelu" && c.name != "heads_of_64" &&
        c.name != "shared_and_tied")
      continue;
    SCOPED_TRACE(c.name);
    auto cpu = random_model(c.cfg, 21);
    auto gpu = to_device(random_model(c.cfg, 21), cuda_options(precision));
    const TokenBatch src = sources(c.cfg.src_vocab);
    auto cs = cpu->start_decoding(src, 2, 8);  // 6 rows: sentence r / 2
    auto gs = gpu->start_decoding(src, 2, 8);
    // The encoder maps after start_decoding.
    for (int64_t l = 0; l < cpu->num_layers(AttentionKind::kEncoderSelf); ++l)
      EXPECT_LE(max_abs_diff(gpu->attention(AttentionKind::kEncoderSelf, l),
                             cpu->attention(AttentionKind::kEncoderSelf, l)),
                test::map_tolerance(precision));
    std::vector<int32_t> feed = {1, 1, 1, 1, 1, 1};
    Rng rng(5);
    for (int64_t t = 0; t < 7; ++t) {
      SCOPED_TRACE("step " + std::to_string(t));
      const Tensor want = cpu->decode_step(*cs, feed).clone();
      const Tensor got = gpu->decode_step(*gs, feed).clone();
      EXPECT_LE(relative_error(got, want), logits_tolerance(precision));
      const int64_t rows = want.dim(0);
      for (AttentionKind kind : {AttentionKind::kDecoderSelf, AttentionKind::kCross})
        for (int64_t l = 0; l < c.cfg.decoder_layers; ++l) {
          const Tensor& w = cpu->attention(kind, l);
          const Tensor g = gpu->attention_heads(kind, l, {0, 1});
          ASSERT_EQ(g.shape(), w.shape());
          EXPECT_LE(max_abs_diff(g, w), test::map_tolerance(precision))
              << attention_kind_name(kind) << " " << l;
        }
      // Next tokens, then a reorder: beams swapped within sentences, and from step 3 the first
      // sentence's rows dropped, from step 5 the last's.
      for (int64_t r = 0; r < rows; ++r)
        feed[static_cast<size_t>(r)] = 4 + static_cast<int32_t>(rng.below(c.cfg.tgt_vocab - 4));
      std::vector<int64_t> from(static_cast<size_t>(rows));
      for (int64_t r = 0; r < rows; ++r) from[static_cast<size_t>(r)] = r ^ 1;
      if (t == 3 || t == 5) {
        from.erase(from.begin(), from.begin() + 2);
        feed.erase(feed.begin(), feed.begin() + 2);
      }
      cs->reorder(from);
      gs->reorder(from);
    }
  }
}

TEST_P(CudaDecode, RankedStepMatchesTheCpuRanking) {
  ATTN_REQUIRE_GPU();
  const ModelConfig cfg = base_config();
  auto cpu = random_model(cfg, 31);
  auto gpu = to_device(random_model(cfg, 31), cuda_options(GetParam()));
  const TokenBatch src = sources(cfg.src_vocab);
  auto cs = cpu->start_decoding(src, 4, 4);
  auto gs = gpu->start_decoding(src, 4, 4);
  const std::vector<int32_t> feed(12, 1);
  StepTopKRequest req;
  for (int64_t r = 0; r < 12; ++r) req.offsets.push_back(-0.5f * static_cast<float>(r % 4));
  req.k = 8;
  req.banned = {0, 1, 2};
  StepTopK want, got;
  cpu->decode_step_topk(*cs, feed, req, want);
  gpu->decode_step_topk(*gs, feed, req, got);
  ASSERT_EQ(got.k, 8);
  ASSERT_EQ(got.ids.size(), want.ids.size());
  for (size_t i = 0; i < want.ids.size(); ++i) {
    EXPECT_NE(got.ids[i], 0);
    EXPECT_NE(got.ids[i], 1);
    EXPECT_NE(got.ids[i], 2);
    EXPECT_NEAR(got.values[i], want.values[i], GetParam() == Precision::kF32 ? 1e-4 : 0.25) << i;
    if (GetParam() == Precision::kF32) {
      EXPECT_EQ(got.ids[i], want.ids[i]) << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Precisions, CudaDecode,
                         ::testing::Values(Precision::kF32, Precision::kBf16),
                         [](const auto& i) { return std::string(precision_name(i.param)); });

TEST(CudaModel, TrainingIsRefused) {
  ATTN_REQUIRE_GPU();
  auto gpu = to_device(random_model(base_config(), 3), cuda_options(Precision::kBf16));
  EXPECT_THROW(gpu->alloc_grads(), Error);
  EXPECT_THROW(gpu->backward(Tensor({1, 1, 1})), Error);
  EXPECT_THROW(gpu->init_weights(1), Error);
  int64_t n = 0;
  gpu->visit_params([&](Param&) { ++n; });  // the host copy, for saving
  EXPECT_GT(n, 0);
  try {
    gpu->backward(Tensor({1, 1, 1}));
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--device cuda runs inference only"), std::string::npos);
  }
}

TEST(CudaModel, BadTokensAndLengthsAreErrorsNotFaults) {
  ATTN_REQUIRE_GPU();
  auto gpu = to_device(random_model(base_config(), 3), cuda_options(Precision::kF32));
  TokenBatch src{1, 3, {5, 60, 2}};  // 60 ≥ src_vocab 50
  try {
    gpu->forward(src, TokenBatch{1, 1, {1}}, {});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("source token id 60 at sequence 0, position 1"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(gpu->start_decoding(TokenBatch{1, 3, {5, 6, 2}}, 1, 65), Error);  // > max_len
  auto st = gpu->start_decoding(TokenBatch{1, 3, {5, 6, 2}}, 2, 2);
  EXPECT_THROW(gpu->decode_step(*st, {1}), Error);      // one token for two rows
  EXPECT_THROW(gpu->decode_step(*st, {1, 45}), Error);  // outside the target vocabulary
  EXPECT_THROW(st->reorder({0, 2}), Error);             // no row 2
  gpu->decode_step(*st, {1, 1});
  gpu->decode_step(*st, {4, 5});
  EXPECT_THROW(gpu->decode_step(*st, {4, 5}), Error);  // the cache holds 2 positions
  // The model still works after the errors.
  auto again = gpu->start_decoding(TokenBatch{1, 3, {5, 6, 2}}, 1, 2);
  EXPECT_EQ(gpu->decode_step(*again, {1}).dim(1), 45);
}

// ---- what the device model refuses (no GPU needed) ----

TEST(CudaModelRefusals, OtherArchitecturesAndWideHeads) {
  const Architecture* arch = find_architecture("rnn-attention");
  ASSERT_NE(arch, nullptr);
  const auto rnn = arch->make_config()->make_model();
  try {
    check_cuda_supported(*rnn);
    ADD_FAILURE() << "rnn-attention accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("runs arch \"transformer\" only"), std::string::npos)
        << e.what();
  }
  ModelConfig wide = base_config();
  wide.d_model = 512;
  wide.heads = 1;
  try {
    check_cuda_supported(Transformer(wide));
    ADD_FAILURE() << "a head of 512 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("wider than the GPU attention's 256"), std::string::npos)
        << e.what();
  }
  ModelConfig odd = base_config();
  odd.activation = static_cast<cpu::Activation>(7);  // an activation added after this code
  EXPECT_THROW(check_cuda_supported(Transformer(odd)), Error);
}

TEST(CudaModelRefusals, EverySwitchOfTodayIsAccepted) {
  for (const SwitchCase& c : switch_cases()) {
    SCOPED_TRACE(c.name);
    EXPECT_NO_THROW(check_cuda_supported(Transformer(c.cfg)));
  }
}

TEST(CudaModelRefusals, WithoutAGpuTheMessageSaysWhy) {
  std::string why;
  if (cuda_device_usable(&why)) GTEST_SKIP() << "a GPU is here";
  try {
    to_device(random_model(base_config(), 1), cuda_options(Precision::kBf16));
    ADD_FAILURE() << "no error without a GPU";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no usable CUDA device here (" + why + ")"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace attnscope

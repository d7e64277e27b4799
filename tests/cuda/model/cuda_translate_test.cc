// Translation on the GPU equals translation on the CPU: the trained model of tests/data, fp32,
// greedy and beam 4, a batch whose sentences finish at different steps — the same tokens, the
// same scores (to rounding) and the same captured maps (every kind, layer and head; a selection
// of kinds, layers and heads; each reduction), whose rows sum to 1 and whose masked cells are
// exactly 0. In bf16 most translations are still the same.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cuda_model_test_util.h"
#include "data/date_corpus.h"
#include "decode/translate.h"
#include "io/model_dir.h"

namespace attnscope {
namespace {

using test::cuda_options;
using test::max_abs_diff;

std::string model_dir() {
  return test::test_data() + "/tiny_dates_model";
}

// 40 dates in every format the model was trained on, of many lengths.
std::vector<std::string> sentences() {
  std::vector<std::string> out;
  for (const DatePair& p : generate_dates(40, 2024)) out.push_back(p.written);
  return out;
}

void expect_maps_equal(const std::vector<Tensor>& got, const std::vector<Tensor>& want,
                       const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t l = 0; l < got.size(); ++l) {
    ASSERT_EQ(got[l].shape(), want[l].shape()) << what << " " << l;
    EXPECT_LE(max_abs_diff(got[l], want[l]), 1e-4) << what << " " << l;
  }
}

// The decoder self-attention of a hypothesis [H', T, T]: rows sum to 1, above the diagonal 0.
void expect_causal_rows(const Tensor& t, const std::string& what) {
  const int64_t H = t.dim(0), T = t.dim(1);
  for (int64_t h = 0; h < H; ++h)
    for (int64_t i = 0; i < T; ++i) {
      double sum = 0;
      for (int64_t j = 0; j < T; ++j) {
        const float v = t[(h * T + i) * T + j];
        if (j > i) {
          ASSERT_EQ(v, 0.0f) << what << " h" << h << " row " << i << " col " << j;
        }
        sum += v;
      }
      EXPECT_NEAR(sum, 1.0, 1e-4) << what << " h" << h << " row " << i;
    }
}

class CudaTranslate : public ::testing::TestWithParam<int64_t> {};

TEST_P(CudaTranslate, Fp32EqualsTheCpuWithEveryMap) {
  ATTN_REQUIRE_GPU();
  auto cpu = load_model(model_dir());
  auto gpu = to_device(load_model(model_dir()), cuda_options(Precision::kF32));
  const TokenizerPair tok = load_tokenizers(model_dir());
  TranslateOptions opt;
  opt.decode.beam = GetParam();
  opt.decode.nbest = GetParam();
  opt.decode.capture.emplace();
  opt.batch_sentences = 16;
  const auto want = translate_sentences(*cpu, *tok.src, *tok.tgt, sentences(), opt);
  const auto got = translate_sentences(*gpu, *tok.src, *tok.tgt, sentences(), opt);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE(want[i].source);
    EXPECT_EQ(got[i].text, want[i].text);
    ASSERT_EQ(got[i].hypotheses.size(), want[i].hypotheses.size());
    for (size_t k = 0; k < want[i].hypotheses.size(); ++k) {
      const Hypothesis &g = got[i].hypotheses[k], &w = want[i].hypotheses[k];
      EXPECT_EQ(g.tokens, w.tokens) << k;
      EXPECT_NEAR(g.log_prob, w.log_prob, 1e-4) << k;
      EXPECT_NEAR(g.score, w.score, 1e-4) << k;
      EXPECT_EQ(g.finished, w.finished) << k;
      if (g.tokens != w.tokens) continue;
      expect_maps_equal(g.attention.encoder_self, w.attention.encoder_self, "encoder_self");
      expect_maps_equal(g.attention.decoder_self, w.attention.decoder_self, "decoder_self");
      expect_maps_equal(g.attention.cross, w.attention.cross, "cross");
      for (const Tensor& t : g.attention.decoder_self) expect_causal_rows(t, "decoder_self");
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Beams, CudaTranslate, ::testing::Values(1, 4));

TEST(CudaTranslateCapture, SelectionsAndReductionsEqualTheCpu) {
  ATTN_REQUIRE_GPU();
  auto cpu = load_model(model_dir());
  auto gpu = to_device(load_model(model_dir()), cuda_options(Precision::kF32));
  const TokenizerPair tok = load_tokenizers(model_dir());
  const std::vector<std::string> all = sentences();
  const std::vector<std::string> some(all.begin(), all.begin() + 6);
  for (const CaptureReduction red : {CaptureReduction::kNone, CaptureReduction::kMeanHeads,
                                     CaptureReduction::kMaxHeads, CaptureReduction::kLastRow}) {
    TranslateOptions opt;
    opt.decode.beam = 3;
    opt.decode.capture.emplace();
    opt.decode.capture->kinds = {AttentionKind::kCross, AttentionKind::kEncoderSelf};
    opt.decode.capture->layers = {1};
    opt.decode.capture->heads = {1};
    opt.decode.capture->reduction = red;
    const auto want = translate_sentences(*cpu, *tok.src, *tok.tgt, some, opt);
    const auto got = translate_sentences(*gpu, *tok.src, *tok.tgt, some, opt);
    for (size_t i = 0; i < want.size(); ++i) {
      ASSERT_EQ(got[i].text, want[i].text);
      const HypothesisAttention &g = got[i].hypotheses[0].attention,
                                &w = want[i].hypotheses[0].attention;
      EXPECT_TRUE(g.decoder_self.empty());
      EXPECT_EQ(g.decoder_layers, w.decoder_layers);
      EXPECT_EQ(g.heads, w.heads);
      expect_maps_equal(g.cross, w.cross, "cross");
      expect_maps_equal(g.encoder_self, w.encoder_self, "encoder_self");
    }
  }
}

TEST(CudaTranslateBf16, MostTranslationsAreTheCpus) {
  ATTN_REQUIRE_GPU();
  auto cpu = load_model(model_dir());
  auto gpu = to_device(load_model(model_dir()), cuda_options(Precision::kBf16));
  const TokenizerPair tok = load_tokenizers(model_dir());
  TranslateOptions opt;
  opt.decode.beam = 4;
  const auto want = translate_sentences(*cpu, *tok.src, *tok.tgt, sentences(), opt);
  const auto got = translate_sentences(*gpu, *tok.src, *tok.tgt, sentences(), opt);
  int same = 0;
  for (size_t i = 0; i < want.size(); ++i) same += got[i].text == want[i].text;
  std::cout << "[ bf16 ] " << same << " of " << want.size()
            << " beam-4 translations equal the CPU's\n";
  EXPECT_GE(same, static_cast<int>(want.size()) / 2);
}

}  // namespace
}  // namespace attnscope

// Attribution (inspect/attribution.h): scores against finite differences of log p, a model
// built so that each output depends on one input token only, integrated gradients' completeness
// on the test model, and the files.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/error.h"
#include "decode/translate.h"
#include "inspect/attribution.h"
#include "inspect/attribution_files.h"
#include "io/model_dir.h"
#include "nn/transformer.h"
#include "tiny_transformer.h"

namespace attnscope {
namespace {

ModelConfig tiny() {
  return test::tiny_transformer_config();
}

const std::vector<int32_t> kSrc = {5, 6, 7, 8, 2};
const std::vector<int32_t> kTgtIn = {1, 3, 4, 5};
const std::vector<int32_t> kOut = {3, 4, 5, 2};

// log p(y_i) at output i with the given source embeddings [1, Ts, D].
double log_prob(Transformer& m, const Tensor& src_e, int64_t i) {
  ForwardOptions o;
  o.src_embeddings = &src_e;
  const int64_t Ts = static_cast<int64_t>(kSrc.size()), N = static_cast<int64_t>(kTgtIn.size());
  const Tensor& l = m.forward(TokenBatch{1, Ts, kSrc}, TokenBatch{1, N, kTgtIn}, o);
  const int64_t V = l.dim(2);
  const float* row = l.data() + i * V;
  double mx = row[0], s = 0;
  for (int64_t v = 0; v < V; ++v) mx = std::max(mx, static_cast<double>(row[v]));
  for (int64_t v = 0; v < V; ++v) s += std::exp(row[v] - mx);
  return row[kOut[static_cast<size_t>(i)]] - mx - std::log(s);
}

TEST(Attribution, ScoresMatchFiniteDifferencesOfTheLogProbability) {
  Transformer m(tiny());
  m.init_weights(21);
  AttributionOptions ixg;
  ixg.method = AttributionMethod::kInputXGradient;
  const Attribution a = attribute_tokens(m, kSrc, kTgtIn, kOut, ixg);
  AttributionOptions sal;
  const Attribution s = attribute_tokens(m, kSrc, kTgtIn, kOut, sal);
  const int64_t Ts = 5, N = 4;
  ASSERT_EQ(a.source.dim(0), N);
  ASSERT_EQ(a.source.dim(1), Ts);
  Tensor e = m.token_embeddings(InputSide::kSource, TokenBatch{1, Ts, kSrc});
  const int64_t D = e.dim(2);
  const float eps = 1e-2f;
  for (int64_t i = 0; i < N; ++i) {
    EXPECT_NEAR(a.log_prob[static_cast<size_t>(i)], log_prob(m, e, i), 1e-4);
    for (int64_t j = 0; j < Ts; ++j) {
      double ixg_fd = 0, norm2 = 0;
      for (int64_t d = 0; d < D; ++d) {
        const float saved = e[j * D + d];
        e[j * D + d] = saved + eps;
        const double up = log_prob(m, e, i);
        e[j * D + d] = saved - eps;
        const double down = log_prob(m, e, i);
        e[j * D + d] = saved;
        const double g = (up - down) / (2 * eps);
        ixg_fd += saved * g;
        norm2 += g * g;
      }
      EXPECT_NEAR(a.source[i * Ts + j], ixg_fd, 2e-3 + 2e-2 * std::abs(ixg_fd))
          << "output " << i << " source " << j;
      EXPECT_NEAR(s.source[i * Ts + j], std::sqrt(norm2), 2e-3 + 2e-2 * std::sqrt(norm2))
          << "output " << i << " source " << j;
    }
    // The future is invisible: no score for a target token after the step.
    for (int64_t j = i + 1; j < N; ++j) {
      EXPECT_EQ(a.target[i * N + j], 0.0f);
      EXPECT_EQ(s.target[i * N + j], 0.0f);
    }
  }
}

// A decoder whose only path is the residual stream of each position: every attention output
// projection and every feed-forward output weight zero. Output i then depends on the token fed at
// step i only — all the attribution must be there, exactly.
TEST(Attribution, AModelThatReadsOneTokenPutsAllTheMassOnIt) {
  Transformer m(tiny());
  m.init_weights(2);
  m.visit_params([](Param& p) {
    const std::string& n = p.name;
    const bool attn_out = n.find("out_proj.weight") != std::string::npos;
    const bool ffn_out = n.find("linear2.weight") != std::string::npos;
    if ((attn_out || ffn_out) && n.rfind("decoder.", 0) == 0)
      for (int64_t k = 0; k < p.value.numel(); ++k) p.value[k] = 0.0f;
  });
  for (AttributionMethod method : {AttributionMethod::kSaliency, AttributionMethod::kInputXGradient,
                                   AttributionMethod::kIntegratedGradients}) {
    AttributionOptions o;
    o.method = method;
    o.steps = 16;
    const Attribution a = attribute_tokens(m, kSrc, kTgtIn, kOut, o);
    Tensor src_share, tgt_share;
    attribution_shares(a, src_share, tgt_share);
    const int64_t N = 4;
    for (int64_t i = 0; i < N; ++i) {
      for (int64_t j = 0; j < 5; ++j)
        EXPECT_EQ(a.source[i * 5 + j], 0.0f) << attribution_method_name(method);
      for (int64_t j = 0; j < N; ++j)
        if (j != i) {
          EXPECT_EQ(a.target[i * N + j], 0.0f) << attribution_method_name(method);
        }
      EXPECT_NE(a.target[i * N + i], 0.0f) << attribution_method_name(method);
      EXPECT_FLOAT_EQ(tgt_share[i * N + i], 1.0f) << attribution_method_name(method);
    }
  }
}

struct DatesModel {
  std::unique_ptr<Seq2SeqModel> model;
  TokenizerPair tok;
  std::vector<int32_t> src, tgt_in, outputs;
  Translation t;
};

DatesModel dates_model() {
  DatesModel d;
  const std::string dir = std::string(ATTNSCOPE_TEST_DATA) + "/tiny_dates_model";
  d.model = load_model(dir);
  d.tok = load_tokenizers(dir);
  const ModelInfo info = d.model->info();
  d.t = translate_sentences(*d.model, *d.tok.src, *d.tok.tgt, {"9 de outubro de 1993"},
                            TranslateOptions{})
            .front();
  d.src = encode_source(*d.tok.src, d.t.source, info.max_len, info.eos_id);
  attribution_sequences(d.t, info.decoder_start_id, info.eos_id, d.tgt_in, d.outputs);
  return d;
}

TEST(Attribution, IntegratedGradientsCompletenessOnTheTestModel) {
  DatesModel d = dates_model();
  ASSERT_GE(d.outputs.size(), 5u);
  AttributionOptions o;
  o.method = AttributionMethod::kIntegratedGradients;
  double previous = 1e9;
  for (int64_t steps : {8, 64}) {
    o.steps = steps;
    const Attribution a = attribute_tokens(*d.model, d.src, d.tgt_in, d.outputs, o);
    EXPECT_LT(a.completeness_gap, previous) << steps << " steps";
    previous = a.completeness_gap;
    if (steps == 64) {
      EXPECT_LE(a.completeness_gap, 0.01);
    }
    // The gap is what it says: the scores against the change of log p.
    double gap = 0, moved = 0;
    for (size_t i = 0; i < d.outputs.size(); ++i) {
      const double delta = a.log_prob[i] - a.baseline_log_prob[i];
      gap += std::abs(a.score_sum[i] - delta);
      moved += std::abs(delta);
    }
    EXPECT_NEAR(a.completeness_gap, gap / moved, 1e-9);
  }
  o.baseline = AttributionBaseline::kZero;
  o.steps = 64;
  EXPECT_LE(attribute_tokens(*d.model, d.src, d.tgt_in, d.outputs, o).completeness_gap, 0.01);
}

TEST(Attribution, FilesHoldTheScoresTheSharesAndTheViewer) {
  DatesModel d = dates_model();
  AttributionOptions o;
  o.method = AttributionMethod::kIntegratedGradients;
  o.steps = 8;
  const Attribution a = attribute_tokens(*d.model, d.src, d.tgt_in, d.outputs, o);
  const auto dir = std::filesystem::temp_directory_path() / "attnscope_attribution_files";
  std::filesystem::remove_all(dir);
  const auto files = write_attribution_files(dir.string(), *d.model, d.src, d.t, a, o, {});
  EXPECT_EQ(files.size(), 5u);
  std::ifstream in(dir / "attribution.json");
  const std::string json((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (const char* key : {"\"method\":\"integrated-gradients\"", "\"completeness_gap\"",
                          "\"source_scores\"", "\"target_share\"", "\"baseline\":\"pad\""})
    EXPECT_NE(json.find(key), std::string::npos) << key;
  std::ifstream page(dir / "attribution.html");
  const std::string html((std::istreambuf_iterator<char>(page)), std::istreambuf_iterator<char>());
  EXPECT_NE(html.find("attribution_source"), std::string::npos);
  EXPECT_NE(html.find("\"cross\":[[["), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(Attribution, RefusesWhatItCannotDo) {
  Transformer m(tiny());
  m.init_weights(1);
  EXPECT_THROW(attribute_tokens(m, kSrc, {1, 3}, kOut, {}), Error);           // inputs ≠ outputs
  EXPECT_THROW(attribute_tokens(m, kSrc, kTgtIn, {3, 4, 5, 99}, {}), Error);  // not in vocab
  AttributionOptions o;
  o.steps = 0;
  o.method = AttributionMethod::kIntegratedGradients;
  EXPECT_THROW(attribute_tokens(m, kSrc, kTgtIn, kOut, o), Error);
  EXPECT_THROW(parse_attribution_method("grad"), Error);
  EXPECT_THROW(parse_attribution_baseline("one"), Error);
}

}  // namespace
}  // namespace attnscope

// `attention --rollout --contributions` on the trained tiny model: the files are there, rollout
// rows sum to 1 and the decoder's rollout stays causal, and the contributions come from the same
// maps the decoder made (per_head / value_norm = the captured weight), so the analyses describe
// the translation that was output.
#include "inspect/analysis_files.h"

#include <gtest/gtest.h>

#include <unistd.h>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include "core/error.h"
#include "io/model_dir.h"

namespace attnscope {
namespace {

namespace fs = std::filesystem;
const std::string kModel = std::string(ATTNSCOPE_TEST_DATA) + "/tiny_dates_model";

nlohmann::json read_json(const fs::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

struct Fixture {
  std::unique_ptr<Seq2SeqModel> model = load_model(kModel);
  TokenizerPair tok = load_tokenizers(kModel);
  Translation t;
  std::vector<int32_t> src_ids;
  fs::path dir = fs::temp_directory_path() / fmt::format("attnscope-analysis-{}", ::getpid());

  explicit Fixture(const std::string& sentence) {
    TranslateOptions opt;
    opt.decode.beam = 3;
    opt.decode.capture.emplace();
    t = translate_sentences(*model, *tok.src, *tok.tgt, {sentence}, opt).front();
    const ModelInfo c = model->info();
    src_ids = encode_source(*tok.src, sentence, c.max_len, c.eos_id);
  }
  ~Fixture() { fs::remove_all(dir); }
};

TEST(AnalysisFiles, RolloutRowsSumToOneAndTheDecoderStaysCausal) {
  Fixture f("25 de dezembro de 1969");
  AnalysisOptions opt;
  opt.rollout = true;
  const auto written = write_analysis_files(f.dir.string(), *f.model, f.src_ids, f.t, opt);
  for (const char* name : {"rollout.json", "rollout_encoder.png", "rollout_encoder.svg",
                           "rollout_decoder.png", "rollout_decoder.svg"})
    EXPECT_TRUE(fs::exists(f.dir / name)) << name;
  EXPECT_EQ(written.size(), 5u);
  EXPECT_FALSE(fs::exists(f.dir / "contributions.json"));
  const auto j = read_json(f.dir / "rollout.json");
  EXPECT_EQ(j["source_tokens"].size(), f.t.src_pieces.size());
  const auto& enc = j["encoder"];
  const auto& dec = j["decoder"];
  ASSERT_EQ(enc.size(), f.t.src_pieces.size());
  ASSERT_EQ(dec.size(), f.t.tgt_pieces.size());
  for (const auto* m : {&enc, &dec})
    for (const auto& row : *m) {
      double s = 0;
      for (const auto& v : row) s += v.get<double>();
      EXPECT_NEAR(s, 1.0, 1e-4);
    }
  for (size_t i = 0; i < dec.size(); ++i)
    for (size_t k = i + 1; k < dec.size(); ++k) EXPECT_EQ(dec[i][k].get<double>(), 0.0);
  // The residual keeps half of each position: the diagonal is at least what it keeps.
  for (size_t i = 0; i < enc.size(); ++i) EXPECT_GT(enc[i][i].get<double>(), 0.1);
}

TEST(AnalysisFiles, ContributionsComeFromTheMapsTheDecoderMade) {
  Fixture f("October 9, 1993");
  AnalysisOptions opt;
  opt.contributions = true;
  opt.pictures = false;
  write_analysis_files(f.dir.string(), *f.model, f.src_ids, f.t, opt);
  EXPECT_FALSE(fs::exists(f.dir / "contributions_cross.png"));
  const auto j = read_json(f.dir / "contributions.json");
  const HypothesisAttention& a = f.t.hypotheses.front().attention;
  struct Kind {
    const char* name;
    const std::vector<Tensor>* maps;
  };
  for (const Kind& k : {Kind{"encoder_self", &a.encoder_self},
                        Kind{"decoder_self", &a.decoder_self}, Kind{"cross", &a.cross}}) {
    SCOPED_TRACE(k.name);
    const auto& c = j[k.name];
    ASSERT_EQ(c["per_head"].size(), k.maps->size());
    for (size_t l = 0; l < k.maps->size(); ++l) {
      const Tensor& w = (*k.maps)[l];  // [H, Tq, Tk] captured while decoding (beam 3)
      const int64_t H = w.dim(0), Tq = w.dim(1), Tk = w.dim(2);
      ASSERT_EQ(c["per_head"][l].size(), static_cast<size_t>(H));
      for (int64_t h = 0; h < H; ++h)
        for (int64_t i = 0; i < Tq; ++i) {
          for (int64_t kk = 0; kk < Tk; ++kk) {
            const double norm = c["value_norms"][l][h][kk].get<double>();
            const double ph = c["per_head"][l][h][i][kk].get<double>();
            ASSERT_GT(norm, 0.0);
            EXPECT_NEAR(ph / norm, w[(h * Tq + i) * Tk + kk], 2e-5) << l << " " << h << " " << i;
          }
        }
      // ‖Σ_h‖ ≤ Σ_h ‖·‖ cell by cell.
      for (int64_t i = 0; i < Tq; ++i)
        for (int64_t kk = 0; kk < Tk; ++kk) {
          double heads = 0;
          for (int64_t h = 0; h < H; ++h) heads += c["per_head"][l][h][i][kk].get<double>();
          EXPECT_LE(c["summed"][l][i][kk].get<double>(), heads + 1e-5);
        }
    }
  }
}

TEST(AnalysisFiles, RefusesWhatItCannotAnalyse) {
  Fixture f("9 Oct 1993");
  AnalysisOptions opt;
  opt.rollout = true;
  Translation empty = f.t;
  empty.hypotheses.clear();
  EXPECT_THROW(write_analysis_files(f.dir.string(), *f.model, f.src_ids, empty, opt), Error);
  std::vector<int32_t> short_ids(f.src_ids.begin(), f.src_ids.end() - 1);
  EXPECT_THROW(write_analysis_files(f.dir.string(), *f.model, short_ids, f.t, opt), Error);
  opt.residual_share = 1.5f;
  EXPECT_THROW(write_analysis_files(f.dir.string(), *f.model, f.src_ids, f.t, opt), Error);
  // Nothing asked, nothing written.
  EXPECT_TRUE(write_analysis_files(f.dir.string(), *f.model, f.src_ids, f.t, {}).empty());
}

}  // namespace
}  // namespace attnscope

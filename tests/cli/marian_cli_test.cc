// Every command that takes --model on a Hugging Face Marian directory, as downloaded: attention
// (the translation Hugging Face gives and every map, as files), translate (greedy, beam, n-best,
// --max-new-tokens), eval, align, forward; refusals exit non-zero with the file and the field.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "marian_golden.h"
#include "run_attnscope.h"

namespace attnscope {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using test::marian_golden;
using test::marian_model;
using test::run_attnscope;

class MarianCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("attnscope_marian_cli_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  static std::string slurp(const std::string& p) {
    std::ifstream in(p);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  // The golden text of run `run` of each case, in case order (cases with max_new_tokens left out
  // unless asked).
  static std::vector<std::pair<std::string, std::string>> texts(const std::string& variant,
                                                                const std::string& run,
                                                                bool capped = false) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const json& c : marian_golden(variant).json["cases"])
      if (c["runs"][run]["overrides"].contains("max_new_tokens") == capped)
        out.emplace_back(c["source"], c["runs"][run]["hypotheses"][0]["text"]);
    return out;
  }
  fs::path dir_;
};

TEST_F(MarianCli, AttentionWritesTheTranslationHuggingFaceGivesAndEveryMap) {
  const std::string out = path("att");
  const auto r = run_attnscope("attention --model " + marian_model("shared_swish") +
                                   " \"Onde fica a estação?\" --out " + out,
                               false);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto& golden = marian_golden("shared_swish");
  const json& c = golden.json["cases"][0];
  // The generation config's beam search (num_beams 4): its best hypothesis.
  EXPECT_EQ(r.out, c["runs"]["beam"]["hypotheses"][0]["text"].get<std::string>() + "\n");
  for (const char* f : {"attention.json", "attention.safetensors", "attention.html",
                        "encoder_self.png", "decoder_self.png", "cross.png", "cross.svg"})
    EXPECT_TRUE(fs::exists(fs::path(out) / f)) << f;
  const json a = json::parse(slurp(out + "/attention.json"));
  std::vector<std::string> pieces = c["source_pieces"];  // case 0 has no <unk>
  pieces.push_back("</s>");
  EXPECT_EQ(a["source_tokens"].get<std::vector<std::string>>(), pieces);
  EXPECT_EQ(a["source_tokens"].back(), "</s>");
  EXPECT_EQ(a["target_tokens"].front(), "<pad>");
  // Every map against the golden ones: encoder (teacher-forced source), decoder and cross (the
  // beam's best hypothesis).
  const SafetensorsFile maps = read_safetensors(out + "/attention.safetensors");
  int compared = 0;
  for (const auto& [kind, golden_prefix] :
       {std::pair<std::string, std::string>{"encoder_self", "case.0.attn.encoder_self."},
        {"decoder_self", "case.0.beam.attn.decoder_self."},
        {"cross", "case.0.beam.attn.cross."}})
    for (int l = 0; l < 2; ++l) {
      const Tensor& got = maps.tensors.at(kind + "." + std::to_string(l));
      const Tensor& want = golden.tensor(golden_prefix + std::to_string(l));
      ASSERT_EQ(got.shape(), want.shape()) << kind << " " << l;
      EXPECT_LE(test::max_abs_diff(got.data(), want), 1e-5) << kind << " " << l;
      ++compared;
    }
  EXPECT_EQ(compared, 6);
}

TEST_F(MarianCli, AttentionAnalysesWorkOnMarianToo) {
  const auto r = run_attnscope("attention --model " + marian_model("separate_gelu") +
                               " \"Quanto custa um bilhete?\" --beam 1 --rollout --contributions "
                               "--no-pictures --out " +
                               path("a"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(fs::exists(path("a/rollout.json")));
  EXPECT_TRUE(fs::exists(path("a/contributions.json")));
}

TEST_F(MarianCli, TranslateGreedyBeamNbestAndMaxNewTokens) {
  for (const std::string& variant : test::marian_variants()) {
    const std::string model = marian_model(variant);
    for (const auto& [run, flags] :
         {std::pair<std::string, std::string>{"greedy", "--beam 1"}, {"beam", ""}}) {
      std::string input, want;
      for (const auto& [src, text] : texts(variant, run)) {
        input += src + "\n";
        want += text + "\n";
      }
      std::ofstream(path("in.txt")) << input;
      const auto r = run_attnscope(
          "translate --model " + model + " " + flags + " --input " + path("in.txt"), false);
      ASSERT_EQ(r.exit_code, 0) << variant << " " << r.out;
      EXPECT_EQ(r.out, want) << variant << " " << run;
    }
    // The long sentence capped at 5 new tokens (a forced </s> at the limit).
    for (const auto& [run, flags] :
         {std::pair<std::string, std::string>{"greedy", "--beam 1"}, {"beam", ""}}) {
      const auto capped = texts(variant, run, true);
      ASSERT_EQ(capped.size(), 1u);
      std::ofstream(path("in.txt")) << capped[0].first << "\n";
      const auto r = run_attnscope("translate --model " + model + " " + flags +
                                       " --max-new-tokens 5 --input " + path("in.txt"),
                                   false);
      ASSERT_EQ(r.exit_code, 0) << r.out;
      EXPECT_EQ(r.out, capped[0].second + "\n") << variant << " " << run;
    }
  }
  // n-best: every hypothesis of the generation config's beam, best first, with its score.
  const auto& golden = marian_golden("shared_swish");
  std::ofstream(path("in.txt")) << "Onde fica a estação?\n";
  const auto r = run_attnscope(
      "translate --model " + marian_model("shared_swish") + " --nbest 4 --input " + path("in.txt"),
      false);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  std::istringstream lines(r.out);
  std::string line;
  int n = 0;
  for (const json& h : golden.json["cases"][0]["runs"]["beam"]["hypotheses"]) {
    ASSERT_TRUE(std::getline(lines, line));
    EXPECT_EQ(line.substr(0, line.rfind(" ||| ")), "0 ||| " + h["text"].get<std::string>());
    EXPECT_NEAR(std::stod(line.substr(line.rfind(" ||| ") + 5)), h["score"].get<double>(), 1e-4);
    ++n;
  }
  EXPECT_EQ(n, 4);
}

TEST_F(MarianCli, FlagsAreValidatedForTheModel) {
  std::ofstream(path("in.txt")) << "Onde fica a estação?\n";
  const std::string model = marian_model("shared_swish");
  auto r =
      run_attnscope("translate --model " + model + " --max-new-tokens 0 --input " + path("in.txt"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("--max-new-tokens: Value 0 not in range"), std::string::npos) << r.out;
  r = run_attnscope("translate --model " + model + " --max-new-tokens 500 --input " +
                    path("in.txt"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("max_new_tokens must be between 1 and the model's 128"), std::string::npos)
      << r.out;
  r = run_attnscope("translate --model " + model + " --max-len-ratio 3 --input " + path("in.txt"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("--max-new-tokens"), std::string::npos) << r.out;
  r = run_attnscope("translate --model " + model + " --beam 2 --nbest 3 --input " + path("in.txt"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("nbest"), std::string::npos) << r.out;
}

TEST_F(MarianCli, EvalScoresTheTranslations) {
  std::string tsv;
  for (const auto& [src, text] : texts("separate_gelu", "beam")) tsv += src + "\t" + text + "\n";
  std::ofstream(path("test.tsv")) << tsv;
  const auto r = run_attnscope(
      "eval --model " + marian_model("separate_gelu") + " --data " + path("test.tsv") + " --json",
      false);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const json j = json::parse(r.out);
  EXPECT_DOUBLE_EQ(j["bleu"].get<double>(), 100.0) << r.out;  // references = HF's translations
}

TEST_F(MarianCli, AlignPrintsTheTranslationAndLinks) {
  std::ofstream(path("in.txt")) << "Onde fica a estação?\n";
  const auto r = run_attnscope(
      "align --model " + marian_model("shared_swish") + " --beam 1 --data " + path("in.txt"),
      false);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const std::string want =
      marian_golden("shared_swish").json["cases"][0]["runs"]["greedy"]["hypotheses"][0]["text"];
  EXPECT_EQ(r.out.substr(0, r.out.find(" ||| ")), want);
  EXPECT_NE(r.out.find('-'), std::string::npos) << r.out;
}

TEST_F(MarianCli, ForwardGivesTheTeacherForcedLogits) {
  const auto& golden = marian_golden("noscale_relu_f16");
  const auto ids_text = [](const std::vector<int32_t>& ids) {
    std::string s;
    for (int32_t id : ids) {
      if (!s.empty()) s.push_back(' ');
      s.append(std::to_string(id));
    }
    return s;
  };
  const auto r =
      run_attnscope("forward --model " + marian_model("noscale_relu_f16") + " --src \"" +
                        ids_text(golden.ids("case.0.source_ids")) + "\" --tgt \"" +
                        ids_text(golden.ids("case.0.tf.decoder_input_ids")) + "\" --json",
                    false);
  ASSERT_EQ(r.exit_code, 0) << r.out.substr(0, 500);
  const json j = json::parse(r.out);
  const Tensor& want = golden.tensor("case.0.tf.logits");  // [Tt, V]
  const json& logits = j["logits"][0];
  ASSERT_EQ(static_cast<int64_t>(logits.size()), want.dim(0));
  double worst = 0;
  for (int64_t t = 0; t < want.dim(0); ++t)
    for (int64_t v = 0; v < want.dim(1); ++v)
      worst = std::max(worst, std::fabs(logits[t][v].get<double>() - want[t * want.dim(1) + v]));
  EXPECT_LT(worst, 1e-4);
  EXPECT_EQ(j["attention"]["cross"].size(), 2u);
}

TEST_F(MarianCli, RefusalsExitWithTheFileAndTheField) {
  const fs::path copy = dir_ / "model";
  fs::copy(marian_model("shared_swish"), copy, fs::copy_options::recursive);
  json config = json::parse(slurp((copy / "config.json").string()));
  config["normalize_before"] = true;
  std::ofstream((copy / "config.json").string()) << config.dump();
  const std::vector<std::string> commands = {
      "translate --input /dev/null", "attention x --out " + path("o"), "forward --src 1 --tgt 178",
      "eval --data /dev/null", "align --data /dev/null"};
  for (const std::string& cmd : commands) {
    const auto r = run_attnscope(cmd.substr(0, cmd.find(' ')) + " --model " + copy.string() +
                                 cmd.substr(cmd.find(' ')));
    EXPECT_NE(r.exit_code, 0) << cmd;
    EXPECT_NE(r.out.find("config.json: \"normalize_before\" is true"), std::string::npos)
        << cmd << ": " << r.out;
  }
}

}  // namespace
}  // namespace attnscope

// --mask-heads on the commands that run a model, `attnscope attribute` and `attnscope heads`, as a
// user runs them.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "run_attnscope.h"

namespace attnscope {
namespace {

namespace fs = std::filesystem;

const std::string kDates = std::string(ATTNSCOPE_TEST_DATA) + "/tiny_dates_model";
const std::string kMarian = std::string(ATTNSCOPE_TEST_DATA) + "/marian/separate_gelu/model";

fs::path temp_dir(const std::string& name) {
  const fs::path d =
      fs::temp_directory_path() / ("attnscope_heads_cli_" + name + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

std::string read(const fs::path& p) {
  std::ifstream in(p);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

TEST(HeadsCli, MaskHeadsChangesTheTranslationAndEveryCommandTakesIt) {
  const fs::path d = temp_dir("every");
  std::ofstream(d / "in.txt") << "9 de outubro de 1993\n";
  std::ofstream(d / "test.tsv") << "9 de outubro de 1993\t1993-10-09\n";
  const std::string in = " < " + (d / "in.txt").string();
  const auto plain = test::run_attnscope("translate --model " + kDates + in, false);
  ASSERT_EQ(plain.exit_code, 0) << plain.out;
  EXPECT_EQ(plain.out, "1993-10-09\n");
  // Every cross-attention head off: the decoder no longer reads the source.
  const auto blind =
      test::run_attnscope("translate --model " + kDates + " --mask-heads 'cross:*:*'" + in, false);
  ASSERT_EQ(blind.exit_code, 0) << blind.out;
  EXPECT_NE(blind.out, plain.out);
  for (const std::string& cmd :
       {"eval --model " + kDates + " --data " + (d / "test.tsv").string(),
        "attention --model " + kDates + " '9 de outubro de 1993' --no-pictures --out " +
            (d / "att").string(),
        "forward --model " + kDates + " --src '5 6 7 2' --tgt '1 5 6'",
        "align --model " + kDates + " --data " + (d / "test.tsv").string()}) {
    const auto r = test::run_attnscope(cmd + " --mask-heads encoder_self:0:*,decoder_self:1:1");
    EXPECT_EQ(r.exit_code, 0) << cmd << "\n" << r.out;
    const auto bad = test::run_attnscope(cmd + " --mask-heads cross:7:0");
    EXPECT_EQ(bad.exit_code, 1) << cmd << "\n" << bad.out;
    EXPECT_NE(bad.out.find("--mask-heads: cross:7:0: no layer 7"), std::string::npos) << cmd << "\n"
                                                                                      << bad.out;
  }
  fs::remove_all(d);
}

TEST(HeadsCli, AMarianModelTakesMaskHeads) {
  const fs::path d = temp_dir("marian");
  std::ofstream(d / "in.txt") << "a b c\n";
  const std::string in = " < " + (d / "in.txt").string();
  const auto r =
      test::run_attnscope("translate --model " + kMarian + " --mask-heads 'cross:0:*'" + in);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  const auto bad =
      test::run_attnscope("translate --model " + kMarian + " --mask-heads 'cross:0:9'" + in);
  EXPECT_EQ(bad.exit_code, 1) << bad.out;
  EXPECT_NE(bad.out.find("no head 9"), std::string::npos) << bad.out;
  fs::remove_all(d);
}

TEST(HeadsCli, AttributeWritesItsFilesAndTheCompletenessGap) {
  const fs::path d = temp_dir("attribute");
  const auto r = test::run_attnscope("attribute --model " + kDates +
                                     " '9 de outubro de 1993' --method integrated-gradients "
                                     "--steps 64 --out " +
                                     (d / "a").string());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("1993-10-09\n"), std::string::npos) << r.out;
  const size_t at = r.out.find("completeness gap: ");
  ASSERT_NE(at, std::string::npos) << r.out;
  EXPECT_LE(std::stod(r.out.substr(at + 18)), 1.0) << r.out;
  for (const char* f : {"attribution.json", "attribution.safetensors", "attribution.png",
                        "attribution.svg", "attribution.html"})
    EXPECT_TRUE(fs::exists(d / "a" / f)) << f;
  const auto j = nlohmann::json::parse(read(d / "a" / "attribution.json"));
  EXPECT_EQ(j["method"], "integrated-gradients");
  EXPECT_EQ(j["source_scores"].size(), j["target_tokens"].size());
  EXPECT_LE(j["completeness_gap"].get<double>(), 0.01);
  // A given translation, teacher-forced, with saliency.
  const auto t = test::run_attnscope("attribute --model " + kDates +
                                     " '9 de outubro de 1993' --target '1993-10-08' --out " +
                                     (d / "b").string() + " --no-html --no-pictures");
  ASSERT_EQ(t.exit_code, 0) << t.out;
  const auto k = nlohmann::json::parse(read(d / "b" / "attribution.json"));
  EXPECT_EQ(k["translation"], "1993-10-08");
  EXPECT_EQ(k["method"], "saliency");
  EXPECT_FALSE(fs::exists(d / "b" / "attribution.png"));
  fs::remove_all(d);
}

TEST(HeadsCli, HeadsPrintsTheTableAndWritesItsFiles) {
  const fs::path d = temp_dir("heads");
  {
    std::ofstream tsv(d / "dev.tsv");
    tsv << "9 de outubro de 1993\t1993-10-09\n12 de março de 2001\t2001-03-12\n"
           "1 de janeiro de 1950\t1950-01-01\n";
  }
  const auto r = test::run_attnscope("heads --model " + kDates + " --data " +
                                     (d / "dev.tsv").string() + " --out " + (d / "h").string());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("cross:1:1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("heads kept"), std::string::npos) << r.out;
  const auto j = nlohmann::json::parse(read(d / "h" / "heads.json"));
  EXPECT_EQ(j["heads"].size(), 12u);  // 3 kinds × 2 layers × 2 heads
  EXPECT_EQ(j["pruning"].back()["heads_kept"], 0);
  EXPECT_TRUE(fs::exists(d / "h" / "heads.png"));
  fs::remove_all(d);
}

// The RNN model has one additive-attention head: removing it removes attention, and its backward
// gives no input gradients. Each command says so instead of running.
TEST(HeadsCli, TheRnnModelRefusesSayingWhy) {
  const fs::path d = temp_dir("rnn");
  {
    std::ofstream tsv(d / "train.tsv");
    tsv << "9 de outubro de 1993\t1993-10-09\n12 de março de 2001\t2001-03-12\n";
  }
  std::ofstream(d / "in.txt") << "9 de outubro\n";
  const std::string rnn = (d / "rnn").string();
  const auto t =
      test::run_attnscope("train --arch rnn-attention --data " + (d / "train.tsv").string() +
                          " --out " + rnn + " --config tiny --steps 2");
  ASSERT_EQ(t.exit_code, 0) << t.out;
  const auto m = test::run_attnscope("translate --model " + rnn + " --mask-heads cross:0:0 < " +
                                     (d / "in.txt").string());
  EXPECT_EQ(m.exit_code, 1) << m.out;
  EXPECT_NE(m.out.find("--mask-heads: an rnn-attention model has no head gates: it has one "
                       "attention head"),
            std::string::npos)
      << m.out;
  const auto h = test::run_attnscope("heads --model " + rnn + " --data " +
                                     (d / "train.tsv").string() + " --out " + (d / "h").string());
  EXPECT_EQ(h.exit_code, 1) << h.out;
  EXPECT_NE(h.out.find("one attention head"), std::string::npos) << h.out;
  const auto a = test::run_attnscope("attribute --model " + rnn + " '9 de outubro' --out " +
                                     (d / "a").string());
  EXPECT_EQ(a.exit_code, 1) << a.out;
  EXPECT_NE(a.out.find("rnn-attention model, which has none"), std::string::npos) << a.out;
  EXPECT_FALSE(fs::exists(d / "a"));
  EXPECT_FALSE(fs::exists(d / "h"));
  fs::remove_all(d);
}

}  // namespace
}  // namespace attnscope

// `attnscope align --gold` end to end on the trained tiny model: the AER table, the flags that
// reproduce the best source, the notes for pairs left out and gold links past the sentence, and
// the flag checks, which come before the model is loaded. (The checks themselves are unit-tested
// in tests/unit/app_align_checks_test.cc; this proves align uses them.)
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "run_attnscope.h"

namespace attnscope {
namespace {

namespace fs = std::filesystem;

const std::string kModel = std::string(ATTNSCOPE_TEST_DATA) + "/tiny_dates_model";

class AlignCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("attnscope_align_cli_" + std::to_string(getpid()));
    fs::create_directories(dir_);
    std::string long_source;  // far more pieces than the model's 64 positions
    for (int i = 0; i < 20; ++i) long_source += "25 de dezembro de 1969 ";
    pairs_ = write("pairs.tsv",
                   "25 de dezembro de 1969\t1969-12-25\n"
                   "October 9, 1993\t1993-10-09\n"
                   "1993/10/12\t1993-10-12\n" +
                       long_source + "\t1969-12-25\n");
    gold_ = write("gold.txt", "0-0 4-0\n0-0 1-0 2-0\n9-0 0-0\n0-0\n");
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) const {
    const fs::path p = dir_ / name;
    std::ofstream(p) << text;
    return p.string();
  }
  fs::path dir_;
  std::string pairs_, gold_;
};

TEST_F(AlignCli, GoldPrintsTheAerTableTheBestSourceAndNotes) {
  const test::CliResult r =
      test::run_attnscope("align --model " + kModel + " --data " + pairs_ + " --gold " + gold_);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("AER of every cross-attention source over 3 sentence pair(s), word level, "
                       "argmax links; best first:"),
            std::string::npos)
      << r.out;
  for (const char* source : {"layer 0 head 0", "layer 1 head 1", "layer 1 mean", "all layers mean"})
    EXPECT_NE(r.out.find(source), std::string::npos) << source << "\n" << r.out;
  EXPECT_NE(r.out.find("align with it: attnscope align --model " + kModel + " --"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("attnscope: 1 sentence pair(s) longer than the model's 64 positions were "
                       "left out of the AER (first: " +
                       pairs_ + ":4)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("attnscope: 1 gold link(s) point past the sentence (first: " + gold_ +
                       ":3: 9-0 with 1 source and 1 target words)"),
            std::string::npos)
      << r.out;
}

TEST_F(AlignCli, GoldFlagsAreCheckedBeforeTheModelIsLoaded) {
  const std::string missing_model = (dir_ / "no_model").string();
  test::CliResult r =
      test::run_attnscope("align --model " + missing_model + " --gold " + gold_ + " < " + pairs_);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("attnscope: error: --gold needs --data"), std::string::npos) << r.out;
  r = test::run_attnscope("align --model " + missing_model + " --data " + pairs_ + " --gold " +
                          gold_ + " --gold-base 2");
  EXPECT_NE(r.exit_code, 0) << r.out;  // refused while parsing the command line
  EXPECT_NE(r.out.find("--gold-base: 2 not in {0,1}"), std::string::npos) << r.out;
  r = test::run_attnscope("align --model " + kModel + " --data " + pairs_ + " --gold " +
                          write("short.txt", "0-0\n"));
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("short.txt has 1 lines but " + pairs_ +
                       " has 4: one gold alignment per sentence pair"),
            std::string::npos)
      << r.out;
}

}  // namespace
}  // namespace attnscope

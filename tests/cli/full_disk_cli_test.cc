// Failures are never reported as success: every command that writes to stdout exits non-zero with
// a message when stdout is a full disk (/dev/full); output files on a disk that fills up (a
// file-size limit stands in for it: `ulimit -f` with SIGXFSZ ignored, so a write fails with EFBIG
// as on a full disk) end the command with an error naming the file, leave no partial file — and a
// training run stopped that way is resumed by the same command once there is room.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "run_attnscope.h"

namespace attnscope {
namespace {

namespace fs = std::filesystem;

const std::string kModel = std::string(ATTNSCOPE_TEST_DATA) + "/tiny_dates_model";

class FullDiskCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("attnscope_full_disk_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream(dir_ / "in.txt") << "9 de outubro de 1993\n12 de janeiro de 2001\n";
    std::ofstream(dir_ / "test.tsv") << "9 de outubro de 1993\t1993-10-09\n";
    std::ofstream(dir_ / "ref.txt") << "1993-10-09\n";
  }
  void TearDown() override { fs::remove_all(dir_); }
  // attnscope ARGS in the test's folder, with the shell's `prefix` (a ulimit) first.
  test::CliResult run(const std::string& args, const std::string& prefix = "") {
    return test::run_shell("cd " + dir_.string() + " && " + prefix + "exec " +
                           test::attnscope_binary() + " " + args);
  }
  std::vector<std::string> temp_files() {
    std::vector<std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(dir_))
      if (e.path().filename().string().find(".tmp") != std::string::npos)
        out.push_back(e.path().string());
    return out;
  }
  fs::path dir_;
};

TEST_F(FullDiskCli, EveryCommandWritingToAFullStdoutFails) {
  for (const std::string& args : {
           std::string("explain"),
           std::string("explain --json"),
           std::string("--help"),
           std::string("train --help"),
           std::string("--version"),
           "translate --model " + kModel + " < in.txt",
           "translate --model " + kModel + " --nbest 2 --beam 2 < in.txt",
           "eval --model " + kModel + " --data test.tsv",
           "eval --model " + kModel + " --data test.tsv --json",
           std::string("score -i ref.txt -r ref.txt"),
           "forward --model " + kModel + " --src '5 6 2' --tgt '1 5'",
           "forward --model " + kModel + " --src '5 6 2' --tgt '1 5' --json",
           "align --model " + kModel + " < in.txt",
           "attention --model " + kModel + " --out att --no-pictures '9 de outubro de 1993'",
       }) {
    // stdout to /dev/full, stderr (the message) to the test.
    const test::CliResult e = run(args + " 2>&1 >/dev/full");
    EXPECT_EQ(e.exit_code, 1) << args << "\n" << e.out;
    EXPECT_NE(e.out.find("No space left on device"), std::string::npos) << args << "\n" << e.out;
  }
}

TEST_F(FullDiskCli, OutputFilesOnAFullDiskFailWithoutPartialFiles) {
  // 8 blocks of 512 bytes: the translations fit, the attention files do not.
  const std::string full = "trap '' XFSZ; ulimit -f 8; ";
  test::CliResult r =
      run("translate --model " + kModel + " --input in.txt --output out.txt 2>&1", full);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  r = run("attention --model " + kModel + " --out att '9 de outubro de 1993' 2>&1", full);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("File too large"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("att/"), std::string::npos) << r.out;  // the file is named
  EXPECT_EQ(temp_files(), std::vector<std::string>{});
  r = run("eval --model " + kModel + " --data test.tsv --hypotheses hyp.txt 2>&1",
          "trap '' XFSZ; ulimit -f 0; ");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("hyp.txt"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(dir_ / "hyp.txt"));
  EXPECT_EQ(temp_files(), std::vector<std::string>{});
}

// A training run whose disk fills up stops with an error naming the file; once there is room,
// the same command completes it.
TEST_F(FullDiskCli, TrainingOnAFullDiskStopsCleanlyAndResumes) {
  {
    std::ofstream train(dir_ / "train.tsv");
    for (int i = 0; i < 200; ++i)
      train << (1 + i % 28) << " de outubro de " << (1900 + i) << "\t" << (1900 + i) << "-10-"
            << (1 + i % 28) << "\n";
  }
  const std::string cmd =
      "train --data train.tsv --out run --config tiny --vocab 60 --steps 8 --valid-every 4 "
      "--batch-tokens 256 --resume 2>&1";
  // The model file (about 1 MB) does not fit in 512 KB.
  test::CliResult r = run(cmd, "trap '' XFSZ; ulimit -f 1024; ");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("File too large"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("run/"), std::string::npos) << r.out;
  EXPECT_EQ(temp_files(), std::vector<std::string>{});
  r = run(cmd);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(fs::exists(dir_ / "run" / "checkpoint" / "trainer.json")) << r.out;
}

}  // namespace
}  // namespace attnscope

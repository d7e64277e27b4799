// What a crash can leave in a training directory, told apart (train/run_dir.h), and the cleanup
// of a run that stopped before its first checkpoint and of a killed writer's temporary files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/atomic_file.h"
#include "train/run_dir.h"

namespace attnscope {
namespace {

namespace fs = std::filesystem;

class RunDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("attnscope_run_dir_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void touch(const std::string& name) {
    fs::create_directories((dir_ / name).parent_path());
    std::ofstream(dir_ / name) << "x";
  }
  fs::path dir_;
};

TEST_F(RunDir, StatesAreToldApart) {
  RunDirState s = inspect_run_dir(dir_.string());
  EXPECT_FALSE(s.marker || s.checkpoint || s.model);
  touch("config.json");
  s = inspect_run_dir(dir_.string());
  EXPECT_TRUE(s.model && !s.marker && !s.checkpoint);  // someone's model: not ours to remove
  start_run_dir(dir_.string());
  EXPECT_TRUE(inspect_run_dir(dir_.string()).marker);
  fs::create_directories(dir_ / "checkpoint.old");
  std::ofstream(dir_ / "checkpoint.old" / "trainer.json") << "{\"step\": 8}";
  s = inspect_run_dir(dir_.string());
  EXPECT_TRUE(s.checkpoint);  // mid-swap: checkpoint.old is the whole one
  EXPECT_EQ(s.checkpoint_step, 8);
}

TEST_F(RunDir, AnUnfinishedRunLosesOnlyWhatItWrote) {
  start_run_dir(dir_.string());
  for (const char* f :
       {"config.json", "model.safetensors", "shared.spm", "metrics.jsonl", "training.png",
        "checkpoint.tmp/model.safetensors", "model.safetensors.tmp-999999999-3"})
    touch(f);
  touch("notes.txt");  // the user's
  clear_unfinished_run(dir_.string());
  std::vector<std::string> left;
  for (const auto& e : fs::directory_iterator(dir_)) left.push_back(e.path().filename().string());
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{".attnscope-train", "notes.txt"}));
}

TEST_F(RunDir, StaleTemporaryFilesOfDeadWritersGo) {
  const std::string mine = "a.bin.tmp-" + std::to_string(::getpid()) + "-1";
  for (const std::string& f : {std::string("b.bin.tmp-999999999-2"), mine,
                               std::string("c.bin.tmp-1-4"),  // pid 1 runs
                               std::string("d.tmp-notes.txt"), std::string("e.bin.tmp-12")})
    touch(f);
  EXPECT_EQ(remove_stale_temp_files(dir_.string()), 1);
  EXPECT_FALSE(fs::exists(dir_ / "b.bin.tmp-999999999-2"));
  for (const std::string& f : {mine, std::string("c.bin.tmp-1-4"), std::string("d.tmp-notes.txt"),
                               std::string("e.bin.tmp-12")})
    EXPECT_TRUE(fs::exists(dir_ / f)) << f;
}

}  // namespace
}  // namespace attnscope

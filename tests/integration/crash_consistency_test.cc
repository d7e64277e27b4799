// A crash never loses a training run: a real `attnscope train --resume --out DIR` is killed
// (SIGKILL, no chance to clean up) at each rename, unlink, mkdir and fsync of its run, at sampled
// openat and write calls (strace -e inject=SYSCALL:signal=SIGKILL:when=N, Debian's strace), at
// random moments, and twice in a row; the same command is then run again until it completes, and
// the run must be exactly the one an uninterrupted run gives: the same metrics rows (every step,
// none lost, none twice), bit-identical weights, tokenizer and checkpoint, no leftovers.
//
// The run: the tiny Transformer, 12 steps, a checkpoint (and validation) every 4, a log line every
// 2 — every kind of file the trainer writes, each written several times.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "run_attnscope.h"

namespace attnscope {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool have_strace() {
  return test::run_shell("strace -V >/dev/null 2>&1", 30).exit_code == 0;
}

class CrashConsistency : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = fs::temp_directory_path() / ("attnscope_crash_" + std::to_string(getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_);
    // A reversal task over a dozen words: quick to tokenize and to train on.
    const std::vector<std::string> words = {"the", "cat", "sees", "a",    "dog", "on",
                                            "red", "mat", "big",  "runs", "and", "sits"};
    std::mt19937 rng(1);
    std::ofstream train(root_ / "train.tsv"), valid(root_ / "valid.tsv");
    for (int i = 0; i < 300; ++i) {
      std::vector<std::string> s(2 + rng() % 6);
      for (auto& w : s) w = words[rng() % words.size()];
      std::string src, tgt;
      for (size_t k = 0; k < s.size(); ++k) {
        src += (k ? " " : "") + s[k];
        tgt += (k ? " " : "") + s[s.size() - 1 - k];
      }
      (i < 20 ? valid : train) << src << '\t' << tgt << '\n';
    }
  }
  static void TearDownTestSuite() { fs::remove_all(root_); }

  // The command a user (or a restart loop) runs, again and again, until it completes.
  static std::string train_command(const fs::path& out) {
    return "env OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive OPENBLAS_THREAD_TIMEOUT=4 " +
           test::attnscope_binary() + " train --data " + (root_ / "train.tsv").string() +
           " --valid " + (root_ / "valid.tsv").string() + " --out " + out.string() +
           " --config tiny --vocab 40 --steps 12 --valid-every 4 --log-every 2 --batch-tokens 256 "
           "--valid-bleu-sentences 4 --resume";
  }
  // The command, killed by strace at the n-th call of `syscall`.
  static std::string killed_at(const std::string& syscall, int n, const fs::path& out) {
    return "strace -f -qq -o /dev/null -e inject=" + syscall +
           ":signal=SIGKILL:when=" + std::to_string(n) + " " + train_command(out) +
           " >/dev/null 2>&1";
  }

  // The uninterrupted run every interrupted one must end up equal to, and how many calls of each
  // syscall it makes.
  static const fs::path& reference() {
    static const fs::path ref = [] {
      const fs::path dir = root_ / "reference";
      const test::CliResult r = test::run_shell(
          "strace -f -qq -o " + (root_ / "calls.txt").string() +
          " -e trace=rename,renameat,renameat2,unlink,unlinkat,rmdir,mkdir,mkdirat,fsync,openat,"
          "write,ftruncate,truncate " +
          train_command(dir) + " 2>&1");
      EXPECT_EQ(r.exit_code, 0) << r.out;
      std::ifstream in(root_ / "calls.txt");
      for (std::string line; std::getline(in, line);) {
        std::istringstream words(line);
        std::string pid, call;
        words >> pid >> call;
        call = call.substr(0, call.find('('));
        if (!call.empty() && call[0] != '+' && call[0] != '<') ++calls_[call];
      }
      return dir;
    }();
    return ref;
  }
  static int calls(const std::string& syscall) {
    reference();
    return calls_[syscall];
  }

  // Rows of metrics.jsonl without the wall-clock fields (time differs, numbers must not).
  static std::vector<json> metrics_rows(const fs::path& dir) {
    std::vector<json> rows;
    std::ifstream in(dir / "metrics.jsonl");
    for (std::string line; std::getline(in, line);) {
      json j = json::parse(line, nullptr, false);
      if (j.is_discarded()) {
        rows.push_back(json("unparsable line: " + line));
        continue;
      }
      j.erase("elapsed_s");
      j.erase("tgt_tokens_per_s");
      rows.push_back(j);
    }
    return rows;
  }

  // The run in `dir` is the reference run, exactly.
  static void expect_same_run(const fs::path& dir, const std::string& what) {
    const fs::path& ref = reference();
    SCOPED_TRACE(what);
    EXPECT_EQ(metrics_rows(dir), metrics_rows(ref));
    for (const char* file : {"config.json", "model.safetensors", "shared.spm",
                             "checkpoint/model.safetensors", "checkpoint/trainer.safetensors"})
      EXPECT_TRUE(slurp(dir / file) == slurp(ref / file)) << file << " differs";
    json state = json::parse(slurp(dir / "checkpoint" / "trainer.json"), nullptr, false);
    json ref_state = json::parse(slurp(ref / "checkpoint" / "trainer.json"), nullptr, false);
    ASSERT_TRUE(state.is_object() && ref_state.is_object());
    for (const char* wall_clock :
         {"elapsed_s", "metrics_bytes"}) {  // rows hold times: lengths vary
      state.erase(wall_clock);
      ref_state.erase(wall_clock);
    }
    EXPECT_EQ(state, ref_state);
    EXPECT_EQ(state.value("step", -1), 12);
    for (const auto& e : fs::directory_iterator(dir)) {
      const std::string name = e.path().filename().string();
      EXPECT_TRUE(name != "checkpoint.tmp" && name != "checkpoint.old" &&
                  name.find(".tmp-") == std::string::npos)
          << "left behind: " << name;
    }
  }

  // Runs the command after a crash until it completes (it must, the first time).
  static void finish(const fs::path& dir, const std::string& what) {
    const test::CliResult r = test::run_shell(train_command(dir) + " 2>&1");
    ASSERT_EQ(r.exit_code, 0) << what << ": the same command after the crash failed:\n" << r.out;
    expect_same_run(dir, what);
  }

  // Kills a run at each of `points` calls of `syscall`, then finishes it.
  void kill_at_each(const std::string& syscall, const std::vector<int>& points) {
    ASSERT_FALSE(points.empty()) << syscall;
    for (const int n : points) {
      const fs::path dir = root_ / (syscall + "_" + std::to_string(n));
      test::run_shell(killed_at(syscall, n, dir));
      finish(dir, "killed at " + syscall + " #" + std::to_string(n));
      fs::remove_all(dir);
      if (HasFatalFailure()) return;
    }
  }
  static std::vector<int> every(int count, int step = 1, int first = 1) {
    std::vector<int> out;
    for (int n = first; n <= count; n += step) out.push_back(n);
    return out;
  }

  void SetUp() override {
    if (!have_strace()) GTEST_SKIP() << "strace is missing (scripts/install-deps.sh installs it)";
  }

  static inline fs::path root_;
  static inline std::map<std::string, int> calls_;
};

// Checkpoint swaps, the model's atomic writes, the tokenizer: every rename of the run.
TEST_F(CrashConsistency, KilledAtEveryRename) {
  EXPECT_GE(calls("rename"), 12);  // ≥ 3 checkpoints × (3 files + 2 folder renames) …
  kill_at_each("rename", every(calls("rename")));
}

// Removing the old checkpoint, a partial one, temporary files; creating the folders.
TEST_F(CrashConsistency, KilledAtEveryUnlinkRmdirAndMkdir) {
  for (const char* call : {"unlinkat", "unlink", "rmdir", "mkdir"})
    if (calls(call) > 0) kill_at_each(call, every(calls(call)));
}

// Every third fsync: each atomic write syncs its file (before the rename) and then its folder
// (after it); a step of 3 alternates between the two across the run.
TEST_F(CrashConsistency, KilledAtEveryThirdFsync) {
  EXPECT_GE(calls("fsync"), 12);
  kill_at_each("fsync", every(calls("fsync"), 3));
}

// Opening and writing files (and the log): a sample spread over the whole run.
TEST_F(CrashConsistency, KilledAtSampledOpensAndWrites) {
  kill_at_each("openat", every(calls("openat"), std::max(1, calls("openat") / 8), 3));
  kill_at_each("write", every(calls("write"), std::max(1, calls("write") / 8), 5));
}

// A second kill while the first one's leftovers are put in order or the next checkpoint is
// swapped in: the last completed checkpoint must survive both.
TEST_F(CrashConsistency, KilledTwiceInARow) {
  const int renames = calls("rename");
  for (const auto& [first, second] : std::vector<std::pair<int, int>>{{renames / 3, 1},
                                                                      {renames / 3, 2},
                                                                      {renames / 2, 1},
                                                                      {renames / 2, 3},
                                                                      {renames - 2, 1},
                                                                      {renames - 1, 2},
                                                                      {renames / 2, renames / 3}}) {
    const fs::path dir = root_ / ("twice_" + std::to_string(first) + "_" + std::to_string(second));
    test::run_shell(killed_at("rename", first, dir));
    test::run_shell(killed_at("rename", second, dir));
    finish(dir, "killed at rename #" + std::to_string(first) + ", then at rename #" +
                    std::to_string(second) + " of the run after it");
    fs::remove_all(dir);
  }
  for (const auto& [first, second] :
       std::vector<std::pair<int, int>>{{calls("fsync") / 2, 2}, {calls("fsync") - 3, 5}}) {
    const fs::path dir = root_ / ("twice_fsync_" + std::to_string(first));
    test::run_shell(killed_at("fsync", first, dir));
    test::run_shell(killed_at("unlinkat", second, dir));
    finish(dir, "killed at fsync #" + std::to_string(first) + ", then at unlinkat #" +
                    std::to_string(second));
    fs::remove_all(dir);
  }
}

// kill -9 at random moments of the run (from a fixed seed), twice in a row.
TEST_F(CrashConsistency, KilledTwiceAtRandomMoments) {
  reference();
  const auto start = std::chrono::steady_clock::now();
  test::run_shell(train_command(root_ / "timing") + " >/dev/null 2>&1");
  const int run_ms =
      std::max<int>(50, static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                             std::chrono::steady_clock::now() - start)
                                             .count()));
  std::mt19937 rng(14);
  for (int trial = 0; trial < 6; ++trial) {
    const fs::path dir = root_ / ("random_" + std::to_string(trial));
    const int first = 10 + static_cast<int>(rng() % static_cast<unsigned>(run_ms));
    const int second = 10 + static_cast<int>(rng() % static_cast<unsigned>(run_ms));
    const test::CliResult a = test::run_shell(train_command(dir) + " >/dev/null 2>&1", 120, first);
    const test::CliResult b = test::run_shell(train_command(dir) + " >/dev/null 2>&1", 120, second);
    finish(dir, "killed after " + std::to_string(first) + " ms (" +
                    (a.killed ? "killed" : "it had finished") + "), then after " +
                    std::to_string(second) + " ms (" + (b.killed ? "killed" : "finished") + ")");
    fs::remove_all(dir);
  }
}

}  // namespace
}  // namespace attnscope

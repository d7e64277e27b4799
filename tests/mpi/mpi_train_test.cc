// `mpirun -np 2 attnscope train` on this machine (label mpi): two ranks over shared memory and
// over TCP on loopback follow one rank with twice the accumulation (the same batches, dropout
// masks and updates, up to the rounding of another summation order); resuming continues exactly,
// also on one rank, and a one-rank run continues on two (the global batch kept); a rank killed or
// stopped mid-run stops the other within a bounded time with a message naming it, leaving a
// checkpoint that resumes exactly; ranks that differ in binary, options or data are refused before
// any work.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>

#include "data/date_corpus.h"
#include "run_attnscope.h"

namespace attnscope {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// How the two ranks talk: Open MPI's shared-memory or TCP transport (pml ob1, so a UCX build of
// Open MPI takes these too).
const char* kSharedMemory = "--mca pml ob1 --mca btl self,vader";
const char* kTcp = "--mca pml ob1 --mca btl tcp,self --mca btl_tcp_if_include lo";

// Tiny model, small batches, a warm-up short enough that 50 updates move the weights a lot.
const std::string kTrain =
    "train --config tiny --vocab 100 --batch-tokens 200 --log-every 1 --warmup 20 --lr 2e-3 "
    "--seed 5 --split-dev 16";

class MpiTrainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ = fs::temp_directory_path() /
            (std::string("attnscope_mpi_") + info->name() + "_" + std::to_string(getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_);
    std::ofstream tsv(root_ / "dates.tsv");
    for (const DatePair& d : generate_dates(400, 11)) tsv << d.written << "\t" << d.iso << "\n";
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(root_);
  }

  std::string data() const { return (root_ / "dates.tsv").string(); }
  std::string dir(const std::string& name) const { return (root_ / name).string(); }

  fs::path root_;
};

// attnscope on 2 ranks; per_rank is a shell command line run by each (sh -c), in which
// $OMPI_COMM_WORLD_RANK is the rank and $A the binary.
std::string mpirun_sh(const char* transport, const std::string& per_rank) {
  // As root too (CI's containers), oversubscribed (the cores may be busy), one thread a rank.
  return std::string(ATTNSCOPE_MPIEXEC) +
         " --allow-run-as-root --oversubscribe --bind-to none -x OMP_NUM_THREADS=1 "
         "-x OMP_WAIT_POLICY=passive -np 2 " +
         transport + " sh -c 'A=" + test::attnscope_binary() + "; " + per_rank + "' 2>&1";
}
std::string mpirun(const char* transport, const std::string& args) {
  return mpirun_sh(transport, "exec $A " + args);
}

// step → loss of the log rows of metrics.jsonl.
std::map<int64_t, double> losses(const std::string& dir) {
  std::map<int64_t, double> out;
  std::ifstream in(fs::path(dir) / "metrics.jsonl");
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    if (j.contains("loss")) out[j.at("step").get<int64_t>()] = j.at("loss").get<double>();
  }
  return out;
}

int64_t last_step(const std::string& dir) {
  const auto l = losses(dir);
  return l.empty() ? 0 : l.rbegin()->first;
}

// N ranks with accumulation A follow one rank with N·A: the first loss is the same number (the
// same batches and dropout masks, before any update); after the first update only the order of
// the gradient sums differs (rank 0's, rank 1's, then both, instead of one after another), so
// the losses agree to float rounding, which training then amplifies slowly.
void expect_same_trajectory(const std::map<int64_t, double>& one,
                            const std::map<int64_t, double>& two, int64_t steps) {
  ASSERT_EQ(one.size(), static_cast<size_t>(steps));
  ASSERT_EQ(two.size(), static_cast<size_t>(steps));
  EXPECT_NEAR(two.at(1), one.at(1), 1e-12 * one.at(1));
  EXPECT_NEAR(two.at(2), one.at(2), 1e-6 * one.at(2));
  for (const auto& [step, loss] : one)
    EXPECT_NEAR(two.at(step), loss, 2e-3 * loss) << "step " << step;
  // And training went somewhere: the trajectory is not a flat line both would follow anyway.
  EXPECT_LT(one.at(steps), 0.8 * one.at(1));
}

void equivalence(const char* transport, const std::string& one_dir, const std::string& two_dir,
                 const std::string& data) {
  test::CliResult one =
      test::run_attnscope(kTrain + " --data " + data + " --out " + one_dir +
                          " --steps 50 --accumulate 4 --valid-every 25 --valid-bleu-sentences 8");
  ASSERT_EQ(one.exit_code, 0) << one.out;
  // Every update also checks that both ranks hold the same weights, bit for bit.
  test::CliResult two = test::run_shell(
      mpirun(transport, kTrain + " --data " + data + " --out " + two_dir +
                            " --steps 50 --accumulate 2 --valid-every 25 --valid-bleu-sentences 8 "
                            "--replica-check-every 1"));
  ASSERT_EQ(two.exit_code, 0) << two.out;
  EXPECT_NE(two.out.find("data parallel: 2 ranks, 4 batches per update (2 per rank)"),
            std::string::npos)
      << two.out;
  // Rank 0 alone logs: one line per step, not two.
  size_t lines = 0;
  for (size_t at = 0; (at = two.out.find("training pairs:", at)) != std::string::npos; ++at)
    ++lines;
  EXPECT_EQ(lines, 1u) << two.out;
  expect_same_trajectory(losses(one_dir), losses(two_dir), 50);
}

TEST_F(MpiTrainTest, TwoRanksOverSharedMemoryFollowOneRankWithTwiceTheAccumulation) {
  equivalence(kSharedMemory, dir("one"), dir("two"), data());
}

TEST_F(MpiTrainTest, TwoRanksOverTcpFollowOneRankWithTwiceTheAccumulation) {
  equivalence(kTcp, dir("one"), dir("two"), data());
}

TEST_F(MpiTrainTest, ResumeContinuesExactlyOnTwoRanksAndOnOneWithDoubledAccumulation) {
  const std::string args =
      kTrain + " --data " + data() + " --accumulate 2 --valid-every 10 --valid-bleu-sentences 8";
  test::CliResult r =
      test::run_shell(mpirun(kSharedMemory, args + " --out " + dir("whole") + " --steps 20"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  r = test::run_shell(mpirun(kSharedMemory, args + " --out " + dir("two") + " --steps 10"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  fs::copy(dir("two"), dir("one"), fs::copy_options::recursive);
  // The same number of ranks: the same sums in the same order, bit for bit.
  r = test::run_shell(
      mpirun(kSharedMemory, args + " --out " + dir("two") + " --steps 20 --resume"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(losses(dir("two")), losses(dir("whole")));
  // One rank with twice the accumulation: the same global batches, dropout masks and schedule.
  r = test::run_attnscope(kTrain + " --data " + data() +
                          " --accumulate 4 --valid-every 10 --valid-bleu-sentences 8 --out " +
                          dir("one") + " --steps 20 --resume");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto whole = losses(dir("whole")), one = losses(dir("one"));
  ASSERT_EQ(one.size(), 20u);
  for (const auto& [step, loss] : whole) {
    if (step <= 10)
      EXPECT_EQ(one.at(step), loss) << "step " << step;  // the two ranks' own rows
    else
      EXPECT_NEAR(one.at(step), loss, 1e-4 * loss) << "step " << step;
  }
  EXPECT_EQ(one.at(11), whole.at(11));  // from the same checkpoint, before any update differs

  // And the other way: one rank with --accumulate 4, continued on two ranks with 2 each.
  r = test::run_attnscope(kTrain + " --data " + data() +
                          " --accumulate 4 --valid-every 10 --valid-bleu-sentences 8 --out " +
                          dir("solo") + " --steps 10");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  r = test::run_shell(
      mpirun(kSharedMemory, args + " --out " + dir("solo") + " --steps 20 --resume"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("resumed at step 10"), std::string::npos) << r.out;
  const auto solo = losses(dir("solo"));
  ASSERT_EQ(solo.size(), 20u);
  for (const auto& [step, loss] : whole)
    EXPECT_NEAR(solo.at(step), loss, 1e-4 * loss) << "step " << step;
}

// Runs `cmd` (mpirun of 2 ranks that write their pids to root/pid.<rank>) in the background,
// waits until rank 0 has logged step `at`, sends `signal` to rank 1 and returns the result and
// the seconds from the signal to the end of mpirun.
std::pair<test::CliResult, double> signal_rank_1(const std::string& cmd, const std::string& out,
                                                 const fs::path& root, int64_t at, int signal) {
  auto job = std::async(std::launch::async, [&] { return test::run_shell(cmd, 120); });
  const auto deadline = Clock::now() + std::chrono::seconds(90);
  while (last_step(out) < at && Clock::now() < deadline &&
         job.wait_for(std::chrono::milliseconds(20)) != std::future_status::ready) {
  }
  pid_t pid = 0;
  std::ifstream(root / "pid.1") >> pid;
  EXPECT_GT(pid, 0);
  EXPECT_GE(last_step(out), at) << "the run did not reach step " << at;
  const auto t0 = Clock::now();
  if (pid > 0) kill(pid, signal);
  test::CliResult r = job.get();
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  if (pid > 0) kill(pid, SIGKILL);  // a stopped rank that outlived the job
  return {r, seconds};
}

std::string with_pids(const fs::path& root, const std::string& args) {
  return "echo $$ > " + (root / "pid.").string() + "$OMPI_COMM_WORLD_RANK; exec $A " + args;
}

TEST_F(MpiTrainTest, AKilledRankStopsTheOtherAndTheCheckpointResumesExactly) {
  const std::string args =
      kTrain + " --data " + data() + " --valid-every 5 --valid-bleu-sentences 0 --out ";
  test::CliResult whole =
      test::run_shell(mpirun(kSharedMemory, args + dir("whole") + " --steps 30"));
  ASSERT_EQ(whole.exit_code, 0) << whole.out;

  const auto [r, seconds] =
      signal_rank_1(mpirun_sh(kSharedMemory, with_pids(root_, args + dir("run") + " --steps 400")),
                    dir("run"), root_, 12, SIGKILL);
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_LT(seconds, 30) << r.out;
  // mpirun names it ("process rank 1 … exited on signal 9"), or rank 0 does first.
  EXPECT_TRUE(r.out.find("process rank 1 ") != std::string::npos ||
              r.out.find("rank 1 (pid ") != std::string::npos)
      << r.out;
  const int64_t logged = last_step(dir("run"));
  ASSERT_GE(logged, 12);
  ASSERT_LT(logged, 30) << "the run ended before the kill could test anything";

  // The last checkpoint is whole, and the run goes on from it exactly as it would have.
  test::CliResult resumed =
      test::run_shell(mpirun(kSharedMemory, args + dir("run") + " --steps 30 --resume"));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.out;
  EXPECT_EQ(losses(dir("run")), losses(dir("whole")));
}

TEST_F(MpiTrainTest, AStoppedRankIsNamedByTheOtherWithinTheRankTimeout) {
  const std::string args = kTrain + " --data " + data() +
                           " --valid-every 5 --valid-bleu-sentences 0 --rank-timeout 2 --out " +
                           dir("run") + " --steps 400";
  const auto [r, seconds] =
      signal_rank_1(mpirun_sh(kTcp, with_pids(root_, args)), dir("run"), root_, 12, SIGSTOP);
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_LT(seconds, 20) << r.out;
  EXPECT_NE(r.out.find("attnscope: error (rank 0 of 2): rank 1 (pid"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("has sent no heartbeat for"), std::string::npos) << r.out;
  // The checkpoint rank 0 wrote before is whole: a one-step resume loads it.
  ASSERT_TRUE(fs::exists(fs::path(dir("run")) / "checkpoint" / "trainer.json"));
  test::CliResult resumed = test::run_attnscope(
      kTrain + " --data " + data() +
      " --valid-every 5 --valid-bleu-sentences 0 --accumulate 2 --out " + dir("run") + " --steps " +
      std::to_string(last_step(dir("run")) + 1) + " --resume");
  EXPECT_EQ(resumed.exit_code, 0) << resumed.out;
}

TEST_F(MpiTrainTest, RanksThatDifferInBinaryOptionsOrDataAreRefusedBeforeAnyWork) {
  const std::string args = "train --config tiny --vocab 100 --steps 3 --out " + dir("run");
  {
    std::ofstream tsv(root_ / "fewer.tsv");
    for (const DatePair& d : generate_dates(300, 11)) tsv << d.written << "\t" << d.iso << "\n";
  }
  test::CliResult r = test::run_shell(mpirun_sh(
      kSharedMemory, "D=" + data() + "; [ $OMPI_COMM_WORLD_RANK = 1 ] && D=" +
                         (root_ / "fewer.tsv").string() + "; exec $A " + args + " --data $D"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("the ranks differ in the training data: rank 0 (pid"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("has 400 training"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("has 300 training"), std::string::npos) << r.out;

  r = test::run_shell(mpirun_sh(kSharedMemory, "exec $A " + args + " --data " + data() +
                                                   " --dropout 0.$((OMPI_COMM_WORLD_RANK + 1))"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("the ranks differ in the option model.dropout"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("has 0.1, but rank 1"), std::string::npos) << r.out;

  if (std::string(ATTNSCOPE_OBJCOPY).empty()) {
    ADD_FAILURE() << "objcopy was not found: the test of another binary did not run";
  } else {
    // Another build: the same program without its build id.
    const std::string other = (root_ / "attnscope-other").string();
    ASSERT_EQ(
        test::run_shell(std::string(ATTNSCOPE_OBJCOPY) + " --remove-section=.note.gnu.build-id " +
                        test::attnscope_binary() + " " + other)
            .exit_code,
        0);
    r = test::run_shell(mpirun_sh(kSharedMemory, "[ $OMPI_COMM_WORLD_RANK = 1 ] && A=" + other +
                                                     "; exec $A " + args + " --data " + data()));
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.out.find("the ranks differ in the attnscope binary: rank 0 (pid"),
              std::string::npos)
        << r.out;
  }
  // Nothing was written by any of them.
  EXPECT_FALSE(fs::exists(dir("run")));

  // An error rank 0 finds alone (its directory holds someone's model) stops both; it is said
  // once.
  fs::create_directories(dir("run"));
  std::ofstream(fs::path(dir("run")) / "config.json") << "{}\n";
  r = test::run_shell(mpirun(kSharedMemory, args + " --data " + data()));
  EXPECT_NE(r.exit_code, 0);
  const std::string said = "holds a model that is not a training run";
  const size_t first = r.out.find(said);
  EXPECT_NE(first, std::string::npos) << r.out;
  EXPECT_EQ(r.out.find(said, first + 1), std::string::npos) << r.out;
}

// The benchmark of the gradient sums (docs/scaling.md) runs on ranks, rank 0 reporting.
TEST(MpiBench, W7ReportsTheSumsOnRankZeroOnly) {
  const test::CliResult r = test::run_shell(mpirun(kTcp, "bench W7 --small --json --repeat 2"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  std::vector<nlohmann::json> rows;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("{", 0) == 0) rows.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(rows.size(), 2u) << r.out;  // small and base, once
  EXPECT_EQ(rows[0].at("model"), "small");
  EXPECT_EQ(rows[1].at("model"), "base");
  for (const auto& j : rows) {
    EXPECT_EQ(j.at("workload"), "W7");
    EXPECT_EQ(j.at("ranks"), 2);
    EXPECT_DOUBLE_EQ(j.at("bytes").get<double>(), 4.0 * j.at("params").get<double>());
    EXPECT_GT(j.at("sum_ms").get<double>(), 0);
    EXPECT_GT(j.at("bus_gbit_s").get<double>(), 0);
  }
  EXPECT_GT(rows[0].at("step_overlapped_ms").get<double>(), 0);
  // Alone, W7 says how to start it.
  const test::CliResult alone = test::run_attnscope("bench W7 --small");
  EXPECT_NE(alone.exit_code, 0);
  EXPECT_NE(alone.out.find("mpirun -np 2 attnscope bench W7"), std::string::npos) << alone.out;
}

}  // namespace
}  // namespace attnscope

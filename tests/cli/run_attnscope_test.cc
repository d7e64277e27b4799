// The tests' CLI runner (run_attnscope.h): exit codes and output come back, and a command that
// runs past its limit is killed with its process group and fails the test instead of hanging
// the suite (`attnscope serve` never ends by itself, so it stands in for a hung command).
#include "run_attnscope.h"

#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace attnscope {
namespace {

const std::string kModel = std::string(ATTNSCOPE_TEST_DATA) + "/tiny_dates_model";

TEST(CliRunner, ReturnsTheExitCodeAndTheOutput) {
  const test::CliResult ok = test::run_attnscope("--version");
  EXPECT_EQ(ok.exit_code, 0);
  EXPECT_FALSE(ok.timed_out);
  EXPECT_NE(ok.out.find("attnscope 0.1.0"), std::string::npos) << ok.out;
  const test::CliResult bad =
      test::run_attnscope("translate --model /nonexistent/model < /dev/null");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.out.find("/nonexistent/model"), std::string::npos) << bad.out;
}

TEST(CliRunner, KillsACommandThatRunsPastItsLimit) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  test::CliResult r;
  EXPECT_NONFATAL_FAILURE(
      r = test::run_attnscope("serve --model " + kModel + " --port 0", true, /*timeout=*/2),
      "did not finish in 2 s and was killed");
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.exit_code, -1);
  EXPECT_NE(r.out.find("attnscope serve: http://"), std::string::npos) << r.out;  // it ran
  EXPECT_NE(r.out.find("[killed after 2 s]"), std::string::npos) << r.out;
  EXPECT_LT(seconds, 10.0);
}

// kill_after_ms stops a command as a crash would (the crash-consistency tests use it): no test
// failure, the command gone with its process group.
TEST(CliRunner, KillsACommandOnPurposeWithoutFailing) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const test::CliResult r = test::run_shell(
      "exec " + test::attnscope_binary() + " serve --model " + kModel + " --port 0 2>&1",
      /*timeout_seconds=*/30, /*kill_after_ms=*/1500);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  EXPECT_TRUE(r.killed);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, -1);
  EXPECT_GE(seconds, 1.4);
  EXPECT_LT(seconds, 10.0);
}

}  // namespace
}  // namespace attnscope

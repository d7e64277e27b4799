// How the CLI makes OpenMP's workers wait (app/wait_policy.h): passive unless the user chose, a
// short spin only when every thread has a core of its own, and /proc/stat's running count read.
#include "app/wait_policy.h"

#include <gtest/gtest.h>

#include <map>

namespace attnscope::app {
namespace {

std::map<std::string, std::string> settings(const WaitContext& c) {
  std::map<std::string, std::string> m;
  for (const auto& [k, v] : wait_settings(c)) m[k] = v;
  return m;
}

TEST(WaitPolicy, PassiveWithAShortSpinOnlyWhenEveryThreadHasACore) {
  WaitContext idle;
  idle.cores = 2, idle.threads = 2, idle.others_running = 0;
  EXPECT_EQ(settings(idle), (std::map<std::string, std::string>{{"GOMP_SPINCOUNT", kShortSpin},
                                                                {"OMP_WAIT_POLICY", "passive"},
                                                                {"OPENBLAS_THREAD_TIMEOUT", "4"}}));
  WaitContext busy = idle;
  busy.others_running = 1;  // a build on one of the two cores: no spin
  EXPECT_EQ(settings(busy).count("GOMP_SPINCOUNT"), 0u);
  EXPECT_EQ(settings(busy).at("OMP_WAIT_POLICY"), "passive");
  WaitContext unknown = idle;
  unknown.others_running = -1;  // /proc/stat unreadable: no spin
  EXPECT_EQ(settings(unknown).count("GOMP_SPINCOUNT"), 0u);
  WaitContext wide = idle;
  wide.cores = 16, wide.threads = 4, wide.others_running = 12;  // 4 threads, 4 free cores
  EXPECT_EQ(settings(wide).count("GOMP_SPINCOUNT"), 1u);
  wide.others_running = 13;
  EXPECT_EQ(settings(wide).count("GOMP_SPINCOUNT"), 0u);
  WaitContext one = idle;
  one.threads = 1;  // no team: nothing to spin for
  EXPECT_EQ(settings(one).count("GOMP_SPINCOUNT"), 0u);
}

TEST(WaitPolicy, TheUsersChoiceIsKept) {
  WaitContext c;
  c.cores = 2, c.threads = 2, c.others_running = 0;
  c.policy_set = true;  // OMP_WAIT_POLICY chosen: neither it nor the spin is touched
  EXPECT_EQ(settings(c), (std::map<std::string, std::string>{{"OPENBLAS_THREAD_TIMEOUT", "4"}}));
  c.blas_timeout_set = true;
  EXPECT_TRUE(wait_settings(c).empty());
  c.policy_set = false;
  c.spin_count_set = true;  // GOMP_SPINCOUNT chosen: only the policy is set
  EXPECT_EQ(settings(c), (std::map<std::string, std::string>{{"OMP_WAIT_POLICY", "passive"}}));
}

TEST(WaitPolicy, ProcsRunningIsReadFromProcStat) {
  EXPECT_EQ(procs_running("cpu  1 2 3\nctxt 99\nprocs_running 3\nprocs_blocked 0\n"), 3);
  EXPECT_EQ(procs_running("procs_running 12"), 12);
  EXPECT_EQ(procs_running("cpu 1\nprocs_blocked 0\n"), -1);
  EXPECT_EQ(procs_running("procs_running x\n"), -1);
  EXPECT_EQ(procs_running("procs_running -2\n"), -1);
  EXPECT_EQ(procs_running(""), -1);
  const WaitContext here = current_wait_context();  // this machine: some count, or unknown
  EXPECT_GE(here.cores, 1);
}

}  // namespace
}  // namespace attnscope::app

// How the OpenMP workers wait between parallel regions. libgomp reads it once, when it loads, so
// main() sets the variables and re-executes itself (each only if the user left it unset).
//
// A decoding step is some 30 small parallel regions. Sleeping workers (OMP_WAIT_POLICY=passive)
// cost a futex wake-up per region, on a VM an interrupt to another core: greedy W3 ran 1.5×
// slower than with a short spin (docs/performance.md). Spinning costs more than it saves when the
// cores are shared: a spinning worker holds a core the thread it waits for needs (W3 1.4× slower
// than passive beside one busy process). So: passive always, plus a short spin (GOMP_SPINCOUNT,
// about 0.1 ms) when, at start, every thread of ours would have a core of its own.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace attnscope::app {

// What the choice depends on.
struct WaitContext {
  bool policy_set = false;        // OMP_WAIT_POLICY in the environment
  bool spin_count_set = false;    // GOMP_SPINCOUNT
  bool blas_timeout_set = false;  // OPENBLAS_THREAD_TIMEOUT
  int cores = 1;                  // CPUs this process may run on
  int threads = 1;                // OpenMP threads it will start (OMP_NUM_THREADS, else cores)
  int others_running = 0;         // tasks of other processes running now (−1: unknown)
};

inline constexpr const char* kShortSpin = "3000";  // GOMP_SPINCOUNT: ~0.1 ms of spinning

// The variables to set (name, value), none when the user chose everything.
std::vector<std::pair<std::string, std::string>> wait_settings(const WaitContext& c);

// procs_running of /proc/stat's text (every running task, this one included); −1 when absent.
int procs_running(std::string_view proc_stat);

// This process's context: its environment, affinity, and the fewest tasks seen running in
// /proc/stat over a few samples a millisecond apart, less this one (a process that keeps a core
// busy is in every sample; one that ran for an instant, such as the shell that started us, is not).
WaitContext current_wait_context();

}  // namespace attnscope::app

#include "app/wait_policy.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace attnscope::app {

namespace {
std::string read_text(const std::filesystem::path& path) {
  std::ifstream f(path);
  std::stringstream text;
  text << f.rdbuf();
  return text.str();
}
}  // namespace

std::vector<std::pair<std::string, std::string>> wait_settings(const WaitContext& c) {
  std::vector<std::pair<std::string, std::string>> out;
  if (!c.blas_timeout_set) out.emplace_back("OPENBLAS_THREAD_TIMEOUT", "4");
  // A user who set the policy chose how to wait: leave the spin to them too.
  if (c.policy_set) return out;
  out.emplace_back("OMP_WAIT_POLICY", "passive");
  const bool own_cores = c.others_running >= 0 && c.others_running + c.threads <= c.cores;
  if (!c.spin_count_set && c.threads > 1 && own_cores)
    out.emplace_back("GOMP_SPINCOUNT", kShortSpin);
  return out;
}

int procs_running(std::string_view proc_stat) {
  constexpr std::string_view kKey = "procs_running ";
  size_t at = 0;
  while (at < proc_stat.size()) {
    const size_t end = std::min(proc_stat.find('\n', at), proc_stat.size());
    const std::string_view line = proc_stat.substr(at, end - at);
    if (line.substr(0, kKey.size()) == kKey) {
      int n = -1;
      const std::string_view v = line.substr(kKey.size());
      const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      return ec == std::errc{} && n >= 0 ? n : -1;
    }
    at = end + 1;
  }
  return -1;
}

WaitContext current_wait_context() {
  WaitContext c;
  c.policy_set = std::getenv("OMP_WAIT_POLICY") != nullptr;
  c.spin_count_set = std::getenv("GOMP_SPINCOUNT") != nullptr;
  c.blas_timeout_set = std::getenv("OPENBLAS_THREAD_TIMEOUT") != nullptr;
  cpu_set_t set;
  CPU_ZERO(&set);
  c.cores = sched_getaffinity(0, sizeof(set), &set) == 0 ? std::max(1, CPU_COUNT(&set)) : 1;
  c.threads = c.cores;
  if (const char* n = std::getenv("OMP_NUM_THREADS"); n != nullptr) {
    int v = 0;
    const std::string_view s(n);
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc{} && v >= 1) c.threads = v;  // a list ("2,1"): its first level
  }
  c.others_running = -1;  // unknown until every sample was read
  if (c.policy_set || c.spin_count_set || c.threads <= 1) return c;  // nothing to sample for
  // Our own threads count too (OpenBLAS starts its workers when it loads, before main): each
  // sample is the running tasks less ours.
  int fewest = -1;
  for (int i = 0; i < 3; ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    const int n = procs_running(read_text("/proc/stat"));
    if (n < 0) return c;
    int own = 0;
    std::error_code ec;
    for (const auto& task : std::filesystem::directory_iterator("/proc/self/task", ec)) {
      const std::string stat = read_text(task.path() / "stat");
      const size_t paren = stat.rfind(')');  // "tid (name) S …": the state follows the name
      if (paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'R') ++own;
    }
    const int others = std::max(0, n - std::max(own, 1));
    fewest = fewest < 0 ? others : std::min(fewest, others);
  }
  c.others_running = fewest;
  return c;
}

}  // namespace attnscope::app

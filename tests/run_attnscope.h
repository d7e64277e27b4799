// Runs the attnscope binary (ATTNSCOPE_BINARY, set by CMake) as a user would, for the CLI tests.
// A command that runs past its time limit is killed with everything it started (its process
// group) and the test fails saying so, instead of hanging the suite.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

namespace attnscope::test {

struct CliResult {
  int exit_code = -1;  // -1 when the binary could not be started or did not exit normally
  bool timed_out = false;
  bool killed = false;  // by run_shell's kill_after_ms
  std::string out;      // stdout, and stderr after it when with_stderr
};

// The slowest command the tests run (demo --compare) takes about 7 s alone on 2 cores.
inline constexpr int kCliTimeoutSeconds = 120;

// The binary under test: $ATTNSCOPE_BINARY when set (tests run from a bundle on another
// machine, scripts/gpu-check.sh), else the one CMake built.
inline std::string attnscope_binary() {
  const char* env = std::getenv("ATTNSCOPE_BINARY");
  return env != nullptr && *env != '\0' ? env : ATTNSCOPE_BINARY;
}

// A shell command line through /bin/sh, with the time limit below. kill_after_ms > 0: the
// command is killed (SIGKILL, with everything it started) after that long, as a crash would stop
// it — expected, not a failure (killed is then true).
inline CliResult run_shell(const std::string& cmd, int timeout_seconds = kCliTimeoutSeconds,
                           int kill_after_ms = 0);

// `attnscope <args>` through /bin/sh; args are shell words as typed (redirections included).
inline CliResult run_attnscope(const std::string& args, bool with_stderr = true,
                               int timeout_seconds = kCliTimeoutSeconds) {
  return run_shell("exec " + attnscope_binary() + " " + args + (with_stderr ? " 2>&1" : ""),
                   timeout_seconds);
}

inline CliResult run_shell(const std::string& cmd, int timeout_seconds, int kill_after_ms) {
  using Clock = std::chrono::steady_clock;
  CliResult r;
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return r;
  const pid_t pid = fork();
  if (pid < 0) {
    close(out[0]);
    close(out[1]);
    return r;
  }
  if (pid == 0) {
    setpgid(0, 0);  // a group of its own: the timeout kills whatever it started too
    dup2(out[1], STDOUT_FILENO);
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  setpgid(pid, pid);  // also here, so the group exists whichever process runs first
  close(out[1]);
  const auto deadline = Clock::now() + std::chrono::seconds(timeout_seconds);
  const auto kill_at = Clock::now() + std::chrono::milliseconds(kill_after_ms);
  const auto kill_if_due = [&] {
    if (kill_after_ms > 0 && !r.killed && Clock::now() >= kill_at) {
      kill(-pid, SIGKILL);
      r.killed = true;
    }
  };
  const auto ms_left = [&] {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return static_cast<int>(std::max<int64_t>(left, 0));
  };
  // Read until the output closes or the time is up ...
  std::array<char, 4096> buf{};
  for (;;) {
    pollfd p{out[0], POLLIN, 0};
    kill_if_due();
    int wait_ms = ms_left();
    if (kill_after_ms > 0 && !r.killed)
      wait_ms = std::min<int>(
          wait_ms,
          static_cast<int>(std::max<int64_t>(
              0, std::chrono::duration_cast<std::chrono::milliseconds>(kill_at - Clock::now())
                     .count())));
    const int ready = poll(&p, 1, wait_ms);
    if (ready == 0 && kill_after_ms > 0 && !r.killed && ms_left() > 0) continue;
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) {
      r.timed_out = true;
      break;
    }
    const ssize_t n = read(out[0], buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    r.out.append(buf.data(), static_cast<size_t>(n));
  }
  close(out[0]);
  // ... then until it exits (it may close its output and hang).
  int status = 0;
  bool reaped = false;
  while (!r.timed_out) {
    const pid_t w = waitpid(pid, &status, WNOHANG);
    if (w < 0 && errno != EINTR) return r;  // not ours to wait for: exit_code stays -1
    if (w == pid) {
      reaped = true;
      break;
    }
    kill_if_due();
    if (ms_left() == 0) {
      r.timed_out = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (r.timed_out) {
    kill(-pid, SIGKILL);
    waitpid(pid, &status, 0);
    ADD_FAILURE() << "`" << cmd << "` did not finish in " << timeout_seconds << " s and was killed";
    r.out += "\n[killed after " + std::to_string(timeout_seconds) + " s]\n";
    return r;
  }
  r.exit_code = reaped && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace attnscope::test

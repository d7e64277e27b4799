// Runs the attnscope binary (ATTNSCOPE_BINARY, set by CMake) as a user would, for the CLI tests.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace attnscope::test {

struct CliResult {
  int exit_code = -1;  // -1 when the binary could not be started or did not exit normally
  std::string out;     // stdout, and stderr after it when with_stderr
};

// `attnscope <args>` through the shell; args are shell words as typed.
inline CliResult run_attnscope(const std::string& args, bool with_stderr = true) {
  const std::string cmd = std::string(ATTNSCOPE_BINARY) + " " + args + (with_stderr ? " 2>&1" : "");
  CliResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace attnscope::test

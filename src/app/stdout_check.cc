#include "app/stdout_check.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>

#include "core/error.h"

namespace attnscope::app {

void check_stdout(std::string_view what) {
  errno = 0;
  std::cout.flush();
  const bool flushed = std::fflush(stdout) == 0;
  const int err = errno;
  if (flushed && !std::ferror(stdout) && std::cout.good()) return;
  fail("cannot write {} to stdout: {}", what,
       err != 0 ? std::strerror(err) : "a write failed (is the disk full, or the pipe closed?)");
}

void finish_stdout() {
  check_stdout("the output");
  errno = 0;
  if (std::fclose(stdout) != 0)
    fail("cannot write the output to stdout: closing it failed: {}", std::strerror(errno));
}

}  // namespace attnscope::app

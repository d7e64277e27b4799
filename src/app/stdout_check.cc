#include "app/stdout_check.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <streambuf>

#include "core/error.h"

namespace attnscope::app {

namespace {

// The first error a write to stdout met (errno), so the message can say why: a later call may
// have changed errno by the time the failure is noticed.
int g_stdout_errno = 0;

void note_error() {
  if (g_stdout_errno == 0) g_stdout_errno = errno != 0 ? errno : EIO;
}

// std::cout's buffer: everything goes through stdio's stdout (so std::cout and fmt::print keep
// their order), and a failing write records its errno.
class CheckedStdoutBuf : public std::streambuf {
 protected:
  int_type overflow(int_type c) override {
    if (traits_type::eq_int_type(c, traits_type::eof())) return traits_type::not_eof(c);
    errno = 0;
    if (std::fputc(c, stdout) == EOF) {
      note_error();
      return traits_type::eof();
    }
    return c;
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    errno = 0;
    const size_t put = std::fwrite(s, 1, static_cast<size_t>(n), stdout);
    if (put < static_cast<size_t>(n)) note_error();
    return static_cast<std::streamsize>(put);
  }
  int sync() override {
    errno = 0;
    if (std::fflush(stdout) != 0) {
      note_error();
      return -1;
    }
    return 0;
  }
};

}  // namespace

void install_checked_stdout() {
  static CheckedStdoutBuf buf;
  std::cout.rdbuf(&buf);
}

void check_stdout(std::string_view what) {
  std::cout.flush();
  errno = 0;
  if (std::fflush(stdout) != 0) note_error();
  if (g_stdout_errno == 0 && !std::ferror(stdout) && std::cout.good()) return;
  fail("cannot write {} to stdout: {}", what,
       g_stdout_errno != 0 ? std::strerror(g_stdout_errno)
                           : "a write failed (is the disk full, or the pipe closed?)");
}

void finish_stdout() {
  check_stdout("the output");
  errno = 0;
  if (std::fclose(stdout) != 0)
    fail("cannot write the output to stdout: closing it failed: {}", std::strerror(errno));
}

}  // namespace attnscope::app

// What the fuzz targets share: the input as a file (an anonymous in-memory file, named by its
// /proc/self/fd path, so the readers under test open it as they open any file and nothing touches
// the disk), the memory cap they run under, and the one rule of every target: a bad input is an
// attnscope::Error; anything else escaping (std::bad_alloc, a JSON library exception, an
// out-of-range access) is a bug, and crashes the target so libFuzzer keeps the input.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/memory_limit.h"

namespace attnscope::fuzz {

class MemFile {
 public:
  explicit MemFile(std::string_view bytes) {
    fd_ = ::memfd_create("attnscope-fuzz", MFD_CLOEXEC);
    if (fd_ < 0) std::abort();
    size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
      if (n <= 0) std::abort();
      done += static_cast<size_t>(n);
    }
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  ~MemFile() { ::close(fd_); }
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  int fd_ = -1;
  std::string path_;
};

// Every target allows its inputs 256 MiB of tensors (libFuzzer's own limit is 2 GiB of RSS): a
// config or header asking for more must be refused by the memory cap, not allocated.
inline void init_limits() {
  set_memory_limit(int64_t{256} << 20, "the fuzz target");
}

// Stops the target with a message when an invariant of the code under test does not hold.
[[noreturn]] inline void broken(const std::string& what) {
  std::fprintf(stderr, "invariant broken: %s\n", what.c_str());
  std::abort();
}

}  // namespace attnscope::fuzz

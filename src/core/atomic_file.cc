#include "core/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"

namespace attnscope {

namespace {

std::string errno_text(int err) {
  return std::strerror(err);
}

// Whether process `pid` runs (a zombie, killed but not yet reaped, does not).
bool process_runs(const std::string& pid) {
  std::ifstream stat("/proc/" + pid + "/stat");
  std::string text;
  if (!std::getline(stat, text)) return false;
  const size_t paren = text.rfind(')');
  return paren == std::string::npos || paren + 2 >= text.size() ||
         (text[paren + 2] != 'Z' && text[paren + 2] != 'X');
}

// Distinct temporary names within this process (threads included); the pid separates processes.
std::atomic<uint64_t> g_temp_counter{0};

}  // namespace

AtomicFileWriter::AtomicFileWriter(std::string path) : path_(std::move(path)) {
  ATTN_CHECK(!path_.empty(), "cannot write a file with an empty name");
  for (int attempt = 0;; ++attempt) {
    tmp_path_ = path_ + ".tmp-" + std::to_string(::getpid()) + "-" +
                std::to_string(g_temp_counter.fetch_add(1));
    // O_EXCL: never write through a name someone else holds (or a link planted there).
    fd_ = ::open(tmp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd_ >= 0) return;
    const int err = errno;
    if (err == EEXIST && attempt < 100) continue;  // a stale file of an earlier process
    fail("cannot write {}: cannot create the temporary file {}: {}", path_, tmp_path_,
         errno_text(err));
  }
}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(tmp_path_.c_str());
}

void AtomicFileWriter::write(const void* data, size_t bytes) {
  ATTN_CHECK(fd_ >= 0 && !committed_, "cannot write {}: the file was already committed", path_);
  const char* p = static_cast<const char*>(data);
  while (bytes > 0) {
    const ssize_t put = ::write(fd_, p, std::min<size_t>(bytes, size_t{1} << 30));
    if (put < 0) {
      if (errno == EINTR) continue;
      fail("cannot write {}: write error: {}", path_, errno_text(errno));
    }
    if (put == 0) fail("cannot write {}: the system wrote nothing", path_);
    p += put;
    bytes -= static_cast<size_t>(put);
  }
}

void AtomicFileWriter::commit() {
  ATTN_CHECK(fd_ >= 0 && !committed_, "cannot write {}: the file was already committed", path_);
  if (::fsync(fd_) != 0) fail("cannot write {}: fsync failed: {}", path_, errno_text(errno));
  const int fd = fd_;
  fd_ = -1;
  // A failed close can mean lost data (NFS, quotas): never report success after one.
  if (::close(fd) != 0) fail("cannot write {}: close failed: {}", path_, errno_text(errno));
  if (::rename(tmp_path_.c_str(), path_.c_str()) != 0)
    fail("cannot write {}: cannot rename {} over it: {}", path_, tmp_path_, errno_text(errno));
  committed_ = true;
  const std::filesystem::path dir = std::filesystem::path(path_).parent_path();
  sync_directory(dir.empty() ? std::string(".") : dir.string());
}

void write_file_atomically(const std::string& path, std::string_view bytes) {
  AtomicFileWriter w(path);
  w.write(bytes);
  w.commit();
}

void append_to_file(const std::string& path, std::string_view bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) fail("cannot write {}: {}", path, errno_text(errno));
  const char* p = bytes.data();
  size_t left = bytes.size();
  while (left > 0) {
    const ssize_t put = ::write(fd, p, std::min<size_t>(left, size_t{1} << 30));
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) {
      const int err = put < 0 ? errno : EIO;
      ::close(fd);
      fail("cannot write {}: write error: {}", path, errno_text(err));
    }
    p += put;
    left -= static_cast<size_t>(put);
  }
  if (::close(fd) != 0) fail("cannot write {}: close failed: {}", path, errno_text(errno));
}

int remove_stale_temp_files(const std::string& dir) {
  int removed = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    const size_t at = name.rfind(".tmp-");
    if (at == std::string::npos) continue;
    // "<pid>-<n>" after ".tmp-", both decimal.
    const std::string rest = name.substr(at + 5);
    const size_t dash = rest.find('-');
    if (dash == 0 || dash == std::string::npos || dash + 1 == rest.size() ||
        rest.find_first_not_of("0123456789-") != std::string::npos ||
        rest.find('-', dash + 1) != std::string::npos)
      continue;
    const std::string pid = rest.substr(0, dash);
    if (pid.size() > 9) continue;
    if (std::stol(pid) == ::getpid() || process_runs(pid)) continue;  // ours, or still at work
    if (std::filesystem::remove(e.path(), ec)) ++removed;
  }
  return removed;
}

void sync_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("cannot sync {}: {}", path, errno_text(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  if (::close(fd) != 0 && rc == 0)
    fail("cannot sync {}: close failed: {}", path, errno_text(errno));
  if (rc != 0) fail("cannot sync {}: {}", path, errno_text(err));
}

void sync_directory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) fail("cannot sync directory {}: {}", dir, errno_text(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0 && err != EINVAL && err != ENOTSUP)
    fail("cannot sync directory {}: {}", dir, errno_text(err));
}

}  // namespace attnscope

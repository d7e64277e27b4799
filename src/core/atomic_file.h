// Files replaced atomically: a reader, a crash or a power cut sees the old file or the new one,
// whole — never a mix or a truncated file. Every file attnscope writes as a whole (model
// weights, config.json, tokenizers, checkpoints, pictures, attention files) goes through here.
//
// AtomicFileWriter writes to a temporary file beside the target (same directory, so the rename
// cannot cross filesystems), named `<path>.tmp-<pid>-<n>` and created exclusively, so two
// writers never share one. commit() fsyncs the bytes, closes the file, renames it over the
// target and fsyncs the directory so that the rename itself is durable. Every write, fsync, close
// and rename is checked; a failure throws attnscope::Error naming the target path and the
// system's reason (strerror). Destroying a writer without commit() — after an error, or when the
// caller throws — removes the temporary file and leaves the target as it was.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace attnscope {

class AtomicFileWriter {
 public:
  explicit AtomicFileWriter(std::string path);
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  void write(const void* data, size_t bytes);
  void write(std::string_view bytes) { write(bytes.data(), bytes.size()); }
  // Makes the written bytes the file at path (see above). Nothing may be written after it.
  void commit();

  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return tmp_path_; }

 private:
  std::string path_, tmp_path_;
  int fd_ = -1;
  bool committed_ = false;
};

// The whole file in one call: AtomicFileWriter, write, commit.
void write_file_atomically(const std::string& path, std::string_view bytes);

// Appends bytes to a log-like file (created if missing), every write and the close checked. Not
// atomic: a crash can cut the last line, so readers of such files (metrics.jsonl) skip a cut one.
void append_to_file(const std::string& path, std::string_view bytes);

// Removes the temporary files a killed writer left in `dir` ("<file>.tmp-<pid>-<n>" of a process
// that no longer runs); a live process's are left alone. Returns how many went.
int remove_stale_temp_files(const std::string& dir);

// fsyncs a file's bytes (a log appended to with append_to_file), every step checked.
void sync_file(const std::string& path);

// fsyncs a directory, so that files created or renamed in it survive a crash. A filesystem that
// cannot sync directories (EINVAL, ENOTSUP) is not an error; any other failure throws.
void sync_directory(const std::string& dir);

}  // namespace attnscope

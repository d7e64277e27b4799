// core/atomic_file.h: the one writer every whole file goes through.
#include "core/atomic_file.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "temp_files.h"

namespace attnscope {
namespace {

namespace fs = std::filesystem;

class AtomicFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("attnscope_atomic_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  static std::string read(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }
  // The message of the Error f throws ("(no error)" when it returns).
  template <typename F>
  static std::string error_of(F f) {
    try {
      f();
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  }
  static bool has(const std::string& msg, const std::string& part) {
    return msg.find(part) != std::string::npos;
  }

  fs::path dir_;
};

TEST_F(AtomicFileTest, WritesTheBytesAndLeavesNoTemporaryFile) {
  const std::string p = path("a.bin");
  std::string bytes(100000, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 7 + 3);
  {
    AtomicFileWriter w(p);
    EXPECT_EQ(w.path(), p);
    EXPECT_EQ(fs::path(w.temp_path()).parent_path(), dir_);  // same folder: rename is atomic
    EXPECT_TRUE(fs::exists(w.temp_path()));
    EXPECT_FALSE(fs::exists(p));  // nothing at the target before commit
    w.write(bytes.data(), 1000);
    w.write(std::string_view(bytes).substr(1000));
    w.commit();
  }
  EXPECT_EQ(read(p), bytes);
  EXPECT_TRUE(test::temp_files_in(dir_).empty());
  write_file_atomically(path("empty"), "");
  EXPECT_TRUE(fs::exists(path("empty")));
  EXPECT_EQ(fs::file_size(path("empty")), 0u);
}

TEST_F(AtomicFileTest, ReplacesAnExistingFileWhole) {
  const std::string p = path("config.json");
  write_file_atomically(p, "old contents, longer than the new ones\n");
  write_file_atomically(p, "new\n");
  EXPECT_EQ(read(p), "new\n");
  EXPECT_TRUE(test::temp_files_in(dir_).empty());
}

TEST_F(AtomicFileTest, WithoutCommitTheTargetStaysAsItWas) {
  const std::string p = path("model.safetensors");
  write_file_atomically(p, "old");
  std::string temp;
  {
    AtomicFileWriter w(p);
    temp = w.temp_path();
    w.write("half of the new file");
    EXPECT_EQ(read(p), "old");  // readers never see a partial file
  }                             // e.g. the caller threw before commit()
  EXPECT_EQ(read(p), "old");
  EXPECT_FALSE(fs::exists(temp));
  EXPECT_TRUE(test::temp_files_in(dir_).empty());
}

TEST_F(AtomicFileTest, WritersOfOneFileNeverShareATemporaryFile) {
  const std::string p = path("shared.txt");
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&p, t] {
      for (int i = 0; i < 20; ++i) write_file_atomically(p, std::string(1000, char('a' + t)));
    });
  for (auto& th : threads) th.join();
  const std::string got = read(p);
  ASSERT_EQ(got.size(), 1000u);                    // one writer's file, whole
  EXPECT_EQ(got, std::string(1000, got.front()));  // not a mix of two
  EXPECT_TRUE(test::temp_files_in(dir_).empty());
}

TEST_F(AtomicFileTest, AMissingOrUnwritableFolderIsAnErrorNamingThePath) {
  const std::string missing = path("no/such/dir/x.json");
  std::string msg = error_of([&] { write_file_atomically(missing, "x"); });
  EXPECT_TRUE(has(msg, missing) && has(msg, std::strerror(ENOENT))) << msg;
  // /proc takes no new files, not even from root (the tests may run as root, so a chmod-ed
  // folder would not do).
  msg = error_of([] { write_file_atomically("/proc/attnscope_test.json", "x"); });
  EXPECT_TRUE(has(msg, "/proc/attnscope_test.json") && has(msg, "cannot")) << msg;
  // A file where a folder should be.
  write_file_atomically(path("file"), "x");
  msg = error_of([&] { write_file_atomically(path("file/inside"), "x"); });
  EXPECT_TRUE(has(msg, path("file/inside")) && has(msg, std::strerror(ENOTDIR))) << msg;
}

// A full disk: the file size limit (RLIMIT_FSIZE) makes write() fail with EFBIG part-way
// through, as ENOSPC would. The old file must survive, and no temporary file may remain.
TEST_F(AtomicFileTest, AFailedWriteIsAnErrorAndKeepsTheOldFile) {
  const std::string p = path("weights.bin");
  write_file_atomically(p, "the old weights");
  struct rlimit old_limit {};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  struct sigaction ignore {
  }, old_action{};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(sigaction(SIGXFSZ, &ignore, &old_action), 0);  // EFBIG instead of a signal
  struct rlimit small = old_limit;
  small.rlim_cur = 4096;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  const std::string msg = error_of([&] { write_file_atomically(p, std::string(100000, 'x')); });
  setrlimit(RLIMIT_FSIZE, &old_limit);
  sigaction(SIGXFSZ, &old_action, nullptr);
  EXPECT_TRUE(has(msg, p) && has(msg, "write error") && has(msg, std::strerror(EFBIG))) << msg;
  EXPECT_EQ(read(p), "the old weights");
  EXPECT_TRUE(test::temp_files_in(dir_).empty());
}

TEST_F(AtomicFileTest, MisuseIsAnError) {
  AtomicFileWriter w(path("x"));
  w.write("a");
  w.commit();
  EXPECT_TRUE(has(error_of([&] { w.write("b"); }), "already committed"));
  EXPECT_TRUE(has(error_of([&] { w.commit(); }), "already committed"));
  EXPECT_EQ(read(path("x")), "a");
  EXPECT_TRUE(has(error_of([] { AtomicFileWriter empty(""); }), "empty name"));
}

TEST_F(AtomicFileTest, AppendAddsToTheEndAndChecksErrors) {
  const std::string p = path("metrics.jsonl");
  append_to_file(p, "{\"step\": 1}\n");
  append_to_file(p, "{\"step\": 2}\n");
  EXPECT_EQ(read(p), "{\"step\": 1}\n{\"step\": 2}\n");
  const std::string missing = path("no/metrics.jsonl");
  const std::string msg = error_of([&] { append_to_file(missing, "x\n"); });
  EXPECT_TRUE(has(msg, missing) && has(msg, std::strerror(ENOENT))) << msg;
}

TEST_F(AtomicFileTest, SyncDirectory) {
  EXPECT_NO_THROW(sync_directory(dir_.string()));
  const std::string msg = error_of([&] { sync_directory(path("absent")); });
  EXPECT_TRUE(has(msg, path("absent")) && has(msg, std::strerror(ENOENT))) << msg;
}

}  // namespace
}  // namespace attnscope

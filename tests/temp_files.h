// What an atomic write may leave behind: the temporary files (core/atomic_file.h names them
// "<target>.tmp-<pid>-<n>") in a folder, for the tests that check none is left.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace attnscope::test {

inline std::vector<std::string> temp_files_in(const std::filesystem::path& dir) {
  std::vector<std::string> found;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.find(".tmp") != std::string::npos) found.push_back(name);
  }
  return found;
}

// The temporary files beside `file` (in its folder).
inline std::vector<std::string> temp_files_beside(const std::string& file) {
  const std::filesystem::path dir = std::filesystem::path(file).parent_path();
  return temp_files_in(dir.empty() ? std::filesystem::path(".") : dir);
}

}  // namespace attnscope::test

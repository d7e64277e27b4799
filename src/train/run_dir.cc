#include "train/run_dir.h"

#include <filesystem>

#include "core/atomic_file.h"
#include "core/error.h"
#include "io/model_dir.h"
#include "train/checkpoint.h"

namespace attnscope {

namespace fs = std::filesystem;

RunDirState inspect_run_dir(const std::string& dir) {
  RunDirState s;
  s.marker = fs::exists(fs::path(dir) / kRunMarker);
  s.checkpoint = has_checkpoint(dir, &s.checkpoint_step);
  s.model = fs::exists(fs::path(dir) / kConfigFile);
  return s;
}

void start_run_dir(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  ATTN_CHECK(!ec, "cannot create the output directory {}: {}", dir, ec.message());
  write_file_atomically((fs::path(dir) / kRunMarker).string(),
                        "a training run of attnscope train (see `attnscope train --help`)\n");
}

void clear_unfinished_run(const std::string& dir) {
  for (const char* name :
       {kConfigFile, kWeightsFile, kSharedTokenizer, kSourceTokenizer, kTargetTokenizer,
        "metrics.jsonl", "training.png", "checkpoint.tmp", "checkpoint.old"}) {
    std::error_code ec;
    fs::remove_all(fs::path(dir) / name, ec);
    ATTN_CHECK(!ec, "cannot remove {}: {}", (fs::path(dir) / name).string(), ec.message());
  }
  remove_stale_temp_files(dir);
  sync_directory(dir);
}

}  // namespace attnscope

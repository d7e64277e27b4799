// Progress of long work: a one-line bar redrawn in place on a terminal, plain log lines
// otherwise (files, pipes, CI).
#pragma once

#include <cstdio>
#include <string>

#include "train/trainer.h"

namespace attnscope::app {

class TrainingProgress {
 public:
  // With out_dir, each validation also redraws out_dir/training.png from metrics.jsonl.
  explicit TrainingProgress(std::FILE* out, std::string out_dir = "");
  void operator()(const TrainProgress& p);

 private:
  std::FILE* out_;
  std::string out_dir_;
  bool tty_;
  bool bar_open_ = false;
};

std::string format_duration(double seconds);  // "1:02:03" / "2:03"

}  // namespace attnscope::app

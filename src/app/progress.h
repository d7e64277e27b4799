// Progress of long work: a one-line bar redrawn in place on a terminal, plain log lines
// otherwise (files, pipes, CI).
#pragma once

#include <cstdio>
#include <string>

#include "train/trainer.h"

namespace attnscope::app {

class TrainingProgress {
 public:
  explicit TrainingProgress(std::FILE* out);
  void operator()(const TrainProgress& p);

 private:
  std::FILE* out_;
  bool tty_;
  bool bar_open_ = false;
};

std::string format_duration(double seconds);  // "1:02:03" / "2:03"

}  // namespace attnscope::app

// Training checkpoints: everything a killed run needs to continue exactly — the weights, Adam's
// moments, the step, the data position and the bookkeeping of validation and early stopping.
//
//   DIR/checkpoint/model.safetensors    the last weights
//   DIR/checkpoint/trainer.safetensors  Adam moments: "<param>.m", "<param>.v"
//   DIR/checkpoint/trainer.json         step, epoch, batch index, seeds, best metric, …
//
// The three files are written into DIR/checkpoint.tmp/ and the folder is then renamed into
// place, so a crash at any moment leaves either the old checkpoint or the new one, whole.
#pragma once

#include <limits>
#include <string>

#include "nn/seq2seq_model.h"
#include "train/optimizer.h"

namespace attnscope {

struct TrainerState {
  int64_t step = 0;   // optimizer updates done
  int64_t epoch = 0;  // data position: the batcher's epoch and batch index
  int64_t batch_index = 0;
  double elapsed_s = 0;     // training time before this run (for --minutes and tokens/s)
  int64_t tokens_seen = 0;  // target tokens trained on
  double best_metric = -std::numeric_limits<double>::infinity();
  int64_t best_step = 0;
  int64_t bad_validations = 0;  // validations since the best (early stopping)
  uint64_t seed = 0;
};

void save_checkpoint(const std::string& dir, Seq2SeqModel& model, AdamOptimizer& adam,
                     const TrainerState& state);
// False when DIR holds no checkpoint; throws attnscope::Error for a broken one.
bool load_checkpoint(const std::string& dir, Seq2SeqModel& model, AdamOptimizer& adam,
                     TrainerState& state);

}  // namespace attnscope

// Training checkpoints: everything a killed run needs to continue exactly — the weights, Adam's
// moments, the step, the data position and the bookkeeping of validation and early stopping.
//
//   DIR/checkpoint/model.safetensors    the last weights
//   DIR/checkpoint/trainer.safetensors  Adam moments: "<param>.m", "<param>.v"
//   DIR/checkpoint/trainer.json         step, epoch, batch index, seeds, best metric, …
//
// The three files are written into DIR/checkpoint.tmp/ (each fsynced) and the folders are then
// swapped by renames: checkpoint → checkpoint.old, checkpoint.tmp → checkpoint, then
// checkpoint.old is removed. A whole checkpoint exists at every moment — checkpoint, or while
// it is missing, checkpoint.old — and no step ever removes the only one, so a kill (or two kills
// in a row, the second during the recovery of the first) never loses the last completed
// checkpoint. load_checkpoint first puts a crash's leftovers in order (recover_checkpoint).
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
  // metrics.jsonl's size in bytes when the checkpoint was taken (its rows up to `step`): a
  // resumed run cuts the file back to it, losing no row of a step before the checkpoint.
  // -1: unknown (a checkpoint of an older attnscope).
  int64_t metrics_bytes = -1;
  // The log window still open at the checkpoint (steps since the last log line and their summed
  // loss), so the first log line after a resume averages the same steps as without the crash.
  int64_t window_steps = 0;
  double window_loss = 0;
};

void save_checkpoint(const std::string& dir, Seq2SeqModel& model, AdamOptimizer& adam,
                     const TrainerState& state);
// Whether DIR holds a completed checkpoint (checkpoint/ or, after a crash mid-swap,
// checkpoint.old/), and its step.
bool has_checkpoint(const std::string& dir, int64_t* step = nullptr);
// Puts what a crash during save_checkpoint left in order: a missing checkpoint/ is restored from
// checkpoint.old/, a partial checkpoint.tmp/ is removed. Idempotent.
void recover_checkpoint(const std::string& dir);
// False when DIR holds no checkpoint; throws attnscope::Error for a broken one.
bool load_checkpoint(const std::string& dir, Seq2SeqModel& model, AdamOptimizer& adam,
                     TrainerState& state);

}  // namespace attnscope

// The training loop: teacher-forced batches, label-smoothed loss, gradient accumulation and
// clipping, Adam with a warm-up schedule, periodic validation (loss, BLEU, chrF), the best and
// the last checkpoints, early stopping, and exact resume.
//
// Files in the output directory:
//   model.safetensors + config.json   the best model so far (by validation BLEU, else loss)
//   checkpoint/                       the last state, for --resume (see checkpoint.h)
//   metrics.jsonl                     one JSON object per log line and validation, appended only;
//                                     a resume cuts it back to the rows of the checkpoint's steps
//                                     (their byte count is in the checkpoint), so rows of steps
//                                     that will be trained again are not there twice
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "data/batcher.h"
#include "nn/seq2seq_model.h"
#include "train/checkpoint.h"
#include "train/data_parallel.h"
#include "train/optimizer.h"
#include "train/schedule.h"

namespace attnscope {

struct TrainerOptions {
  int64_t max_steps = 0;  // 0: no limit (one of the three limits must be set)
  int64_t max_epochs = 0;
  double max_minutes = 0;
  int64_t accumulate = 1;  // batches per optimizer update (per rank: N ranks take N× as many)
  float label_smoothing = 0.1f;
  float clip_norm = 1.0f;  // global gradient norm limit; 0 = off
  cpu::AdamConfig adam;    // lr is taken from the schedule
  LrSchedule schedule;
  int64_t log_every = 50;
  int64_t valid_every = 500;  // also when checkpoints are written
  int64_t patience = 0;       // stop after this many validations without improvement; 0 = off
  uint64_t seed = 1;
};

struct ValidationResult {
  double loss = 0;
  std::optional<double> bleu, chrf;
  double metric() const { return bleu ? *bleu : -loss; }  // larger is better
};

struct TrainProgress {
  enum class Kind { kStep, kValidation, kDone } kind = Kind::kStep;
  int64_t step = 0, max_steps = 0, epoch = 0;
  double epochs = 0;  // passes over the data so far, with the current one's fraction
  double loss = 0;    // mean over the last log window
  float lr = 0;
  double tokens_per_s = 0;  // target tokens per second over the last log window
  double elapsed_s = 0;
  double fraction_done = 0;  // 0–1 by whichever limit is nearest
  std::optional<ValidationResult> validation;
  bool improved = false;
  std::string stop_reason;  // kDone: "steps", "epochs", "minutes", "early stopping"
};

class Trainer {
 public:
  // With `parallel`, this is one of its ranks (train/data_parallel.h): each update takes
  // accumulate batches on every rank, rank r the r-th group of the update's batches, the same
  // batches, dropout masks and update as one rank with accumulate × ranks; rank 0 writes.
  Trainer(Seq2SeqModel& model, Batcher& batcher, const TrainerOptions& opt, std::string out_dir,
          DataParallel* parallel = nullptr);

  // Validation run every valid_every steps and at the end; without one, the last model counts
  // as the best.
  void set_validation(std::function<ValidationResult(Seq2SeqModel&)> validate) {
    validate_ = std::move(validate);
  }
  // Restores the last checkpoint of out_dir (weights, Adam, data position, counters); rank 0
  // reads it and hands it to the others. False when there is none.
  bool resume();
  // Trains until a limit or early stopping; calls on_progress on every log step, validation and
  // at the end. Returns the final state.
  TrainerState run(const std::function<void(const TrainProgress&)>& on_progress);

  const TrainerState& state() const { return state_; }

 private:
  double step_once(int64_t& tgt_tokens);  // one optimizer update; returns its mean loss
  double clip_gradients();
  void append_metrics(const std::string& json_line);
  // metrics.jsonl back to the checkpoint's rows (see above).
  void restore_metrics();
  std::string metrics_path() const;
  void save_best();
  void share_start_state();  // rank 0's weights and state on every rank, once

  Seq2SeqModel& model_;
  Batcher& batcher_;
  TrainerOptions opt_;
  std::string out_dir_;
  AdamOptimizer adam_;
  TrainerState state_;
  std::function<ValidationResult(Seq2SeqModel&)> validate_;
  int64_t saved_step_ = -1;  // the step of the last checkpoint written or resumed from
  Tensor d_logits_;          // [B, Tt, V], reused across steps

  // The ranks training together (train/data_parallel.h); alone_ when none were given.
  LocalCommunicator alone_;
  DataParallel alone_parallel_{alone_};
  DataParallel& dp_;
  std::unique_ptr<GradientReducer> reducer_;  // with more than one rank
  bool shared_ = false;                       // share_start_state done
};

}  // namespace attnscope

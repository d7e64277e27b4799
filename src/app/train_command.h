// What `attnscope train` does, without its command line: the options and the run, shared by the
// CLI (cmd_train.cc defines both and parses the flags into TrainArgs) and the Python module's
// attnscope.train (python/), which fills TrainArgs from keyword arguments.
#pragma once

#include <cstdio>
#include <functional>
#include <string>

#include "app/tsv_columns.h"
#include "dist/communicator.h"
#include "train/trainer.h"

namespace attnscope::app {

// One field per flag of `attnscope train` (--batch-tokens is batch_tokens); the defaults are the
// CLI's.
struct TrainArgs {
  std::string data, src_file, tgt_file, valid, out, config = "small", arch;
  TsvColumns columns;
  bool resume = false, separate_vocab = false;
  int64_t split_dev = 0, steps = 0, epochs = 0;
  double minutes = 0;
  int vocab = 8000;
  std::string spm_type = "unigram", spm, tgt_spm;
  int64_t batch_tokens = 4096, accumulate = 1, warmup = 4000, valid_every = 500, log_every = 50;
  int64_t patience = 0, valid_bleu_sentences = 500;
  float lr = 1e-3f, label_smoothing = 0.1f, clip_norm = 1.0f, dropout = -1, weight_decay = 0;
  std::string schedule = "inverse_sqrt", norm;
  uint64_t seed = 1;
  // With several ranks (`mpirun -np N attnscope train`, docs/scaling.md); alone they do nothing.
  double rank_timeout = 120;  // seconds a silent rank is waited for
  int64_t replica_check_every = 0;
  double bucket_mb = 4;  // MiB of gradients per sum
};

// Checks the options that need no file (attnscope::Error naming the flag), so a bad value fails
// before the corpus is read or a tokenizer trained.
void validate_train_args(const TrainArgs& a);

// validate_train_args, then: reads the corpora, builds the model config (preset or config.json,
// the architecture), trains the tokenizers and the model into a.out. The corpus reports and the
// training log go to `log`; `progress` is called on every log step, each validation and at the
// end. Returns the final state (best_step: the step of the model saved in a.out). With `ranks`
// (the CLI under mpirun), this process is one of them: every rank calls it alike, and rank 0
// alone writes a.out; null (the Python module): this process alone.
TrainerState run_train(const TrainArgs& a,
                       const std::function<void(const TrainProgress&)>& progress, std::FILE* log,
                       Communicator* ranks = nullptr);

}  // namespace attnscope::app

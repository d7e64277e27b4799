// From sentence pairs to a trained model directory: tokenizers (trained or loaded), encoding
// with length checks, batching, validation (loss, BLEU, chrF) and the training loop. Shared by
// `attnscope train` and `attnscope demo`.
#pragma once

#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "data/corpus.h"
#include "data/tokenizer.h"
#include "decode/beam_search.h"
#include "dist/communicator.h"
#include "nn/arch_config.h"
#include "train/data_parallel.h"
#include "train/trainer.h"

namespace attnscope {

struct TrainRecipe {
  std::vector<SentencePair> train, valid;
  std::string out_dir;
  // The architecture and its sizes (any ArchConfig); the vocabularies are set from the
  // tokenizers (ArchConfig::set_vocabularies). Not used with resume: out_dir's config.json is.
  std::shared_ptr<const ArchConfig> model;
  TokenizerOptions tokenizer;
  bool joint_tokenizer = true;         // one SentencePiece model for both sides
  std::string source_spm, target_spm;  // existing .model files to use instead of training
  int64_t max_tokens = 4096;           // per batch (padded)
  TrainerOptions trainer;
  int64_t valid_bleu_sentences = 500;  // 0: validation loss only
  DecodeOptions valid_decode;
  // Continue the checkpoint in out_dir, or start when there is none yet (train/run_dir.h: what
  // each state of out_dir leads to).
  bool resume = false;
  // The ranks training together (`mpirun -np N attnscope train`); null: this process alone.
  // Every rank runs run_training with the same recipe; rank 0 alone writes out_dir.
  Communicator* ranks = nullptr;
  DataParallelOptions parallel;
};

// Encodes pairs for training: src = pieces + eos, tgt = bos + pieces + eos. Pairs longer than
// max_len are skipped and counted in *skipped.
std::vector<EncodedPair> encode_pairs(const std::vector<SentencePair>& pairs,
                                      const TextTokenizer& src, const TextTokenizer& tgt,
                                      const ModelInfo& info, int64_t* skipped);

// Mean teacher-forced loss (no dropout, no smoothing) over pairs, token-weighted.
double validation_loss(Seq2SeqModel& model, const std::vector<EncodedPair>& pairs,
                       int64_t max_tokens);
// The same as its parts: the summed loss of every target token, and their number (ranks that
// validate a share each add these up).
struct LossTotal {
  double sum = 0;
  int64_t tokens = 0;
};
LossTotal validation_loss_total(Seq2SeqModel& model, const std::vector<EncodedPair>& pairs,
                                int64_t max_tokens);

TrainerState run_training(const TrainRecipe& recipe,
                          const std::function<void(const TrainProgress&)>& progress,
                          std::FILE* log);

}  // namespace attnscope

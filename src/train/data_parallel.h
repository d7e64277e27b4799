// What training on N ranks (dist/communicator.h) adds to training alone — data parallelism: every
// rank holds the whole model and trains on its own share of each update's batches, the gradients
// are summed over the ranks (train/gradient_reducer.h), and every rank applies the same Adam
// update, so the replicas stay equal bit for bit.
//
//   who writes       rank 0 only: writes_files() is the one predicate every file write and log
//                    line of training asks; the other ranks write nothing, anywhere (their
//                    output directory need not exist on their node)
//   one run          check_same_run refuses, at the start, ranks whose binary, options or data
//                    differ
//   rank 0 decides   share_flag / share_text / share_tokenizers / share_state hand rank 0's
//                    decisions, tokenizers, weights, Adam moments and counters to every rank
//   split work       shard() and gather_shards() split validation over the ranks
//   equal replicas   check_replicas compares every parameter's fingerprint across the ranks
//
// With one rank (a LocalCommunicator) every operation is the identity and nothing is checked.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "dist/communicator.h"
#include "io/model_dir.h"
#include "nn/seq2seq_model.h"
#include "train/checkpoint.h"
#include "train/gradient_reducer.h"
#include "train/optimizer.h"

namespace attnscope {

struct DataParallelOptions {
  int64_t bucket_bytes = GradientReducer::kDefaultBucketBytes;  // gradient sums per bucket
  // Also compare the replicas every this many updates (0: only before each checkpoint).
  int64_t replica_check_every = 0;
};

// An error every rank finds alike (the ranks' runs differ, the replicas diverged): rank 0
// reports it and the others stop quietly, instead of N copies of one message.
class CollectiveError : public Error {
 public:
  using Error::Error;
};

class DataParallel {
 public:
  explicit DataParallel(Communicator& comm, DataParallelOptions options = {});

  int rank() const { return comm_.rank(); }
  int ranks() const { return comm_.size(); }
  // The one predicate of rank-0-only work: files (model directory, checkpoints, metrics,
  // tokenizers, pictures) and log lines.
  bool writes_files() const { return comm_.rank() == 0; }
  Communicator& comm() { return comm_; }
  const DataParallelOptions& options() const { return options_; }

  // A fact every rank must agree on: what it is ("the training data") and its value (a
  // fingerprint, a build id).
  struct Fact {
    std::string what, value;
  };
  // Throws CollectiveError, on every rank alike, naming the first fact and the ranks where it
  // differs from rank 0's.
  void check_same_run(const std::vector<Fact>& facts);

  // Runs work on rank 0 alone while the others wait (`what` says for what, in their heartbeats);
  // an Error there is thrown on every rank as a CollectiveError with its message. With one rank:
  // just work().
  void on_root(std::string_view what, const std::function<void()>& work);
  bool share_flag(bool value);         // rank 0's value everywhere
  void share_text(std::string& text);  // rank 0's text everywhere
  // Rank 0's tokenizers (its files in dir: shared.spm, or source.spm and target.spm) on every
  // rank; rank 0 passes its own and gets them back.
  TokenizerPair share_tokenizers(const std::string& dir, TokenizerPair root_tokenizers);
  // Rank 0's weights, Adam moments and step count, and trainer state, everywhere.
  void share_state(Seq2SeqModel& model, AdamOptimizer& adam, TrainerState& state);

  void sum(std::span<double> values) { comm_.sum(values); }
  // This rank's items of n: rank, rank + ranks, rank + 2·ranks, …
  std::vector<size_t> shard(size_t n) const;
  // Every rank's results for its shard(n) (in its order) → all n, in item order, everywhere.
  std::vector<std::string> gather_shards(const std::vector<std::string>& mine, size_t n);

  // Throws CollectiveError on every rank when some parameter differs between the ranks.
  void check_replicas(Seq2SeqModel& model, int64_t step);

 private:
  Communicator& comm_;
  DataParallelOptions options_;
};

}  // namespace attnscope

// Training batches by token count from length buckets (like fairseq/Marian): pairs of similar
// length are batched together so little is padding; each batch holds at most max_tokens
// (padded source or target tokens, whichever is larger). The batch order is shuffled per epoch
// from a seed, and the position (epoch, index) can be saved and restored, so a resumed run sees
// exactly the batches an uninterrupted one would.
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace attnscope {

// One tokenized pair: src = ids + [eos]; tgt = [bos] + ids + [eos].
struct EncodedPair {
  std::vector<int32_t> src, tgt;
};

struct Batch {
  TokenBatch src;      // [B, Ts] padded with pad_id
  TokenBatch tgt_in;   // [B, Tt] = tgt[:-1]  (teacher forcing: the decoder's input)
  TokenBatch tgt_out;  // [B, Tt] = tgt[1:]   (what it must predict)
  int64_t src_tokens = 0, tgt_tokens = 0;  // real (non-pad) tokens
};

// Builds a Batch from pairs (any order); padding with pad_id.
Batch make_batch(const std::vector<const EncodedPair*>& pairs, int32_t pad_id);

class Batcher {
 public:
  Batcher(std::vector<EncodedPair> pairs, int64_t max_tokens, int32_t pad_id, uint64_t seed);

  // The next batch; advances (epoch, index), starting a new shuffled epoch when one ends.
  Batch next();
  // Advances past n batches as n calls of next() would, without building them: a rank of a
  // data-parallel run steps over the other ranks' batches.
  void skip(int64_t n);
  int64_t epoch() const { return epoch_; }
  int64_t index() const { return index_; }  // batches taken in this epoch
  int64_t batches_per_epoch() const;
  int64_t num_pairs() const { return static_cast<int64_t>(pairs_.size()); }
  // Resume: the batch order of an epoch depends only on (seed, epoch).
  void seek(int64_t epoch, int64_t index);

 private:
  void plan_epoch();
  const std::vector<int64_t>& advance();  // the pair indices of the next batch
  std::vector<EncodedPair> pairs_;
  std::vector<std::vector<int64_t>> batches_;  // the current epoch's batches (pair indices)
  int64_t max_tokens_;
  int32_t pad_id_;
  uint64_t seed_;
  int64_t epoch_ = 0, index_ = 0;
};

}  // namespace attnscope

// Token-budget batching from length buckets (see batcher.h).
//
// Each epoch: the pairs are sorted by (source length, target length), pairs of equal lengths in
// an order drawn from Rng(hash(seed, epoch)); consecutive pairs are cut greedily into batches
// with B × max(Ts, Tt) ≤ max_tokens, where Ts = the longest source and Tt = the longest target
// minus one (the width of tgt_in / tgt_out); then the batch order is shuffled with the same
// Rng. Swapping equal-length pairs does not move the cuts, so every epoch has the same number
// of batches and the same batch shapes, only with other pairs in them and in another order.
// A pair whose own cost exceeds max_tokens gets a batch of its own.
#include "data/batcher.h"

#include <algorithm>
#include <numeric>

#include "core/error.h"
#include "core/rng.h"

namespace attnscope {

namespace {

int64_t tgt_width(const EncodedPair& p) {
  return static_cast<int64_t>(p.tgt.size()) - 1;
}

void check_pair(const EncodedPair& p, size_t i) {
  ATTN_CHECK(!p.src.empty(), "sentence pair {}: the source has no tokens (expected ids + [eos])",
             i);
  ATTN_CHECK(p.tgt.size() >= 2,
             "sentence pair {}: the target has {} token(s); it needs at least [bos, eos]", i,
             p.tgt.size());
}

}  // namespace

Batch make_batch(const std::vector<const EncodedPair*>& pairs, int32_t pad_id) {
  ATTN_CHECK(!pairs.empty(), "make_batch: no sentence pairs");
  int64_t ts = 0, tt = 0;
  for (size_t i = 0; i < pairs.size(); ++i) {
    ATTN_CHECK(pairs[i] != nullptr, "make_batch: pair {} is null", i);
    check_pair(*pairs[i], i);
    ts = std::max(ts, static_cast<int64_t>(pairs[i]->src.size()));
    tt = std::max(tt, tgt_width(*pairs[i]));
  }
  const auto b = static_cast<int64_t>(pairs.size());
  Batch batch;
  batch.src = TokenBatch{b, ts, std::vector<int32_t>(static_cast<size_t>(b * ts), pad_id)};
  batch.tgt_in = TokenBatch{b, tt, std::vector<int32_t>(static_cast<size_t>(b * tt), pad_id)};
  batch.tgt_out = batch.tgt_in;
  for (int64_t r = 0; r < b; ++r) {
    const EncodedPair& p = *pairs[static_cast<size_t>(r)];
    std::copy(p.src.begin(), p.src.end(), batch.src.ids.begin() + r * ts);
    const int64_t w = tgt_width(p);
    std::copy(p.tgt.begin(), p.tgt.begin() + w, batch.tgt_in.ids.begin() + r * tt);
    std::copy(p.tgt.begin() + 1, p.tgt.end(), batch.tgt_out.ids.begin() + r * tt);
    batch.src_tokens += static_cast<int64_t>(p.src.size());
    batch.tgt_tokens += w;
  }
  return batch;
}

Batcher::Batcher(std::vector<EncodedPair> pairs, int64_t max_tokens, int32_t pad_id, uint64_t seed)
    : pairs_(std::move(pairs)), max_tokens_(max_tokens), pad_id_(pad_id), seed_(seed) {
  ATTN_CHECK(!pairs_.empty(), "Batcher: no sentence pairs to batch");
  ATTN_CHECK(max_tokens_ >= 1, "Batcher: max_tokens must be >= 1 (got {})", max_tokens_);
  for (size_t i = 0; i < pairs_.size(); ++i) check_pair(pairs_[i], i);
  plan_epoch();
}

int64_t Batcher::batches_per_epoch() const {
  return static_cast<int64_t>(batches_.size());
}

void Batcher::plan_epoch() {
  Rng rng(counter_hash(seed_, static_cast<uint64_t>(epoch_)));
  const size_t n = pairs_.size();
  std::vector<uint64_t> tie(n);
  for (auto& t : tie) t = rng.next_u64();
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), int64_t{0});
  std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    const EncodedPair& pa = pairs_[static_cast<size_t>(a)];
    const EncodedPair& pb = pairs_[static_cast<size_t>(b)];
    if (pa.src.size() != pb.src.size()) return pa.src.size() < pb.src.size();
    if (pa.tgt.size() != pb.tgt.size()) return pa.tgt.size() < pb.tgt.size();
    if (tie[a] != tie[b]) return tie[a] < tie[b];
    return a < b;
  });

  batches_.clear();
  std::vector<int64_t> cur;
  int64_t width = 0;  // max(Ts, Tt) of `cur`
  for (const int64_t i : order) {
    const EncodedPair& p = pairs_[static_cast<size_t>(i)];
    const int64_t w = std::max({width, static_cast<int64_t>(p.src.size()), tgt_width(p)});
    if (!cur.empty() && (static_cast<int64_t>(cur.size()) + 1) * w > max_tokens_) {
      batches_.push_back(std::move(cur));
      cur.clear();
      width = std::max(static_cast<int64_t>(p.src.size()), tgt_width(p));
    } else {
      width = w;
    }
    cur.push_back(i);
  }
  if (!cur.empty()) batches_.push_back(std::move(cur));

  for (size_t i = batches_.size(); i > 1; --i) {
    const auto j = static_cast<size_t>(rng.below(i));
    std::swap(batches_[i - 1], batches_[j]);
  }
}

const std::vector<int64_t>& Batcher::advance() {
  if (index_ >= batches_per_epoch()) {
    ++epoch_;
    index_ = 0;
    plan_epoch();
  }
  return batches_[static_cast<size_t>(index_++)];
}

void Batcher::skip(int64_t n) {
  ATTN_CHECK(n >= 0, "Batcher::skip: n must be >= 0 (got {})", n);
  for (int64_t i = 0; i < n; ++i) advance();
}

Batch Batcher::next() {
  const auto& idx = advance();
  std::vector<const EncodedPair*> ptrs;
  ptrs.reserve(idx.size());
  for (const int64_t i : idx) ptrs.push_back(&pairs_[static_cast<size_t>(i)]);
  return make_batch(ptrs, pad_id_);
}

void Batcher::seek(int64_t epoch, int64_t index) {
  ATTN_CHECK(epoch >= 0, "Batcher::seek: epoch must be >= 0 (got {})", epoch);
  ATTN_CHECK(index >= 0, "Batcher::seek: index must be >= 0 (got {})", index);
  // Every epoch has the same number of batches (see the top of this file).
  ATTN_CHECK(index <= batches_per_epoch(),
             "Batcher::seek: index {} is past the end of the epoch ({} batches)", index,
             batches_per_epoch());
  if (epoch != epoch_) {
    epoch_ = epoch;
    plan_epoch();
  }
  index_ = index;
}

}  // namespace attnscope

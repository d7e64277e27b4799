// Token-budget batching: teacher-forcing offsets and padding, the max_tokens budget (and the
// over-long pair alone in its batch), every pair exactly once per epoch, per-epoch shuffling,
// and seek() reproducing an uninterrupted run.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include "core/error.h"
#include "core/rng.h"
#include "data/batcher.h"

namespace attnscope {
namespace {

constexpr int32_t kPad = 0, kBos = 1, kEos = 2;

// Pair i: src = [1000 + i, random ids…, eos], tgt = [bos, random ids…, eos]; ids never equal
// pad, so the first source id names the pair.
std::vector<EncodedPair> make_pairs(int n, uint64_t seed, int max_len = 30) {
  Rng rng(seed);
  std::vector<EncodedPair> pairs;
  for (int i = 0; i < n; ++i) {
    EncodedPair p;
    p.src.push_back(1000 + i);
    const auto ls = static_cast<int>(rng.below(static_cast<uint64_t>(max_len)));
    for (int k = 0; k < ls; ++k) p.src.push_back(4 + static_cast<int32_t>(rng.below(90)));
    p.src.push_back(kEos);
    p.tgt.push_back(kBos);
    const auto lt = static_cast<int>(rng.below(static_cast<uint64_t>(max_len)));
    for (int k = 0; k < lt; ++k) p.tgt.push_back(4 + static_cast<int32_t>(rng.below(90)));
    p.tgt.push_back(kEos);
    pairs.push_back(std::move(p));
  }
  return pairs;
}

// The pair each row of a batch holds (by its first source id), checking the row against it.
std::vector<int> rows_of(const Batch& b, const std::vector<EncodedPair>& pairs) {
  std::vector<int> ids;
  for (int64_t r = 0; r < b.src.rows; ++r) {
    const int i = b.src.at(r, 0) - 1000;
    EXPECT_GE(i, 0);
    EXPECT_LT(i, static_cast<int>(pairs.size()));
    if (i < 0 || i >= static_cast<int>(pairs.size())) continue;
    const auto& p = pairs[i];
    for (int64_t c = 0; c < b.src.cols; ++c)
      EXPECT_EQ(b.src.at(r, c), c < static_cast<int64_t>(p.src.size()) ? p.src[c] : kPad);
    ids.push_back(i);
  }
  return ids;
}

void expect_same_batch(const Batch& a, const Batch& b) {
  EXPECT_EQ(a.src.rows, b.src.rows);
  EXPECT_EQ(a.src.cols, b.src.cols);
  EXPECT_EQ(a.src.ids, b.src.ids);
  EXPECT_EQ(a.tgt_in.ids, b.tgt_in.ids);
  EXPECT_EQ(a.tgt_out.ids, b.tgt_out.ids);
  EXPECT_EQ(a.src_tokens, b.src_tokens);
  EXPECT_EQ(a.tgt_tokens, b.tgt_tokens);
}

TEST(MakeBatch, TeacherForcingOffsetsAndPadding) {
  const EncodedPair a{{10, 11, 12, kEos}, {kBos, 20, 21, kEos}};
  const EncodedPair b{{13, kEos}, {kBos, 22, 23, 24, 25, kEos}};
  const int32_t pad = -7;  // any pad id is used as given
  const Batch batch = make_batch({&a, &b}, pad);
  ASSERT_EQ(batch.src.rows, 2);
  ASSERT_EQ(batch.src.cols, 4);
  ASSERT_EQ(batch.tgt_in.rows, 2);
  ASSERT_EQ(batch.tgt_in.cols, 5);
  ASSERT_EQ(batch.tgt_out.cols, 5);
  EXPECT_EQ(batch.src.ids, (std::vector<int32_t>{10, 11, 12, kEos, 13, kEos, pad, pad}));
  EXPECT_EQ(batch.tgt_in.ids, (std::vector<int32_t>{kBos, 20, 21, pad, pad, kBos, 22, 23, 24, 25}));
  EXPECT_EQ(batch.tgt_out.ids,
            (std::vector<int32_t>{20, 21, kEos, pad, pad, 22, 23, 24, 25, kEos}));
  EXPECT_EQ(batch.src_tokens, 6);
  EXPECT_EQ(batch.tgt_tokens, 8);
}

TEST(MakeBatch, PaddingMasksOnRandomPairs) {
  const auto pairs = make_pairs(40, 3);
  std::vector<const EncodedPair*> ptrs;
  for (const auto& p : pairs) ptrs.push_back(&p);
  const Batch b = make_batch(ptrs, kPad);
  int64_t src_real = 0, tgt_real = 0, max_s = 0, max_t = 0;
  for (size_t r = 0; r < pairs.size(); ++r) {
    const auto& p = pairs[r];
    max_s = std::max<int64_t>(max_s, static_cast<int64_t>(p.src.size()));
    max_t = std::max<int64_t>(max_t, static_cast<int64_t>(p.tgt.size()) - 1);
    const auto row = static_cast<int64_t>(r);
    for (int64_t c = 0; c < b.src.cols; ++c) {
      const bool real = c < static_cast<int64_t>(p.src.size());
      EXPECT_EQ(b.src.at(row, c) != kPad, real) << r << "," << c;
      if (real) {
        EXPECT_EQ(b.src.at(row, c), p.src[c]);
      }
      src_real += real;
    }
    for (int64_t c = 0; c < b.tgt_in.cols; ++c) {
      const bool real = c < static_cast<int64_t>(p.tgt.size()) - 1;
      EXPECT_EQ(b.tgt_in.at(row, c) != kPad, real);
      EXPECT_EQ(b.tgt_out.at(row, c) != kPad, real);
      if (real) {
        EXPECT_EQ(b.tgt_in.at(row, c), p.tgt[c]);
        EXPECT_EQ(b.tgt_out.at(row, c), p.tgt[c + 1]);
      }
      tgt_real += real;
    }
  }
  EXPECT_EQ(b.src.cols, max_s);
  EXPECT_EQ(b.tgt_in.cols, max_t);
  EXPECT_EQ(b.src_tokens, src_real);
  EXPECT_EQ(b.tgt_tokens, tgt_real);
}

TEST(MakeBatch, Errors) {
  EXPECT_THROW(make_batch({}, kPad), Error);
  const EncodedPair no_src{{}, {kBos, kEos}};
  EXPECT_THROW(make_batch({&no_src}, kPad), Error);
  const EncodedPair short_tgt{{5, kEos}, {kBos}};
  EXPECT_THROW(make_batch({&short_tgt}, kPad), Error);
}

TEST(Batcher, BudgetAndEveryPairOncePerEpoch) {
  auto pairs = make_pairs(300, 11);
  // One pair far over the budget: it must come alone.
  EncodedPair huge;
  huge.src.push_back(1000 + 300);
  huge.src.insert(huge.src.end(), 150, 9);
  huge.src.push_back(kEos);
  huge.tgt = {kBos, 9, kEos};
  pairs.push_back(huge);
  const int64_t max_tokens = 120;
  Batcher batcher(pairs, max_tokens, kPad, 5);
  EXPECT_EQ(batcher.num_pairs(), 301);
  const int64_t n = batcher.batches_per_epoch();
  ASSERT_GT(n, 10);
  for (int64_t epoch = 0; epoch < 3; ++epoch) {
    std::multiset<int> seen;
    int64_t real = 0, padded = 0;
    for (int64_t i = 0; i < n; ++i) {
      EXPECT_EQ(batcher.epoch(), epoch == 0 || i > 0 ? epoch : epoch - 1);
      const Batch b = batcher.next();
      EXPECT_EQ(batcher.epoch(), epoch);
      EXPECT_EQ(batcher.index(), i + 1);
      const auto ids = rows_of(b, pairs);
      seen.insert(ids.begin(), ids.end());
      const int64_t cost = b.src.rows * std::max(b.src.cols, b.tgt_in.cols);
      if (b.src.rows > 1) {
        EXPECT_LE(cost, max_tokens);
      } else if (cost > max_tokens) {
        EXPECT_EQ(ids[0], 300) << "only the huge pair may exceed the budget";
      }
      if (ids.size() == 1 && ids[0] == 300) {
        EXPECT_EQ(b.src.rows, 1);
      }
      real += b.src_tokens;
      padded += b.src.rows * b.src.cols;
    }
    EXPECT_EQ(seen.size(), pairs.size());
    std::set<int> unique(seen.begin(), seen.end());
    EXPECT_EQ(unique.size(), pairs.size()) << "a pair appeared twice in epoch " << epoch;
    // Length buckets keep padding low.
    EXPECT_GT(static_cast<double>(real) / static_cast<double>(padded), 0.85);
    EXPECT_EQ(batcher.batches_per_epoch(), n);
  }
}

TEST(Batcher, EpochsAreShuffledDifferentlyAndSeedsMatter) {
  const auto pairs = make_pairs(200, 4);
  auto first_rows = [&](uint64_t seed, int epochs) {
    Batcher b(pairs, 100, kPad, seed);
    std::vector<std::vector<int>> out;
    for (int e = 0; e < epochs; ++e) {
      std::vector<int> order;
      for (int64_t i = 0; i < b.batches_per_epoch(); ++i) {
        const auto ids = rows_of(b.next(), pairs);
        order.insert(order.end(), ids.begin(), ids.end());
      }
      out.push_back(order);
    }
    return out;
  };
  const auto a = first_rows(1, 2);
  EXPECT_NE(a[0], a[1]);                 // epoch 0 and 1 differ
  EXPECT_EQ(first_rows(1, 2), a);        // same seed → same sequence
  EXPECT_NE(first_rows(2, 1)[0], a[0]);  // another seed → another order

  // The batch order is shuffled, not by length; and pairs of equal length are batched with
  // different partners in different epochs (same shapes, other contents).
  Batcher b(pairs, 100, kPad, 1);
  std::vector<int64_t> widths;
  std::vector<std::set<std::set<int>>> compositions(2);
  for (int e = 0; e < 2; ++e)
    for (int64_t i = 0; i < b.batches_per_epoch(); ++i) {
      const Batch batch = b.next();
      if (e == 0) widths.push_back(batch.src.cols);
      const auto ids = rows_of(batch, pairs);
      compositions[e].insert(std::set<int>(ids.begin(), ids.end()));
    }
  EXPECT_FALSE(std::is_sorted(widths.begin(), widths.end()));
  EXPECT_NE(compositions[0], compositions[1]);
}

TEST(Batcher, SeekReproducesUninterruptedRun) {
  const auto pairs = make_pairs(150, 8);
  Batcher ref(pairs, 90, kPad, 77);
  const int64_t n = ref.batches_per_epoch();
  struct Pos {
    int64_t epoch, index;
  };
  std::vector<Pos> pos;
  std::vector<Batch> seq;
  for (int64_t i = 0; i < 3 * n; ++i) {
    pos.push_back({ref.epoch(), ref.index()});
    seq.push_back(ref.next());
  }
  // Resume from several saved positions, including the end of an epoch and the very start.
  for (const int64_t at : {int64_t{0}, n / 2, n - 1, n, n + 3, 2 * n - 1, 2 * n + 1}) {
    Batcher resumed(pairs, 90, kPad, 77);
    resumed.next();  // some unrelated progress first
    resumed.seek(pos[at].epoch, pos[at].index);
    for (int64_t i = at; i < 3 * n; ++i) {
      SCOPED_TRACE(testing::Message() << "resumed at " << at << ", batch " << i);
      expect_same_batch(resumed.next(), seq[i]);
    }
  }
  // (epoch, batches_per_epoch) — the position saved right after an epoch's last batch.
  Batcher end(pairs, 90, kPad, 77);
  end.seek(0, n);
  expect_same_batch(end.next(), seq[n]);
  EXPECT_EQ(end.epoch(), 1);
  EXPECT_EQ(end.index(), 1);
}

TEST(Batcher, SkipStepsOverBatchesAsNextWould) {
  const auto pairs = make_pairs(150, 8);
  Batcher ref(pairs, 90, kPad, 77);
  const int64_t n = ref.batches_per_epoch();
  std::vector<Batch> seq;
  for (int64_t i = 0; i < 3 * n; ++i) seq.push_back(ref.next());
  // A rank of a data-parallel run: skip the others' batches, take its own, across epochs.
  for (const int64_t stride : {int64_t{1}, int64_t{2}, int64_t{3}, n + 1}) {
    Batcher b(pairs, 90, kPad, 77);
    b.skip(0);
    int64_t at = 0;
    while (at < 3 * n) {
      SCOPED_TRACE(testing::Message() << "stride " << stride << ", batch " << at);
      expect_same_batch(b.next(), seq[at]);
      b.skip(stride - 1);
      at += stride;
      EXPECT_EQ(b.epoch() * n + b.index(), at);
    }
  }
  Batcher b(pairs, 90, kPad, 77);
  EXPECT_THROW(b.skip(-1), Error);
}

TEST(Batcher, Errors) {
  EXPECT_THROW(Batcher({}, 100, kPad, 1), Error);
  EXPECT_THROW(Batcher(make_pairs(3, 1), 0, kPad, 1), Error);
  auto bad = make_pairs(3, 1);
  bad[1].tgt = {kBos};
  EXPECT_THROW(Batcher(bad, 100, kPad, 1), Error);
  Batcher b(make_pairs(10, 1), 100, kPad, 1);
  EXPECT_THROW(b.seek(0, b.batches_per_epoch() + 1), Error);
  EXPECT_THROW(b.seek(-1, 0), Error);
  EXPECT_THROW(b.seek(0, -1), Error);
}

TEST(Batcher, TinyBudgetGivesOnePairPerBatch) {
  const auto pairs = make_pairs(20, 2);
  Batcher b(pairs, 1, kPad, 3);
  EXPECT_EQ(b.batches_per_epoch(), 20);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(b.next().src.rows, 1);
}

}  // namespace
}  // namespace attnscope

// Decoding: the KV-cached step equals the teacher-forced forward pass, greedy is beam 1, beams
// are ranked, and the attention captured through the beam's backpointers equals the maps of a
// forced forward pass over the output that was chosen.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <vector>

#include "core/error.h"
#include "core/rng.h"
#include "decode/beam_search.h"
#include "decode/sentence_search.h"
#include "kernels/cpu/softmax.h"
#include "nn/transformer.h"

namespace attnscope {
namespace {

ModelConfig config() {
  ModelConfig c;
  c.d_model = 16;
  c.heads = 4;
  c.encoder_layers = 2;
  c.decoder_layers = 2;
  c.d_ff = 24;
  c.src_vocab = 13;
  c.tgt_vocab = 11;
  c.max_len = 40;
  c.dropout = 0;
  return c;
}

// A model whose output is peaked enough that beams differ from greedy.
std::unique_ptr<Transformer> model_with_seed(uint64_t seed, NormPlacement norm) {
  ModelConfig c = config();
  c.norm = norm;
  auto m = std::make_unique<Transformer>(c);
  m->init_weights(seed);
  m->visit_params([](Param& p) {
    if (p.name == "generator.weight")
      for (int64_t i = 0; i < p.value.numel(); ++i) p.value[i] *= 4.0f;
  });
  return m;
}

const int32_t P = 0;  // pad
TokenBatch sources() {
  return TokenBatch{3, 5, {5, 6, 7, 8, 2, 9, 4, 2, P, P, 3, 3, 12, 10, 2}};
}

TEST(DecodeStep, MatchesTeacherForcedForward) {
  for (NormPlacement norm : {NormPlacement::kPost, NormPlacement::kPre}) {
    auto model = model_with_seed(5, norm);
    TokenBatch src = sources();
    TokenBatch tgt{3, 6, {1, 4, 5, 6, 7, 8, 1, 9, 3, 4, 5, 6, 1, 10, 9, 8, 7, 6}};
    const Tensor full = model->forward(src, tgt, {}).clone();  // [3, 6, V]
    std::vector<Tensor> cross_full;
    for (int64_t l = 0; l < 2; ++l)
      cross_full.push_back(model->attention(AttentionKind::kCross, l).clone());
    auto cache = model->start_decoding(src, 1, 6);
    const int64_t V = full.dim(2);
    for (int64_t t = 0; t < 6; ++t) {
      std::vector<int32_t> feed = {tgt.at(0, t), tgt.at(1, t), tgt.at(2, t)};
      const Tensor& step = model->decode_step(*cache, feed);
      for (int64_t b = 0; b < 3; ++b)
        for (int64_t v = 0; v < V; ++v)
          ASSERT_NEAR(step[b * V + v], full[(b * 6 + t) * V + v], 2e-5) << "b " << b << " t " << t;
      // cross-attention row t of every head equals the full pass's row t.
      const Tensor& cs = model->attention(AttentionKind::kCross, 1);  // [3, H, 1, 5]
      const int64_t H = cs.dim(1);
      for (int64_t b = 0; b < 3; ++b)
        for (int64_t h = 0; h < H; ++h)
          for (int64_t j = 0; j < 5; ++j)
            ASSERT_NEAR(cs[(b * H + h) * 5 + j], cross_full[1][((b * H + h) * 6 + t) * 5 + j],
                        1e-5);
    }
  }
}

// bf16 and int8 decode steps (Seq2SeqModel::set_step_weights): the same steps through reduced-
// precision projections and output layer, near the fp32 logits but not equal to them (the
// reduced path really runs), and back to fp32 exactly when asked.
TEST(DecodeStep, Bf16AndInt8WeightsStayNearTheFp32Logits) {
  auto model = model_with_seed(5, NormPlacement::kPost);
  const TokenBatch src = sources();
  const std::vector<std::vector<int32_t>> feeds = {{1, 1, 1}, {4, 9, 10}, {5, 3, 9}, {6, 4, 8}};
  auto run = [&](cpu::WeightFormat f) {
    model->set_step_weights(f);
    EXPECT_EQ(model->step_weights(), f);
    auto cache = model->start_decoding(src, 1, 4);
    std::vector<float> all;
    for (const auto& feed : feeds) {
      const Tensor& step = model->decode_step(*cache, feed);
      all.insert(all.end(), step.data(), step.data() + step.numel());
    }
    return all;
  };
  const std::vector<float> fp32 = run(cpu::WeightFormat::kF32);
  float scale = 0;
  for (float v : fp32) scale = std::max(scale, std::fabs(v));
  for (const auto& [f, tol] :
       {std::pair{cpu::WeightFormat::kBf16, 0.02f}, std::pair{cpu::WeightFormat::kInt8, 0.05f}}) {
    const std::vector<float> got = run(f);
    ASSERT_EQ(got.size(), fp32.size());
    float worst = 0;
    for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::fabs(got[i] - fp32[i]));
    EXPECT_LE(worst, tol * scale) << cpu::weight_format_name(f);
    EXPECT_GT(worst, 0.0f) << cpu::weight_format_name(f) << ": the reduced path did not run";
  }
  EXPECT_EQ(run(cpu::WeightFormat::kF32), fp32);
}

// The encoder of a bf16 / int8 decoding runs its projections in that format too: its maps move a
// little; a teacher-forced forward (training, scoring) stays fp32 whatever the decode format.
TEST(DecodeStep, ReducedEncoderMapsStayNearAndForwardStaysFp32) {
  auto model = model_with_seed(7, NormPlacement::kPost);
  const TokenBatch src = sources();
  const TokenBatch tgt{3, 2, {1, 4, 1, 9, 1, 10}};
  const Tensor forward32 = model->forward(src, tgt, {}).clone();
  model->start_decoding(src, 1, 2);
  const Tensor enc32 = model->attention(AttentionKind::kEncoderSelf, 1).clone();
  for (const cpu::WeightFormat f : {cpu::WeightFormat::kBf16, cpu::WeightFormat::kInt8}) {
    model->set_step_weights(f);
    model->start_decoding(src, 1, 2);
    const Tensor& enc = model->attention(AttentionKind::kEncoderSelf, 1);
    ASSERT_EQ(enc.numel(), enc32.numel());
    float worst = 0;
    for (int64_t i = 0; i < enc.numel(); ++i) worst = std::max(worst, std::fabs(enc[i] - enc32[i]));
    EXPECT_GT(worst, 0.0f) << cpu::weight_format_name(f);
    EXPECT_LT(worst, 0.05f) << cpu::weight_format_name(f);
    const Tensor& again = model->forward(src, tgt, {});
    for (int64_t i = 0; i < again.numel(); ++i)
      ASSERT_EQ(again[i], forward32[i]) << cpu::weight_format_name(f) << " logit " << i;
  }
}

TEST(BeamSearch, MaxNewTokensCapsEveryHypothesis) {
  // attnscope's rules: at most N output tokens (eos included), on top of the length ratio; the
  // capped hypotheses are the uncapped search's first N tokens (greedy).
  auto model = model_with_seed(5, NormPlacement::kPost);
  DecodeOptions free_run, capped;
  free_run.stop_at_eos = capped.stop_at_eos = false;
  capped.max_new_tokens = 3;
  for (int64_t beam : {1, 3}) {
    free_run.beam = capped.beam = beam;
    const auto all = beam_search(*model, sources(), free_run);
    const auto cut = beam_search(*model, sources(), capped);
    for (size_t b = 0; b < all.size(); ++b) {
      ASSERT_EQ(cut[b].front().tokens.size(), 3u) << beam;
      EXPECT_GT(all[b].front().tokens.size(), 3u);
      if (beam == 1) {
        EXPECT_EQ(cut[b].front().tokens, std::vector<int32_t>(all[b].front().tokens.begin(),
                                                              all[b].front().tokens.begin() + 3));
      }
    }
  }
  DecodeOptions bad;
  bad.max_new_tokens = -1;
  EXPECT_THROW(beam_search(*model, sources(), bad), Error);
}

TEST(BeamSearch, GreedyIsArgmaxAtEveryStep) {
  auto model = model_with_seed(9, NormPlacement::kPost);
  DecodeOptions opt;
  opt.beam = 1;
  const auto out = beam_search(*model, sources(), opt);
  ASSERT_EQ(out.size(), 3u);
  const ModelConfig& c = model->config();
  for (int64_t b = 0; b < 3; ++b) {
    const Hypothesis& h = out[b][0];
    // Re-run teacher-forced over bos + tokens: each token is the argmax of its position.
    TokenBatch src{1, 5, {}};
    for (int64_t j = 0; j < 5; ++j) src.ids.push_back(sources().at(b, j));
    TokenBatch tgt{1, static_cast<int64_t>(h.tokens.size()) + 1, {c.bos_id}};
    tgt.ids.insert(tgt.ids.end(), h.tokens.begin(), h.tokens.end());
    const Tensor& logits = model->forward(src, tgt, {});
    const int64_t V = logits.dim(2);
    // An unfinished hypothesis (length limit) has no prediction after its last token.
    const int64_t predicted = tgt.cols - (h.finished ? 0 : 1);
    for (int64_t t = 0; t < predicted; ++t) {
      const float* row = logits.data() + t * V;
      int64_t best = -1;
      for (int64_t v = 0; v < V; ++v)
        if (v != c.pad_id && v != c.bos_id && (best < 0 || row[v] > row[best])) best = v;
      const int32_t chosen = t < static_cast<int64_t>(h.tokens.size()) ? h.tokens[t] : c.eos_id;
      EXPECT_EQ(best, chosen) << "sentence " << b << " position " << t;
    }
  }
}

TEST(BeamSearch, BeamFindsAtLeastAsLikelyAHypothesisAsGreedy) {
  auto model = model_with_seed(21, NormPlacement::kPre);
  DecodeOptions greedy, beam;
  beam.beam = 4;
  beam.nbest = 4;
  beam.length_penalty = 0.0f;
  const auto g = beam_search(*model, sources(), greedy);
  const auto k = beam_search(*model, sources(), beam);
  for (size_t b = 0; b < 3; ++b) {
    ASSERT_FALSE(k[b].empty());
    EXPECT_GE(k[b][0].log_prob, g[b][0].log_prob - 1e-4f);
    for (size_t i = 1; i < k[b].size(); ++i) EXPECT_GE(k[b][i - 1].score, k[b][i].score);
  }
}

// Log-probability of a given output under teacher forcing, to check beam scores.
double sequence_log_prob(Transformer& m, const TokenBatch& src1, const Hypothesis& h) {
  const ModelConfig& c = m.config();
  TokenBatch tgt{1, static_cast<int64_t>(h.tokens.size()) + 1, {c.bos_id}};
  tgt.ids.insert(tgt.ids.end(), h.tokens.begin(), h.tokens.end());
  const Tensor& logits = m.forward(src1, tgt, {});
  const int64_t V = logits.dim(2);
  double total = 0;
  for (int64_t t = 0; t < tgt.cols; ++t) {
    const int32_t next = t < static_cast<int64_t>(h.tokens.size()) ? h.tokens[t] : c.eos_id;
    if (!h.finished && t == tgt.cols - 1) break;
    const float* row = logits.data() + t * V;
    double mx = row[0], s = 0;
    for (int64_t v = 0; v < V; ++v) mx = std::max<double>(mx, row[v]);
    for (int64_t v = 0; v < V; ++v) s += std::exp(row[v] - mx);
    total += row[next] - mx - std::log(s);
  }
  return total;
}

class BeamCapture : public ::testing::TestWithParam<int64_t> {};

TEST_P(BeamCapture, MapsEqualForcedForwardOverTheOutput) {
  auto model = model_with_seed(33, NormPlacement::kPost);
  DecodeOptions opt;
  opt.beam = GetParam();
  opt.nbest = GetParam();
  opt.capture.emplace();
  const TokenBatch src = sources();
  const auto out = beam_search(*model, src, opt);
  const ModelConfig& c = model->config();
  for (int64_t b = 0; b < 3; ++b) {
    TokenBatch src1{1, 0, {}};
    for (int64_t j = 0; j < 5; ++j)
      if (src.at(b, j) != c.pad_id) src1.ids.push_back(src.at(b, j));
    src1.cols = static_cast<int64_t>(src1.ids.size());
    for (const Hypothesis& h : out[b]) {
      EXPECT_NEAR(sequence_log_prob(*model, src1, h), h.log_prob, 1e-3);
      TokenBatch tgt{1, static_cast<int64_t>(h.tokens.size()) + (h.finished ? 1 : 0), {c.bos_id}};
      tgt.ids.insert(tgt.ids.end(), h.tokens.begin(), h.tokens.end());
      tgt.ids.resize(static_cast<size_t>(tgt.cols));
      model->forward(src1, tgt, {});
      const int64_t T = tgt.cols, n = src1.cols;
      for (int64_t l = 0; l < 2; ++l) {
        const Tensor& self = h.attention.decoder_self.at(l);
        const Tensor& cross = h.attention.cross.at(l);
        const Tensor& enc = h.attention.encoder_self.at(l);
        ASSERT_EQ(self.shape(), (Shape{4, T, T}));
        ASSERT_EQ(cross.shape(), (Shape{4, T, n}));
        ASSERT_EQ(enc.shape(), (Shape{4, n, n}));
        const Tensor& fs = model->attention(AttentionKind::kDecoderSelf, l);
        const Tensor& fc = model->attention(AttentionKind::kCross, l);
        const Tensor& fe = model->attention(AttentionKind::kEncoderSelf, l);
        for (int64_t i = 0; i < self.numel(); ++i) ASSERT_NEAR(self[i], fs[i], 1e-5);
        for (int64_t i = 0; i < cross.numel(); ++i) ASSERT_NEAR(cross[i], fc[i], 1e-5);
        // The batched encoder map of a padded sentence equals the unpadded one's.
        for (int64_t i = 0; i < enc.numel(); ++i) ASSERT_NEAR(enc[i], fe[i], 1e-5);
        for (int64_t hd = 0; hd < 4; ++hd)
          for (int64_t i = 0; i < T; ++i) {
            double row = 0;
            for (int64_t j = 0; j < T; ++j) {
              if (j > i) {
                EXPECT_EQ(self[(hd * T + i) * T + j], 0.0f);
              }
              row += self[(hd * T + i) * T + j];
            }
            EXPECT_NEAR(row, 1.0, 1e-5);
          }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(BeamSizes, BeamCapture, ::testing::Values(1, 4));

// Where element (e, i, j) of entry e's Kᵀ lives: column j of row i of block j / kStepKeyBlock.
int64_t kt_index(const DecoderCache& cache, int64_t e, int64_t i, int64_t j) {
  const Tensor& kt = cache.self[0].k_t;  // [entries, blocks, D, kStepKeyBlock]
  const int64_t blk = cpu::kStepKeyBlock;
  return ((e * kt.dim(1) + j / blk) * kt.dim(2) + i) * blk + j % blk;
}

// A cache of `rows` rows, one layer, d_model D, `steps` positions fed of `capacity`: element
// (r, i, j) of Kᵀ is 1000·r + 10·i + j and of V 1000·r + 100 + 10·j + i, so a value names its row.
DecoderCache numbered_cache(int64_t rows, int64_t D, int64_t steps, int64_t capacity) {
  DecoderCache cache;
  cache.rows = rows, cache.steps = steps, cache.capacity = capacity, cache.src_len = 1;
  cache.self.resize(1);
  cache.self[0].resize(rows, capacity, D);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = 0; i < D; ++i)
      for (int64_t j = 0; j < capacity; ++j)
        cache.self[0].k_t.data()[kt_index(cache, r, i, j)] =
            static_cast<float>(1000 * r + 10 * i + j);
    for (int64_t j = 0; j < capacity; ++j)
      for (int64_t i = 0; i < D; ++i)
        cache.self[0].v.data()[(r * capacity + j) * D + i] =
            static_cast<float>(1000 * r + 100 + 10 * j + i);
  }
  for (int64_t r = 0; r < rows; ++r) cache.memory_of.push_back(r);
  cache.update_memory_runs();
  cache.reset_self_runs();
  return cache;
}

// Whether row r of the cache holds, at every fed position, what row `old` of numbered_cache held.
void expect_row_continues(const DecoderCache& cache, int64_t r, int64_t old) {
  const int64_t D = cache.self[0].k_t.dim(2), cap = cache.self[0].v.dim(1);
  ASSERT_EQ(cache.self_runs.size(), static_cast<size_t>(cache.rows));
  const cpu::StepRun run = cache.self_runs[static_cast<size_t>(r)];
  ASSERT_EQ(run.first, r);
  ASSERT_EQ(run.count, 1);
  const int64_t e = run.entry;
  for (int64_t i = 0; i < D; ++i)
    for (int64_t j = 0; j < cache.steps; ++j) {
      EXPECT_EQ(cache.self[0].k_t.data()[kt_index(cache, e, i, j)],
                static_cast<float>(1000 * old + 10 * i + j))
          << "Kᵀ of row " << r << " at (" << i << ", " << j << ")";
      EXPECT_EQ(cache.self[0].v.data()[(e * cap + j) * D + i],
                static_cast<float>(1000 * old + 100 + 10 * j + i))
          << "V of row " << r << " at (" << j << ", " << i << ")";
    }
}

TEST(DecoderCacheReorder, MovesRowsKeepsIdentityAndRejectsBadRows) {
  DecoderCache cache = numbered_cache(2, 2, 2, 3);
  const float* before = cache.self[0].k_t.data();
  cache.reorder({0, 1});  // greedy: nothing moves
  EXPECT_EQ(cache.self[0].k_t.data(), before);
  expect_row_continues(cache, 0, 0);
  expect_row_continues(cache, 1, 1);
  cache.reorder({1, 1});  // both rows continue old row 1 (its fed positions 0 and 1)
  expect_row_continues(cache, 0, 1);
  expect_row_continues(cache, 1, 1);
  EXPECT_EQ(cache.memory_of, (std::vector<int64_t>{1, 1}));
  ASSERT_EQ(cache.memory_runs.size(), 1u);
  EXPECT_EQ(cache.memory_runs[0].count, 2);
  EXPECT_THROW(cache.reorder({0, 2}), Error);
  EXPECT_THROW(cache.reorder({}), Error);
}

TEST(DecoderCacheReorder, SwapsAndCyclesAreCopiedInPlaceLikeAGather) {
  // Every row is overwritten while another still continues it: the in-place copy must read each
  // row before writing it. Random backpointers, fewer rows included, against a plain gather.
  Rng rng(7);
  for (int trial = 0; trial < 300; ++trial) {
    const auto rows = static_cast<int64_t>(1 + rng.next_u64() % 7);
    const auto steps = static_cast<int64_t>(rng.next_u64() % 40);  // up to three key blocks
    const auto n = static_cast<int64_t>(1 + rng.next_u64() % static_cast<uint64_t>(rows));
    DecoderCache cache = numbered_cache(rows, 3, steps, 40 + static_cast<int64_t>(trial % 20));
    std::vector<int64_t> from(static_cast<size_t>(n));
    for (int64_t& f : from) f = static_cast<int64_t>(rng.next_u64() % static_cast<uint64_t>(rows));
    if (trial % 3 == 0)  // a permutation: cycles of rows
      for (int64_t r = 0; r < n; ++r) from[static_cast<size_t>(r)] = (r + 1 + trial) % rows;
    cache.reorder(from);
    ASSERT_EQ(cache.rows, n);
    for (int64_t r = 0; r < n; ++r) {
      SCOPED_TRACE(testing::Message() << "trial " << trial << ", row " << r);
      expect_row_continues(cache, r, from[static_cast<size_t>(r)]);
      EXPECT_EQ(cache.memory_of[static_cast<size_t>(r)], from[static_cast<size_t>(r)]);
    }
    int64_t covered = 0;  // the runs cover the rows in order, each run one sentence
    for (const cpu::StepRun& run : cache.memory_runs) {
      EXPECT_EQ(run.first, covered);
      for (int64_t r = run.first; r < run.first + run.count; ++r)
        EXPECT_EQ(cache.memory_of[static_cast<size_t>(r)], run.entry);
      covered += run.count;
    }
    EXPECT_EQ(covered, n);
  }
}

TEST(DecoderCacheReorder, RowsKeepTheirHistoriesOverManyStepsAndPermutationsCopyNothing) {
  // A search's life: every step writes a position of each row in its entry, then the rows follow
  // random backpointers (fewer rows at times, pure permutations at others). Each row must hold
  // its own history, no entry may serve two rows, and a permutation only hands entries over.
  constexpr int64_t D = 2, kCapacity = 40;
  Rng rng(11);
  for (int trial = 0; trial < 60; ++trial) {
    int64_t rows = static_cast<int64_t>(1 + rng.next_u64() % 8);
    DecoderCache cache = numbered_cache(rows, D, 0, kCapacity);
    std::vector<std::vector<float>> history(static_cast<size_t>(rows));  // per row, per position
    float tag = 0;
    for (int64_t step = 0; step < kCapacity; ++step) {
      for (int64_t r = 0; r < rows; ++r) {  // what a decode step appends at position `step`
        const int64_t e = cache.self_runs[static_cast<size_t>(r)].entry;
        tag += 1;
        for (int64_t i = 0; i < D; ++i) {
          cache.self[0].k_t.data()[kt_index(cache, e, i, step)] = tag;
          cache.self[0].v.data()[(e * kCapacity + step) * D + i] = -tag;
        }
        history[static_cast<size_t>(r)].push_back(tag);
      }
      cache.steps = step + 1;
      const bool permutation = rng.next_u64() % 3 == 0;
      const int64_t n =
          permutation ? rows
                      : static_cast<int64_t>(1 + rng.next_u64() % static_cast<uint64_t>(rows));
      std::vector<int64_t> from(static_cast<size_t>(n));
      if (permutation) {
        std::iota(from.begin(), from.end(), 0);
        for (int64_t r = n - 1; r > 0; --r)
          std::swap(from[static_cast<size_t>(r)],
                    from[rng.next_u64() % static_cast<uint64_t>(r + 1)]);
      } else {
        for (int64_t& f : from)
          f = static_cast<int64_t>(rng.next_u64() % static_cast<uint64_t>(rows));
      }
      const std::vector<float> kt_before(cache.self[0].k_t.data(),
                                         cache.self[0].k_t.data() + cache.self[0].k_t.numel());
      cache.reorder(from);
      if (permutation) {
        EXPECT_TRUE(std::equal(kt_before.begin(), kt_before.end(), cache.self[0].k_t.data()))
            << "a permutation copied keys (trial " << trial << ", step " << step << ")";
      }
      std::vector<std::vector<float>> next(static_cast<size_t>(n));
      for (int64_t r = 0; r < n; ++r)
        next[static_cast<size_t>(r)] = history[static_cast<size_t>(from[static_cast<size_t>(r)])];
      history = std::move(next);
      rows = n;
      std::vector<uint8_t> used(static_cast<size_t>(cache.self[0].v.dim(0)), 0);
      for (int64_t r = 0; r < rows; ++r) {
        const cpu::StepRun run = cache.self_runs[static_cast<size_t>(r)];
        ASSERT_EQ(run.first, r);
        ASSERT_FALSE(used[static_cast<size_t>(run.entry)]) << "entry " << run.entry << " twice";
        used[static_cast<size_t>(run.entry)] = 1;
        for (int64_t j = 0; j <= step; ++j)
          for (int64_t i = 0; i < D; ++i) {
            const float want = history[static_cast<size_t>(r)][static_cast<size_t>(j)];
            ASSERT_EQ(cache.self[0].k_t.data()[kt_index(cache, run.entry, i, j)], want)
                << "trial " << trial << ", step " << step << ", row " << r << ", position " << j;
            ASSERT_EQ(cache.self[0].v.data()[(run.entry * kCapacity + j) * D + i], -want);
          }
      }
    }
  }
}

TEST(DecoderCacheReorder, FewerRowsDropSentencesWithoutCopyingTheirMemory) {
  // Three sentences of two beams: dropping sentence 0 moves its rows' sentences along, and the
  // encoder memory (one entry per sentence) stays where it is.
  DecoderCache cache = numbered_cache(6, 2, 1, 2);
  cache.memory_of = {0, 0, 1, 1, 2, 2};
  cache.update_memory_runs();
  ASSERT_EQ(cache.memory_runs.size(), 3u);
  cache.memory.resize(1);
  cache.memory[0].resize(3, 2, 2);
  const float* memory = cache.memory[0].k_t.data();
  cache.reorder({3, 2, 4, 4});
  ASSERT_EQ(cache.rows, 4);
  EXPECT_EQ(cache.memory_of, (std::vector<int64_t>{1, 1, 2, 2}));
  ASSERT_EQ(cache.memory_runs.size(), 2u);
  EXPECT_EQ(cache.memory_runs[0].entry, 1);
  EXPECT_EQ(cache.memory_runs[1].first, 2);
  EXPECT_EQ(cache.memory_runs[1].count, 2);
  EXPECT_EQ(cache.memory[0].k_t.data(), memory);
  expect_row_continues(cache, 0, 3);
  expect_row_continues(cache, 1, 2);
  expect_row_continues(cache, 2, 4);
  expect_row_continues(cache, 3, 4);
}

// Sentences that finish early leave the batch; the others must translate exactly as alone:
// the same tokens, scores and captured maps as a batch of one.
class DropFinished : public ::testing::TestWithParam<int64_t> {};

TEST_P(DropFinished, BatchedEqualsEachSentenceAlone) {
  auto model = model_with_seed(45, NormPlacement::kPre);
  DecodeOptions opt;
  opt.beam = GetParam();
  opt.nbest = GetParam();
  opt.capture.emplace();
  opt.max_len_ratio = 3.0f;  // long limits, so sentences end at different steps by EOS
  const TokenBatch src = sources();
  const auto batched = beam_search(*model, src, opt);
  std::vector<size_t> lengths;
  for (int64_t b = 0; b < src.rows; ++b) {
    TokenBatch one{1, src.cols, {}};
    for (int64_t j = 0; j < src.cols; ++j) one.ids.push_back(src.at(b, j));
    const auto alone = beam_search(*model, one, opt);
    ASSERT_EQ(alone[0].size(), batched[b].size()) << b;
    for (size_t i = 0; i < alone[0].size(); ++i) {
      const Hypothesis &x = alone[0][i], &y = batched[b][i];
      EXPECT_EQ(x.tokens, y.tokens) << b << " " << i;
      EXPECT_NEAR(x.log_prob, y.log_prob, 1e-4) << b << " " << i;
      ASSERT_EQ(x.attention.cross.size(), y.attention.cross.size());
      for (size_t l = 0; l < x.attention.cross.size(); ++l) {
        const Tensor &xs = x.attention.decoder_self[l], &ys = y.attention.decoder_self[l];
        const Tensor &xc = x.attention.cross[l], &yc = y.attention.cross[l];
        ASSERT_EQ(xs.shape(), ys.shape());
        ASSERT_EQ(xc.shape(), yc.shape());
        for (int64_t e = 0; e < xs.numel(); ++e) ASSERT_NEAR(xs[e], ys[e], 1e-5);
        for (int64_t e = 0; e < xc.numel(); ++e) ASSERT_NEAR(xc[e], yc[e], 1e-5);
      }
    }
    lengths.push_back(batched[b][0].tokens.size() + (batched[b][0].finished ? 1 : 0));
  }
  // The case is only worth its name if sentences finished at different steps.
  EXPECT_NE(*std::min_element(lengths.begin(), lengths.end()),
            *std::max_element(lengths.begin(), lengths.end()));
}

INSTANTIATE_TEST_SUITE_P(BeamSizes, DropFinished, ::testing::Values(1, 4));

}  // namespace
}  // namespace attnscope

namespace attnscope {
namespace {

TEST(CaptureSpec, SelectionAndReductionsEqualTheFullCapture) {
  auto model = model_with_seed(33, NormPlacement::kPost);
  DecodeOptions full;
  full.beam = 2;
  full.capture.emplace();
  const auto all = beam_search(*model, sources(), full);
  auto run = [&](CaptureReduction r) {
    DecodeOptions o;
    o.beam = 2;
    o.capture.emplace();
    o.capture->kinds = {AttentionKind::kCross, AttentionKind::kEncoderSelf};
    o.capture->layers = {1};
    o.capture->heads = {1, 3};
    o.capture->reduction = r;
    return beam_search(*model, sources(), o);
  };
  const auto sel = run(CaptureReduction::kNone);
  const auto mean = run(CaptureReduction::kMeanHeads);
  const auto mx = run(CaptureReduction::kMaxHeads);
  const auto last = run(CaptureReduction::kLastRow);
  for (size_t b = 0; b < 3; ++b) {
    const HypothesisAttention& A = all[b][0].attention;
    ASSERT_EQ(sel[b][0].tokens, all[b][0].tokens);
    const HypothesisAttention& S = sel[b][0].attention;
    EXPECT_TRUE(S.decoder_self.empty());
    ASSERT_EQ(S.cross.size(), 1u);
    ASSERT_EQ(S.encoder_self.size(), 1u);
    EXPECT_EQ(S.decoder_layers, (std::vector<int64_t>{1}));
    EXPECT_EQ(S.heads, (std::vector<int64_t>{1, 3}));
    const Tensor& full_cross = A.cross[1];  // [4, T, n]
    const int64_t T = full_cross.dim(1), n = full_cross.dim(2);
    ASSERT_EQ(S.cross[0].shape(), (Shape{2, T, n}));
    ASSERT_EQ(mean[b][0].attention.cross[0].shape(), (Shape{1, T, n}));
    ASSERT_EQ(last[b][0].attention.cross[0].shape(), (Shape{2, 1, n}));
    for (int64_t t = 0; t < T; ++t)
      for (int64_t j = 0; j < n; ++j) {
        const float h1 = full_cross[(1 * T + t) * n + j], h3 = full_cross[(3 * T + t) * n + j];
        EXPECT_FLOAT_EQ(S.cross[0][(0 * T + t) * n + j], h1);
        EXPECT_FLOAT_EQ(S.cross[0][(1 * T + t) * n + j], h3);
        EXPECT_FLOAT_EQ(mean[b][0].attention.cross[0][t * n + j], 0.5f * (h1 + h3));
        EXPECT_FLOAT_EQ(mx[b][0].attention.cross[0][t * n + j], std::max(h1, h3));
        if (t == T - 1) {
          EXPECT_FLOAT_EQ(last[b][0].attention.cross[0][n + j], h3);
        }
      }
  }
}

// A model that ranks on its own side, as a device model does (ModelInfo::on_device): beam search
// then asks it for each row's 2·K best tokens (decode_step_topk, here the default one over the
// CPU Transformer) instead of scanning every logit. Both ways must give the same hypotheses.
class RanksOnTheModel : public Seq2SeqModel {
 public:
  explicit RanksOnTheModel(Transformer& m) : m_(m) {}
  int topk_steps = 0;
  ModelInfo info() const override {
    ModelInfo i = m_.info();
    i.on_device = true;
    return i;
  }
  const ArchConfig& config() const override { return m_.config(); }
  void init_weights(uint64_t seed) override { m_.init_weights(seed); }
  void visit_params(const ParamVisitor& f) override { m_.visit_params(f); }
  int64_t num_params() override { return m_.num_params(); }
  void alloc_grads() override { m_.alloc_grads(); }
  void zero_grads() override { m_.zero_grads(); }
  const Tensor& forward(const TokenBatch& s, const TokenBatch& t,
                        const ForwardOptions& o) override {
    return m_.forward(s, t, o);
  }
  void backward(const Tensor& d) override { m_.backward(d); }
  const Tensor& attention(AttentionKind k, int64_t l) const override { return m_.attention(k, l); }
  int64_t num_layers(AttentionKind k) const override { return m_.num_layers(k); }
  std::unique_ptr<DecoderState> start_decoding(const TokenBatch& s, int64_t e, int64_t n) override {
    return m_.start_decoding(s, e, n);
  }
  const Tensor& decode_step(DecoderState& st, const std::vector<int32_t>& t) override {
    return m_.decode_step(st, t);
  }
  void decode_step_topk(DecoderState& st, const std::vector<int32_t>& t, const StepTopKRequest& r,
                        StepTopK& out) override {
    ++topk_steps;
    Seq2SeqModel::decode_step_topk(st, t, r, out);
  }

 private:
  Transformer& m_;
};

void expect_same_hypotheses(const std::vector<std::vector<Hypothesis>>& a,
                            const std::vector<std::vector<Hypothesis>>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t s = 0; s < a.size(); ++s) {
    ASSERT_EQ(a[s].size(), b[s].size()) << s;
    for (size_t i = 0; i < a[s].size(); ++i) {
      const Hypothesis &x = a[s][i], &y = b[s][i];
      EXPECT_EQ(x.tokens, y.tokens) << s << " " << i;
      EXPECT_EQ(x.log_prob, y.log_prob) << s << " " << i;
      EXPECT_EQ(x.score, y.score) << s << " " << i;
      EXPECT_EQ(x.finished, y.finished) << s << " " << i;
      const auto same = [&](const std::vector<Tensor>& p, const std::vector<Tensor>& q) {
        ASSERT_EQ(p.size(), q.size());
        for (size_t l = 0; l < p.size(); ++l) {
          ASSERT_EQ(p[l].shape(), q[l].shape());
          for (int64_t e = 0; e < p[l].numel(); ++e) ASSERT_EQ(p[l][e], q[l][e]);
        }
      };
      same(x.attention.encoder_self, y.attention.encoder_self);
      same(x.attention.decoder_self, y.attention.decoder_self);
      same(x.attention.cross, y.attention.cross);
    }
  }
}

TEST(BeamSearch, RankingOnTheModelEqualsScanningEveryLogit) {
  for (NormPlacement norm : {NormPlacement::kPost, NormPlacement::kPre}) {
    auto model = model_with_seed(45, norm);
    RanksOnTheModel ranked(*model);
    for (const int64_t beam : {1, 3, 4}) {
      for (const bool stop_at_eos : {true, false}) {
        DecodeOptions o;
        o.beam = beam;
        o.nbest = beam;
        o.max_len_ratio = 3.0f;  // sentences end at different steps (rows leave the batch)
        o.stop_at_eos = stop_at_eos;
        o.capture.emplace();
        if (beam == 3) {
          o.capture->heads = {2, 0};
          o.capture->reduction = CaptureReduction::kMeanHeads;
        }
        SCOPED_TRACE("beam " + std::to_string(beam) + (stop_at_eos ? "" : ", no eos"));
        const int before = ranked.topk_steps;
        const auto scanned = beam_search(*model, sources(), o);
        const auto topk = beam_search(ranked, sources(), o);
        EXPECT_GT(ranked.topk_steps, before);
        expect_same_hypotheses(scanned, topk);
      }
    }
  }
}

TEST(DecodeStepTopK, BestFirstTiesToTheSmallerIdBannedSkipped) {
  auto model = model_with_seed(9, NormPlacement::kPost);
  auto state = model->start_decoding(sources(), 2, 4);
  const std::vector<int32_t> feed(6, 1);
  StepTopKRequest req;
  req.offsets = {0.0f, -1.0f, 0.5f, 0.0f, -2.0f, 0.25f};
  req.k = 5;
  req.banned = {0, 1, 2};
  StepTopK top;
  model->decode_step_topk(*state, feed, req, top);
  ASSERT_EQ(top.k, 5);
  // The same step's logits, for the expected ranking.
  auto again = model->start_decoding(sources(), 2, 4);
  const Tensor logits = model->decode_step(*again, feed).clone();
  const int64_t V = logits.dim(1);
  for (int64_t r = 0; r < 6; ++r) {
    const float* row = logits.data() + r * V;
    double mx = row[0], sum = 0;
    for (int64_t v = 0; v < V; ++v) mx = std::max<double>(mx, row[v]);
    for (int64_t v = 0; v < V; ++v) sum += std::exp(row[v] - mx);
    std::vector<std::pair<double, int32_t>> all;
    for (int32_t v = 3; v < V; ++v)
      all.emplace_back(req.offsets[r] + row[v] - mx - std::log(sum), v);
    std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
      return a.first > b.first || (a.first == b.first && a.second < b.second);
    });
    for (int64_t i = 0; i < 5; ++i) {
      EXPECT_EQ(top.ids[r * 5 + i], all[i].second) << r << " " << i;
      EXPECT_NEAR(top.values[r * 5 + i], all[i].first, 1e-5) << r << " " << i;
    }
  }
  req.k = 20;  // more than the 8 selectable tokens: −1 / −∞ after them
  auto third = model->start_decoding(sources(), 2, 4);
  model->decode_step_topk(*third, feed, req, top);
  EXPECT_GE(top.ids[7], 3);
  EXPECT_EQ(top.ids[8], -1);
  EXPECT_EQ(top.values[19], -std::numeric_limits<float>::infinity());
}

// The layers of each kind are consecutive slices of one block, so the Python module hands a
// kind out as one [layers, H, Tq, Tk] array without copying; the last-row capture of the
// encoder is the full map's last row.
TEST(CaptureSpec, EachKindsLayersAreOneBlock) {
  auto model = model_with_seed(33, NormPlacement::kPost);
  DecodeOptions o;
  o.beam = 3;
  o.nbest = 2;
  o.capture.emplace();
  const auto all = beam_search(*model, sources(), o);
  o.capture->reduction = CaptureReduction::kLastRow;
  const auto last = beam_search(*model, sources(), o);
  for (size_t b = 0; b < 3; ++b) {
    for (const Hypothesis& h : all[b]) {
      for (const auto* maps :
           {&h.attention.encoder_self, &h.attention.decoder_self, &h.attention.cross}) {
        ASSERT_EQ(maps->size(), 2u);
        EXPECT_EQ((*maps)[1].shape(), (*maps)[0].shape());
        EXPECT_EQ((*maps)[1].data(), (*maps)[0].data() + (*maps)[0].numel());
      }
    }
    const Tensor& enc = all[b][0].attention.encoder_self[1];  // [4, n, n]
    const Tensor& enc_last = last[b][0].attention.encoder_self[1];
    const int64_t n = enc.dim(1);
    ASSERT_EQ(enc_last.shape(), (Shape{4, 1, n}));
    EXPECT_EQ(enc_last.data(), last[b][0].attention.encoder_self[0].data() + 4 * n);
    for (int64_t h = 0; h < 4; ++h)
      for (int64_t j = 0; j < n; ++j) EXPECT_EQ(enc_last[h * n + j], enc[(h * n + n - 1) * n + j]);
  }
}

TEST(CaptureSpec, BadSelectionsAreErrors) {
  auto model = model_with_seed(33, NormPlacement::kPost);
  DecodeOptions o;
  o.capture.emplace();
  o.capture->heads = {4};
  EXPECT_THROW(beam_search(*model, sources(), o), Error);
  o.capture->heads = {};
  o.capture->layers = {5};
  EXPECT_THROW(beam_search(*model, sources(), o), Error);
  EXPECT_THROW(parse_kinds("cross,decoder"), Error);
  EXPECT_THROW(parse_indices("0,x", "--layers"), Error);
  EXPECT_THROW(parse_reduction("median"), Error);
}

// The search ranks raw logits with each row's log-sum-exp (no log-softmaxed copy of [R, V]) and
// passes over blocks of tokens that cannot enter its list: every step must equal the scan of the
// log-softmaxed rows, on a vocabulary wide enough for many blocks, with ties, −∞ and a
// row with a NaN logit.
TEST(SentenceSearch, RankingLogitsWithTheirLogSumExpEqualsTheLogSoftmaxedScan) {
  ModelInfo info;
  info.tgt_vocab = 1000;
  info.pad_id = 0, info.bos_id = 1, info.eos_id = 2, info.decoder_start_id = 1;
  const int64_t V = info.tgt_vocab;
  for (const int64_t beam : {1, 4}) {
    for (const bool stop_at_eos : {true, false}) {
      SCOPED_TRACE("beam " + std::to_string(beam) + (stop_at_eos ? "" : ", no eos"));
      DecodeOptions o;
      o.beam = beam;
      o.nbest = beam;
      o.stop_at_eos = stop_at_eos;
      const int64_t limit = 30;
      auto scan = attnscope_search(o, info, limit), ranked = attnscope_search(o, info, limit);
      Rng rng(77 + static_cast<uint64_t>(beam));
      for (int64_t t = 0; t < limit; ++t) {
        std::vector<float> logits(static_cast<size_t>(beam * V));
        // Steps of 1/16: many equal values, and the kept list's worst is often only a step or
        // two below the best of a block (a block passed over by mistake changes the step).
        for (float& x : logits) x = std::round(48.0f * rng.normal()) / 16.0f;
        logits[5] = logits[6];  // a tie
        logits[7] = -std::numeric_limits<float>::infinity();
        if (beam > 1)  // the last row's lse is NaN: every continuation of it scores NaN
          logits[static_cast<size_t>((beam - 1) * V + 9)] = std::numeric_limits<float>::quiet_NaN();
        if (t % 8 == 7) logits[2] = 14.0f;  // eos wins now and then
        std::vector<float> logp(logits.size()), lse(static_cast<size_t>(beam));
        cpu::log_softmax_forward(logits.data(), logp.data(), beam, V);
        for (int64_t k = 0; k < beam; ++k) lse[k] = cpu::row_log_sum_exp(logits.data() + k * V, V);
        SearchStep a, b;
        scan->step(logp.data(), V, t, a);
        ranked->step_logits(logits.data(), lse.data(), V, t, b);
        ASSERT_EQ(a.from, b.from) << "step " << t;
        ASSERT_EQ(a.feed, b.feed) << "step " << t;
        ASSERT_EQ(a.done, b.done) << "step " << t;
        if (a.done) break;
      }
      const auto x = scan->results(beam), y = ranked->results(beam);
      ASSERT_EQ(x.size(), y.size());
      for (size_t i = 0; i < x.size(); ++i) {
        EXPECT_EQ(x[i].hyp.tokens, y[i].hyp.tokens);
        EXPECT_EQ(x[i].step, y[i].step);
        EXPECT_EQ(x[i].row, y[i].row);
        // Bit for bit (NaN included: a NaN row scores NaN in both).
        EXPECT_EQ(std::bit_cast<uint32_t>(x[i].hyp.log_prob),
                  std::bit_cast<uint32_t>(y[i].hyp.log_prob));
        EXPECT_EQ(std::bit_cast<uint32_t>(x[i].hyp.score), std::bit_cast<uint32_t>(y[i].hyp.score));
      }
    }
  }
}

}  // namespace
}  // namespace attnscope

// The decode-step attention (cpu::attention_step_forward): Kᵀ read in place, runs of rows that
// share a cache entry. Every row and head against the reference (ref::attention_forward, one query
// at a time), for runs longer than a register block, d_k and d_v that are not whole vectors,
// padding, an entry whose keys are all masked, non-finite garbage in the unused Kᵀ columns, every
// SIMD instruction set; outputs outside the rows' columns stay untouched; the argument checks.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/rng.h"
#include "grad_check.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/attention_tiles.h"
#include "kernels/ref/attention.h"

namespace attnscope {
namespace {

using test::random_vector;

struct StepCase {
  std::string name;
  std::vector<int64_t> run_lengths;  // consecutive rows per run; run i reads entry (i·3) % entries
  int64_t entries, H, Tk, d_k, d_v;
  bool padding;  // random padding; entry 1 (when there is one) fully masked
};

const std::vector<StepCase> kStepCases = {
    {"greedy_self", {1, 1, 1, 1, 1}, 5, 2, 9, 16, 16, false},
    {"one_key", {1, 1}, 2, 3, 1, 8, 8, false},
    {"beams_share_memory", {4, 4, 4}, 3, 2, 33, 16, 16, true},
    {"long_runs", {9, 3, 17}, 4, 1, 40, 32, 32, true},
    {"odd_widths", {2, 5, 1}, 3, 2, 21, 7, 5, true},
    {"many_keys", {3, 1}, 2, 2, 300, 16, 24, true},
};

void check_step(const StepCase& c, bool with_probs) {
  SCOPED_TRACE(c.name);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float kSentinel = -7.5e29f;
  int64_t rows = 0;
  std::vector<cpu::StepRun> runs;
  for (size_t i = 0; i < c.run_lengths.size(); ++i) {
    runs.push_back(cpu::StepRun{rows, c.run_lengths[i], static_cast<int64_t>(i * 3) % c.entries});
    rows += c.run_lengths[i];
  }
  const int64_t H = c.H, Tk = c.Tk, dk = c.d_k, dv = c.d_v;
  const int64_t ldq = H * dk + 3, ldv = H * dv + 2, ldo = H * dv + 5;
  const int64_t blk = cpu::kStepKeyBlock, blocks = (Tk + blk - 1) / blk;
  const int64_t kt_block = H * dk * blk + 7, kt_entry = blocks * kt_block + 3;  // with slack
  const std::vector<float> q = random_vector<float>(rows * ldq, 11);
  const std::vector<float> k = random_vector<float>(c.entries * Tk * H * dk, 12);  // [E, Tk, H·dk]
  const std::vector<float> v = random_vector<float>(c.entries * Tk * ldv, 13);     // [E, Tk, ldv]
  // Kᵀ in blocks, NaN and ∞ in the columns past Tk of the last block: they must be masked, not
  // weighted.
  std::vector<float> kt(static_cast<size_t>(c.entries * kt_entry), nan);
  for (int64_t e = 0; e < c.entries; ++e)
    for (int64_t i = 0; i < H * dk; ++i)
      for (int64_t j = 0; j < blocks * blk; ++j)
        kt[e * kt_entry + (j / blk) * kt_block + i * blk + j % blk] =
            j < Tk ? k[(e * Tk + j) * H * dk + i]
                   : (j % 2 ? nan : std::numeric_limits<float>::infinity());
  std::vector<uint8_t> pad(static_cast<size_t>(c.entries * Tk), 0);
  if (c.padding) {
    Rng rng(5);
    for (auto& p : pad) p = rng.uniform() < 0.3f ? 1 : 0;
    if (c.entries > 1) std::fill(pad.begin() + Tk, pad.begin() + 2 * Tk, 1);
  }
  std::vector<float> v_mut = v;
  std::vector<float> out(static_cast<size_t>(rows * ldo), kSentinel);
  std::vector<float> probs(static_cast<size_t>(rows * H * Tk), kSentinel);

  cpu::StepAttention a;
  a.rows = rows, a.H = H, a.Tk = Tk, a.d_k = dk, a.d_v = dv, a.entries = c.entries;
  a.scale = 1.0f / std::sqrt(static_cast<float>(dk));
  a.q = q.data(), a.ldq = ldq;
  a.kt = kt.data(), a.kt_entry = kt_entry, a.kt_block = kt_block;
  a.v = v_mut.data(), a.v_entry = Tk * ldv, a.ldv = ldv;
  a.key_padding = c.padding ? pad.data() : nullptr;
  a.out = out.data(), a.ldo = ldo;
  a.probs = with_probs ? probs.data() : nullptr;
  cpu::attention_step_forward(a, runs);

  cpu::AttentionShape s;
  s.B = 1, s.H = 1, s.Tq = 1, s.Tk = Tk, s.d_k = dk, s.d_v = dv, s.scale = a.scale;
  std::vector<float> rq(static_cast<size_t>(dk)), rk(static_cast<size_t>(Tk * dk)),
      rv(static_cast<size_t>(Tk * dv)), rout(static_cast<size_t>(dv)), rp(static_cast<size_t>(Tk));
  for (const cpu::StepRun& run : runs)
    for (int64_t r = run.first; r < run.first + run.count; ++r)
      for (int64_t h = 0; h < H; ++h) {
        SCOPED_TRACE(testing::Message() << "row " << r << ", head " << h);
        const int64_t e = run.entry;
        for (int64_t i = 0; i < dk; ++i) rq[i] = q[r * ldq + h * dk + i];
        for (int64_t j = 0; j < Tk; ++j) {
          for (int64_t i = 0; i < dk; ++i) rk[j * dk + i] = k[(e * Tk + j) * H * dk + h * dk + i];
          for (int64_t i = 0; i < dv; ++i) rv[j * dv + i] = v[(e * Tk + j) * ldv + h * dv + i];
        }
        s.key_padding = c.padding ? pad.data() + e * Tk : nullptr;
        ref::attention_forward(s, rq.data(), rk.data(), rv.data(), rout.data(), rp.data());
        for (int64_t i = 0; i < dv; ++i) {
          ASSERT_NEAR(out[r * ldo + h * dv + i], rout[i], 2e-5f) << "out column " << i;
        }
        if (!with_probs) continue;
        for (int64_t j = 0; j < Tk; ++j) {
          ASSERT_NEAR(probs[(r * H + h) * Tk + j], rp[j], 2e-6f) << "weight " << j;
        }
      }
  for (int64_t r = 0; r < rows; ++r)  // columns past the heads are not the kernel's
    for (int64_t i = H * dv; i < ldo; ++i) {
      EXPECT_EQ(out[r * ldo + i], kSentinel);
    }
  if (!with_probs) {
    for (float p : probs) ASSERT_EQ(p, kSentinel);
  }
}

TEST(AttentionStep, EveryRowAndHeadMatchesRef) {
  for (const auto& c : kStepCases) {
    check_step(c, true);
    check_step(c, false);
  }
}

// A self-attention step: with new_k / new_v, each row writes its key and value at position Tk − 1
// and attends over 0..Tk−1 — the same as writing them first and attending without.
TEST(AttentionStep, AppendingInThePassEqualsWritingFirst) {
  const int64_t rows = 3, H = 2, Tk = 18, d = 16, ld = H * d, blk = cpu::kStepKeyBlock;
  const int64_t kt_block = ld * blk, kt_entry = 2 * kt_block;
  const std::vector<float> q = random_vector<float>(rows * ld, 1);
  const std::vector<float> fresh = random_vector<float>(rows * 2 * ld, 4);  // [rows, K | V]
  std::vector<float> kt = random_vector<float>(rows * kt_entry, 2);
  std::vector<float> v = random_vector<float>(rows * Tk * ld, 3);
  std::vector<float> kt2 = kt, v2 = v;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < ld; ++i) {
      kt2[r * kt_entry + ((Tk - 1) / blk) * kt_block + i * blk + (Tk - 1) % blk] =
          fresh[r * 2 * ld + i];
      v2[(r * Tk + Tk - 1) * ld + i] = fresh[r * 2 * ld + ld + i];
    }
  std::vector<float> out1(static_cast<size_t>(rows * ld)), out2(out1.size()),
      p1(static_cast<size_t>(rows * H * Tk)), p2(p1.size());
  cpu::StepAttention a;
  a.rows = rows, a.H = H, a.Tk = Tk, a.d_k = d, a.d_v = d, a.entries = rows, a.scale = 0.25f;
  a.q = q.data(), a.ldq = ld, a.kt = kt.data(), a.kt_entry = kt_entry, a.kt_block = kt_block;
  a.v = v.data(), a.v_entry = Tk * ld, a.ldv = ld, a.out = out1.data(), a.ldo = ld;
  a.probs = p1.data();
  a.new_k = fresh.data(), a.new_v = fresh.data() + ld, a.ld_new = 2 * ld;
  const std::vector<cpu::StepRun> runs = {{0, 1, 0}, {1, 1, 1}, {2, 1, 2}};
  cpu::attention_step_forward(a, runs);
  EXPECT_EQ(kt, kt2);
  EXPECT_EQ(v, v2);
  a.kt = kt2.data(), a.v = v2.data(), a.new_k = a.new_v = nullptr;
  a.out = out2.data(), a.probs = p2.data();
  cpu::attention_step_forward(a, runs);
  EXPECT_EQ(out1, out2);
  EXPECT_EQ(p1, p2);
  // Two rows writing one entry would race: refused.
  a.new_k = fresh.data(), a.new_v = fresh.data() + ld;
  EXPECT_THROW(cpu::attention_step_forward(a, {{0, 2, 0}, {2, 1, 2}}), Error);
  EXPECT_THROW(cpu::attention_step_forward(a, {{0, 1, 0}, {1, 1, 0}, {2, 1, 2}}), Error);
}

TEST(AttentionStep, OutputIsTheSameWithAndWithoutWeights) {
  const int64_t rows = 6, H = 2, Tk = 19, d = 16, ld = H * d, blk = cpu::kStepKeyBlock;
  const int64_t kt_block = ld * blk, kt_entry = 2 * kt_block;
  const std::vector<float> q = random_vector<float>(rows * ld, 1);
  std::vector<float> kt = random_vector<float>(2 * kt_entry, 2);
  std::vector<float> v = random_vector<float>(2 * Tk * ld, 3);
  std::vector<float> out1(static_cast<size_t>(rows * ld)), out2(out1.size()),
      probs(static_cast<size_t>(rows * H * Tk));
  cpu::StepAttention a;
  a.rows = rows, a.H = H, a.Tk = Tk, a.d_k = d, a.d_v = d, a.entries = 2, a.scale = 0.25f;
  a.q = q.data(), a.ldq = ld, a.kt = kt.data(), a.kt_entry = kt_entry, a.kt_block = kt_block;
  a.v = v.data(), a.v_entry = Tk * ld, a.ldv = ld, a.out = out1.data(), a.ldo = ld;
  a.probs = probs.data();
  const std::vector<cpu::StepRun> runs = {{0, 4, 1}, {4, 2, 0}};
  cpu::attention_step_forward(a, runs);
  a.out = out2.data(), a.probs = nullptr;
  cpu::attention_step_forward(a, runs);
  EXPECT_EQ(out1, out2);
}

class AttentionStepSimdTest : public ::testing::TestWithParam<std::string> {};

TEST_P(AttentionStepSimdTest, EveryCaseMatchesRef) {
  struct Restore {
    ~Restore() { cpu::force_attention_simd_target(""); }
  } restore;
  ASSERT_TRUE(cpu::force_attention_simd_target(GetParam()));
  for (const auto& c : kStepCases) check_step(c, true);
}

INSTANTIATE_TEST_SUITE_P(Targets, AttentionStepSimdTest,
                         ::testing::ValuesIn(cpu::attention_simd_targets()),
                         [](const auto& p) { return p.param; });

TEST(AttentionStep, RejectsBadRunsAndStrides) {
  std::vector<float> q(4 * 8), kt(2 * 8 * 16), v(2 * 3 * 8), out(4 * 8);
  cpu::StepAttention a;
  a.rows = 4, a.H = 2, a.Tk = 3, a.d_k = 4, a.d_v = 4, a.entries = 2;
  a.q = q.data(), a.ldq = 8, a.kt = kt.data(), a.kt_entry = 8 * 16, a.kt_block = 8 * 16;
  a.v = v.data(), a.v_entry = 3 * 8, a.ldv = 8, a.out = out.data(), a.ldo = 8;
  EXPECT_NO_THROW(cpu::attention_step_forward(a, {{0, 2, 0}, {2, 2, 1}}));
  EXPECT_THROW(cpu::attention_step_forward(a, {{0, 2, 0}}), Error);             // rows 2, 3 missing
  EXPECT_THROW(cpu::attention_step_forward(a, {{0, 2, 0}, {1, 3, 1}}), Error);  // overlap
  EXPECT_THROW(cpu::attention_step_forward(a, {{0, 2, 0}, {2, 2, 2}}), Error);  // no entry 2
  EXPECT_THROW(cpu::attention_step_forward(a, {{0, 0, 0}, {0, 4, 1}}), Error);  // empty run
  a.kt_block = 8 * 16 - 1;  // a block smaller than H·d_k rows of kStepKeyBlock keys
  EXPECT_THROW(cpu::attention_step_forward(a, {{0, 4, 0}}), Error);
  a.kt_block = 8 * 16, a.ldo = 7;  // rows would overlap
  EXPECT_THROW(cpu::attention_step_forward(a, {{0, 4, 0}}), Error);
  a.ldo = 8, a.new_k = q.data();  // a key without its value
  EXPECT_THROW(cpu::attention_step_forward(a, {{0, 4, 0}}), Error);
}

}  // namespace
}  // namespace attnscope

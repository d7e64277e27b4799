// Attention rollout: identity stays identity, a hand-computed two-layer case (which also fixes
// the order of the product and the mean over heads), no residual = the plain product, batches,
// rows that sum to 1, and errors.
#include "inspect/rollout.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "core/rng.h"

namespace attnscope {
namespace {

void expect_tensor(const Tensor& t, const Shape& shape, const std::vector<float>& values,
                   float tol = 1e-6f) {
  ASSERT_EQ(t.shape(), shape);
  for (size_t i = 0; i < values.size(); ++i) EXPECT_NEAR(t[i], values[i], tol) << "at " << i;
}

Tensor identity_heads(int64_t H, int64_t T) {
  Tensor t({H, T, T});
  for (int64_t h = 0; h < H; ++h)
    for (int64_t i = 0; i < T; ++i) t[(h * T + i) * T + i] = 1;
  return t;
}

TEST(Rollout, IdentityMapsGiveIdentity) {
  const Tensor I = identity_heads(3, 4);
  for (size_t layers : {1u, 2u, 5u}) {
    const Tensor r = attention_rollout(std::vector<Tensor>(layers, I));
    ASSERT_EQ(r.shape(), (Shape{4, 4}));
    for (int64_t i = 0; i < 4; ++i)
      for (int64_t j = 0; j < 4; ++j) EXPECT_FLOAT_EQ(r[i * 4 + j], i == j ? 1.0f : 0.0f);
  }
}

// Layer 1: heads [[1,0],[0,1]] and [[1,0],[1,0]] → mean A1 = [[1,0],[0.5,0.5]].
// Layer 2: two equal heads A2 = [[0.5,0.5],[0,1]].
std::vector<Tensor> two_layers() {
  return {Tensor::from({2, 2, 2}, {1, 0, 0, 1, 1, 0, 1, 0}),
          Tensor::from({2, 2, 2}, {0.5f, 0.5f, 0, 1, 0.5f, 0.5f, 0, 1})};
}

TEST(Rollout, HandComputedTwoLayers) {
  // Ã1 = 0.5·A1 + 0.5·I = [[1, 0], [0.25, 0.75]];  Ã2 = [[0.75, 0.25], [0, 1]]
  // R = Ã2·Ã1 = [[0.75 + 0.0625, 0.1875], [0.25, 0.75]]  (Ã1·Ã2 would be [[.75,.25],[.1875,.8125]])
  expect_tensor(attention_rollout(two_layers()), {2, 2}, {0.8125f, 0.1875f, 0.25f, 0.75f});
  // No residual: R = A2·A1 = [[0.75, 0.25], [0.5, 0.5]]
  expect_tensor(attention_rollout(two_layers(), 0.0f), {2, 2}, {0.75f, 0.25f, 0.5f, 0.5f});
  // Only the residual: the identity, whatever the maps.
  expect_tensor(attention_rollout(two_layers(), 1.0f), {2, 2}, {1, 0, 0, 1});
  // One layer: Ã1 itself.
  expect_tensor(attention_rollout({two_layers()[0]}), {2, 2}, {1, 0, 0.25f, 0.75f});
}

Tensor random_maps(Rng& rng, Shape shape, bool causal) {
  Tensor t(shape);
  const int64_t T = shape.back(), rows = t.numel() / T;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t i = r % T;
    double sum = 0;
    for (int64_t j = 0; j < T; ++j) {
      const float v = causal && j > i ? 0.0f : static_cast<float>(rng.uniform()) + 0.01f;
      t[r * T + j] = v;
      sum += v;
    }
    for (int64_t j = 0; j < T; ++j) t[r * T + j] = static_cast<float>(t[r * T + j] / sum);
  }
  return t;
}

TEST(Rollout, BatchEqualsEachItemAndRowsSumToOne) {
  Rng rng(7);
  const int64_t B = 3, H = 2, T = 5;
  std::vector<Tensor> batched;
  for (int l = 0; l < 3; ++l) batched.push_back(random_maps(rng, {B, H, T, T}, l == 1));
  // A padded query row of item 2, layer 0: all weights zero.
  for (int64_t h = 0; h < H; ++h)
    for (int64_t j = 0; j < T; ++j) batched[0][((2 * H + h) * T + 4) * T + j] = 0;
  const Tensor r = attention_rollout(batched);
  ASSERT_EQ(r.shape(), (Shape{B, T, T}));
  for (int64_t b = 0; b < B; ++b) {
    std::vector<Tensor> item;
    for (const Tensor& l : batched) {
      Tensor one({H, T, T});
      std::copy_n(l.data() + b * H * T * T, H * T * T, one.data());
      item.push_back(one);
    }
    const Tensor ri = attention_rollout(item);
    for (int64_t k = 0; k < T * T; ++k) EXPECT_NEAR(r[b * T * T + k], ri[k], 1e-6);
    for (int64_t i = 0; i < T; ++i) {
      double sum = 0;
      for (int64_t j = 0; j < T; ++j) sum += r[(b * T + i) * T + j];
      EXPECT_NEAR(sum, 1.0, 1e-5) << b << " " << i;
    }
  }
}

TEST(Rollout, DecoderRolloutStaysCausal) {
  Rng rng(3);
  const std::vector<Tensor> maps = {random_maps(rng, {2, 4, 4}, true),
                                    random_maps(rng, {2, 4, 4}, true)};
  HypothesisAttention a;
  a.decoder_self = maps;
  const Tensor r = decoder_rollout(a);
  ASSERT_EQ(r.shape(), (Shape{4, 4}));
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t j = 0; j < 4; ++j) {
      if (j > i) {
        EXPECT_EQ(r[i * 4 + j], 0.0f);
      } else {
        EXPECT_GT(r[i * 4 + j], 0.0f);
      }
    }
  // Row 0 can only see itself.
  EXPECT_FLOAT_EQ(r[0], 1.0f);
  const Tensor direct = attention_rollout(maps);
  for (int64_t k = 0; k < 16; ++k) EXPECT_EQ(r[k], direct[k]);
  a.encoder_self = {identity_heads(1, 3)};
  expect_tensor(encoder_rollout(a), {3, 3}, {1, 0, 0, 0, 1, 0, 0, 0, 1});
}

TEST(Rollout, Errors) {
  EXPECT_THROW(attention_rollout({}), Error);
  EXPECT_THROW(attention_rollout({Tensor({2, 3, 4})}), Error);  // not square
  EXPECT_THROW(attention_rollout({Tensor({3, 3})}), Error);     // no head axis
  EXPECT_THROW(attention_rollout({Tensor({1, 3, 3}), Tensor({1, 4, 4})}), Error);
  EXPECT_THROW(attention_rollout({identity_heads(1, 2)}, 1.5f), Error);
  HypothesisAttention a;
  EXPECT_THROW(encoder_rollout(a), Error);
  a.decoder_self = {Tensor({2, 1, 4})};  // only the last row was captured
  EXPECT_THROW(decoder_rollout(a), Error);
}

}  // namespace
}  // namespace attnscope

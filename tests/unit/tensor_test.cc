// Tensor's storage sharing: copies and views share, clone copies, slice(i) is one entry of the
// first axis that keeps the whole block alive.
#include "core/tensor.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace attnscope {
namespace {

TEST(Tensor, SliceSharesTheBlockAndKeepsItAlive) {
  Tensor block({3, 2, 2});
  for (int64_t i = 0; i < block.numel(); ++i) block[i] = static_cast<float>(i);
  Tensor second = block.slice(1);
  EXPECT_EQ(second.shape(), (Shape{2, 2}));
  EXPECT_EQ(second.data(), block.data() + 4);
  EXPECT_EQ(second[0], 4.0f);
  second[3] = -1.0f;  // writes through to the block
  EXPECT_EQ(block[7], -1.0f);
  const float* last_data = block.slice(2).data();
  Tensor last = block.slice(2);
  block = Tensor();  // the slices still own the storage
  EXPECT_EQ(last.data(), last_data);
  EXPECT_EQ(last[0], 8.0f);
  EXPECT_EQ(second[0], 4.0f);
}

TEST(Tensor, SlicesOfOneBlockAreContiguous) {
  Tensor block({4, 3});
  for (int64_t i = 0; i < 4; ++i) EXPECT_EQ(block.slice(i).data(), block.data() + 3 * i);
  EXPECT_EQ(Tensor({5}).slice(4).shape(), Shape{});
  EXPECT_EQ(Tensor({5}).slice(4).numel(), 1);
}

TEST(Tensor, ResizingASliceWithinItselfKeepsTheBlockGrowingDetaches) {
  Tensor block({2, 4}, 1.0f);
  Tensor s = block.slice(0);
  s.resize({2, 2});  // fits: same storage
  EXPECT_EQ(s.data(), block.data());
  s.resize({3, 3});  // larger than the slice: its own storage, the block untouched
  EXPECT_NE(s.data(), block.data());
  s.fill(7.0f);
  for (int64_t i = 0; i < block.numel(); ++i) EXPECT_EQ(block[i], 1.0f);
}

TEST(Tensor, SliceOutOfRangeIsAnError) {
  Tensor block({2, 3});
  EXPECT_THROW(block.slice(2), Error);
  EXPECT_THROW(block.slice(-1), Error);
  EXPECT_THROW(Tensor().slice(0), Error);
}

}  // namespace
}  // namespace attnscope

// core/huge_page_allocator.h: small buffers come from malloc, large ones are aligned to a huge
// page and usable in full; a size whose byte count would overflow is refused, not wrapped.
#include "core/huge_page_allocator.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <new>
#include <numeric>
#include <vector>

namespace attnscope {
namespace {

using Alloc = HugePageAllocator<float>;

TEST(HugePageAllocator, LargeBuffersAreAlignedToAHugePageAndHoldTheirValues) {
  for (const size_t n : {Alloc::kMinBytes / sizeof(float), size_t{3} << 20, size_t{2} << 20}) {
    std::vector<float, Alloc> v(n);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(v.data()) % Alloc::kHugePage, 0u) << n;
    std::iota(v.begin(), v.end(), 0.0f);
    EXPECT_EQ(v[n - 1], static_cast<float>(n - 1)) << n;
  }
}

TEST(HugePageAllocator, SmallBuffersWorkAsOrdinaryOnes) {
  for (const size_t n :
       {size_t{0}, size_t{1}, size_t{1000}, Alloc::kMinBytes / sizeof(float) - 1}) {
    std::vector<float, Alloc> v(n, 2.5f);
    EXPECT_EQ(v.size(), n);
    if (n > 0) {
      EXPECT_EQ(v.back(), 2.5f);
    }
    v = decltype(v){};  // released
    EXPECT_EQ(v.capacity(), 0u);
  }
}

TEST(HugePageAllocator, AnOverflowingSizeIsRefused) {
  Alloc a;
  EXPECT_THROW((void)a.allocate(static_cast<size_t>(-1) / sizeof(float)), std::bad_alloc);
  EXPECT_THROW((void)a.allocate(static_cast<size_t>(-1) / sizeof(float) - 16), std::bad_alloc);
}

}  // namespace
}  // namespace attnscope

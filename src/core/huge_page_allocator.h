// An allocator for buffers read again and again in full (a decoder's packed weights, all of them
// read at every step): buffers of 256 KiB or more are rounded up to whole 2 MiB pages, aligned to
// 2 MiB and marked MADV_HUGEPAGE, so the kernel may back them with huge pages (where transparent
// huge pages are "madvise" or "always"). A step then walks tens of megabytes of weights without a
// TLB miss at every 4 KiB, and the hardware prefetchers, which stop at 4 KiB boundaries, stream
// further. The cost is memory: a 256 KiB weight takes a
// 2 MiB page. Smaller buffers, and systems that refuse the advice, get ordinary pages: the advice
// changes speed, never results.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdlib>
#include <new>

namespace attnscope {

template <typename T>
struct HugePageAllocator {
  using value_type = T;
  static constexpr size_t kHugePage = size_t{2} << 20;
  static constexpr size_t kMinBytes = size_t{256} << 10;  // below: ordinary pages

  HugePageAllocator() = default;
  template <typename U>
  HugePageAllocator(const HugePageAllocator<U>&) noexcept {}

  T* allocate(size_t n) {
    if (n > (static_cast<size_t>(-1) - kHugePage) / sizeof(T)) throw std::bad_array_new_length();
    const size_t bytes = n * sizeof(T);
    if (bytes < kMinBytes) {
      void* p = std::malloc(bytes == 0 ? 1 : bytes);
      if (p == nullptr) throw std::bad_alloc();
      return static_cast<T*>(p);
    }
    const size_t rounded = (bytes + kHugePage - 1) / kHugePage * kHugePage;
    void* p = std::aligned_alloc(kHugePage, rounded);
    if (p == nullptr) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
    (void)madvise(p, rounded, MADV_HUGEPAGE);  // advice: a refusal only costs speed
#endif
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t) noexcept {
    std::free(p);
  }

  template <typename U>
  bool operator==(const HugePageAllocator<U>&) const noexcept {
    return true;
  }
};

}  // namespace attnscope

// The caching allocator: size classes, reuse on the same stream without a new cudaMalloc, reuse
// across streams (ordered by an event), statistics, release of the cache, a foreign pointer
// refused, and DeviceBuffer's ownership (move, reset, upload/download round trip).
#include <gtest/gtest.h>

#include <vector>

#include "core/error.h"
#include "cuda_test_util.h"
#include "kernels/cuda/device_allocator.h"
#include "kernels/cuda/device_buffer.h"

namespace attnscope::cuda {
namespace {

using test::CudaTest;

TEST(CudaAllocatorSizeClass, RoundsUpWithBoundedWaste) {  // no device needed
  EXPECT_EQ(DeviceAllocator::size_class(0), 0u);
  EXPECT_EQ(DeviceAllocator::size_class(1), 512u);
  EXPECT_EQ(DeviceAllocator::size_class(512), 512u);
  EXPECT_EQ(DeviceAllocator::size_class(513), 1024u);
  EXPECT_EQ(DeviceAllocator::size_class((1u << 20) - 1), size_t{1} << 20);
  EXPECT_EQ(DeviceAllocator::size_class(1u << 20), size_t{1} << 20);
  EXPECT_EQ(DeviceAllocator::size_class((1u << 20) + 1), (size_t{1} << 20) + (size_t{1} << 17));
  for (size_t n : {size_t{3} << 20, size_t{5000000}, size_t{123456789}, size_t{1} << 33}) {
    const size_t c = DeviceAllocator::size_class(n);
    EXPECT_GE(c, n);
    EXPECT_LE(static_cast<double>(c), 1.125 * static_cast<double>(n)) << n;
    EXPECT_EQ(DeviceAllocator::size_class(c), c) << "a class maps to itself";
  }
}

class CudaAllocator : public CudaTest {};

TEST_F(CudaAllocator, ReusesFreedBlockOnSameStream) {
  DeviceAllocator a;
  void* p = a.allocate(1000, stream());
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 256, 0u);
  EXPECT_EQ(a.stats().bytes_in_use, 1024u);
  a.deallocate(p, stream());
  EXPECT_EQ(a.stats().bytes_in_use, 0u);
  EXPECT_EQ(a.stats().bytes_cached, 1024u);
  void* q = a.allocate(900, stream());  // same class
  EXPECT_EQ(q, p);
  const AllocatorStats s = a.stats();
  EXPECT_EQ(s.device_mallocs, 1);
  EXPECT_EQ(s.cache_hits, 1);
  EXPECT_EQ(s.cross_stream_reuses, 0);
  EXPECT_EQ(s.bytes_cached, 0u);
  EXPECT_EQ(s.peak_bytes_in_use, 1024u);
  void* r = a.allocate(5000, stream());  // another class: a new block
  EXPECT_NE(r, q);
  EXPECT_EQ(a.stats().device_mallocs, 2);
  a.deallocate(q, stream());
  a.deallocate(r, stream());
  EXPECT_EQ(a.stats().bytes_reserved, 1024u + 5120u);
  a.release_cached();
  EXPECT_EQ(a.stats().bytes_reserved, 0u);
  EXPECT_EQ(a.stats().device_frees, 2);
  EXPECT_EQ(a.allocate(0, stream()), nullptr);
}

TEST_F(CudaAllocator, ReuseAcrossStreamsWaitsForTheOldStream) {
  DeviceAllocator a;
  cudaStream_t other = nullptr;
  ATTN_CUDA_CHECK(cudaStreamCreateWithFlags(&other, cudaStreamNonBlocking));
  const size_t n = 1 << 20;
  auto* p = static_cast<float*>(a.allocate(n * sizeof(float), stream()));
  std::vector<float> host(n, 3.0f);
  ATTN_CUDA_CHECK(
      cudaMemcpyAsync(p, host.data(), n * sizeof(float), cudaMemcpyHostToDevice, stream()));
  a.deallocate(p, stream());
  auto* q = static_cast<float*>(a.allocate(n * sizeof(float), other));
  EXPECT_EQ(q, p);
  EXPECT_EQ(a.stats().cross_stream_reuses, 1);
  // Work on `other` is ordered after the copy on stream(): it reads the 3s.
  std::vector<float> back(n, 0.0f);
  ATTN_CUDA_CHECK(
      cudaMemcpyAsync(back.data(), q, n * sizeof(float), cudaMemcpyDeviceToHost, other));
  ATTN_CUDA_CHECK(cudaStreamSynchronize(other));
  EXPECT_EQ(back.front(), 3.0f);
  EXPECT_EQ(back.back(), 3.0f);
  a.deallocate(q, other);
  a.release_cached();
  ATTN_CUDA_CHECK(cudaStreamDestroy(other));
}

TEST_F(CudaAllocator, RefusesForeignPointer) {
  DeviceAllocator a;
  int x = 0;
  EXPECT_THROW(a.deallocate(&x, stream()), Error);
  void* p = a.allocate(64, stream());
  a.deallocate(p, stream());
  EXPECT_THROW(a.deallocate(p, stream()), Error) << "a second return of the same block";
}

TEST_F(CudaAllocator, DestructorFreesEverything) {
  size_t free_before = 0, free_after = 0, total = 0;
  ATTN_CUDA_CHECK(cudaMemGetInfo(&free_before, &total));
  {
    DeviceAllocator a;
    void* p = a.allocate(size_t{256} << 20, stream());
    void* q = a.allocate(size_t{256} << 20, stream());
    a.deallocate(q, stream());
    (void)p;  // still in use when the allocator goes
  }
  ATTN_CUDA_CHECK(cudaMemGetInfo(&free_after, &total));
  // Other processes may use the GPU too: only require that our 512 MiB came back.
  EXPECT_GE(free_after + (size_t{64} << 20), free_before);
}

TEST_F(CudaAllocator, DeviceBufferOwnsAndMoves) {
  DeviceAllocator a;
  {
    DeviceBuffer<int> b(a, 1000, stream());
    std::vector<int> host(1000);
    for (int i = 0; i < 1000; ++i) host[static_cast<size_t>(i)] = i * 7 - 3;
    b.upload(host);
    DeviceBuffer<int> c = std::move(b);
    EXPECT_EQ(b.data(), nullptr);
    EXPECT_EQ(b.size(), 0u);
    EXPECT_EQ(c.download(), host);
    EXPECT_EQ(a.stats().bytes_in_use, 4096u);
    c.reset();
    EXPECT_EQ(a.stats().bytes_in_use, 0u);
    EXPECT_THROW(c.upload(host), Error) << "upload beyond the buffer";
  }
  EXPECT_EQ(a.stats().bytes_in_use, 0u);
  EXPECT_EQ(a.stats().device_mallocs, 1);
}

}  // namespace
}  // namespace attnscope::cuda

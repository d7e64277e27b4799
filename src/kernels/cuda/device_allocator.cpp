// The caching allocator (device_allocator.h).
#include <fmt/format.h>

#include <map>

#include "core/error.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_allocator.h"

namespace attnscope::cuda {

namespace {

constexpr size_t kSmallStep = 512;  // class step below 1 MiB
constexpr size_t kLargeFrom = size_t{1} << 20;

size_t round_up(size_t n, size_t m) {
  return (n + m - 1) / m * m;
}

}  // namespace

size_t DeviceAllocator::size_class(size_t bytes) {
  if (bytes == 0) return 0;
  if (bytes < kLargeFrom) return round_up(bytes, kSmallStep);
  // The largest power of two ≤ bytes, in steps of an eighth of it.
  size_t pow2 = kLargeFrom;
  while (pow2 <= bytes / 2) pow2 *= 2;
  return round_up(bytes, pow2 / 8);
}

DeviceAllocator::DeviceAllocator() {
  ATTN_CUDA_CHECK(cudaGetDevice(&device_));
  ATTN_CUDA_CHECK(cudaEventCreateWithFlags(&order_event_, cudaEventDisableTiming));
}

DeviceAllocator::~DeviceAllocator() {
  // No throwing here: errors (e.g. a context already torn down at exit) are ignored.
  std::lock_guard<std::mutex> lock(mu_);
  cudaDeviceSynchronize();
  for (auto& [ptr, block] : in_use_) cudaFree(ptr);
  for (auto& [size, blocks] : cached_)
    for (Block& b : blocks) cudaFree(b.ptr);
  cudaEventDestroy(order_event_);
  cudaGetLastError();
}

void* DeviceAllocator::allocate(size_t bytes, cudaStream_t stream) {
  if (bytes == 0) return nullptr;
  const size_t size = size_class(bytes);
  std::lock_guard<std::mutex> lock(mu_);
  Block block;
  bool found = false;
  auto it = cached_.find(size);
  if (it != cached_.end() && !it->second.empty()) {
    std::vector<Block>& blocks = it->second;
    // Prefer a block last used on this stream (no wait at all), the most recently freed first.
    for (size_t i = blocks.size(); i-- > 0;) {
      if (blocks[i].stream == stream) {
        block = blocks[i];
        blocks.erase(blocks.begin() + static_cast<std::ptrdiff_t>(i));
        found = true;
        break;
      }
    }
    if (!found) {
      block = blocks.back();
      blocks.pop_back();
      found = true;
      // Work queued later on `stream` waits for all work queued so far on the block's stream.
      ATTN_CUDA_CHECK(cudaEventRecord(order_event_, block.stream));
      ATTN_CUDA_CHECK(cudaStreamWaitEvent(stream, order_event_, 0));
      ++stats_.cross_stream_reuses;
    }
    stats_.bytes_cached -= size;
    ++stats_.cache_hits;
  }
  if (!found) {
    void* ptr = nullptr;
    cudaError_t err = cudaMalloc(&ptr, size);
    if (err == cudaErrorMemoryAllocation && stats_.bytes_cached > 0) {
      cudaGetLastError();
      release_cached_locked();
      err = cudaMalloc(&ptr, size);
    }
    if (err != cudaSuccess) {
      cudaGetLastError();
      size_t free_b = 0, total_b = 0;
      cudaMemGetInfo(&free_b, &total_b);
      fail(
          "CUDA error: cudaMalloc of {} bytes (size class {}) failed with {} ({}); in use {} "
          "bytes, cached {} bytes, device free {} of {} bytes",
          bytes, size, cudaGetErrorName(err), cudaGetErrorString(err), stats_.bytes_in_use,
          stats_.bytes_cached, free_b, total_b);
    }
    block.ptr = ptr;
    block.size = size;
    ++stats_.device_mallocs;
    stats_.bytes_reserved += size;
  }
  block.stream = stream;
  in_use_[block.ptr] = block;
  stats_.bytes_in_use += size;
  if (stats_.bytes_in_use > stats_.peak_bytes_in_use)
    stats_.peak_bytes_in_use = stats_.bytes_in_use;
  return block.ptr;
}

void DeviceAllocator::deallocate(void* ptr, cudaStream_t stream) {
  if (ptr == nullptr) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = in_use_.find(ptr);
  ATTN_CHECK(it != in_use_.end(),
             "DeviceAllocator::deallocate: {} was not handed out by this allocator (or was "
             "returned twice)",
             ptr);
  Block block = it->second;
  in_use_.erase(it);
  block.stream = stream;
  stats_.bytes_in_use -= block.size;
  stats_.bytes_cached += block.size;
  cached_[block.size].push_back(block);
}

void DeviceAllocator::release_cached() {
  std::lock_guard<std::mutex> lock(mu_);
  release_cached_locked();
}

void DeviceAllocator::release_cached_locked() {
  if (stats_.bytes_cached == 0) return;
  // Work queued before the blocks were returned may still be using them.
  ATTN_CUDA_CHECK(cudaDeviceSynchronize());
  for (auto& [size, blocks] : cached_) {
    for (Block& b : blocks) {
      ATTN_CUDA_CHECK(cudaFree(b.ptr));
      ++stats_.device_frees;
      stats_.bytes_reserved -= b.size;
    }
    blocks.clear();
  }
  stats_.bytes_cached = 0;
}

AllocatorStats DeviceAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

DeviceAllocator& default_allocator() {
  static std::mutex mu;
  static std::map<int, DeviceAllocator*> per_device;  // never destroyed: see the header
  int dev = 0;
  ATTN_CUDA_CHECK(cudaGetDevice(&dev));
  std::lock_guard<std::mutex> lock(mu);
  DeviceAllocator*& a = per_device[dev];
  if (a == nullptr) a = new DeviceAllocator();
  return *a;
}

}  // namespace attnscope::cuda

// DeviceBuffer<T>: n elements of device memory from a DeviceAllocator, returned to it when the
// buffer is destroyed (move-only, like std::unique_ptr). Copies to and from the host are
// synchronous (they wait for the stream): for setting up and checking, not for per-step traffic.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <utility>
#include <vector>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_allocator.h"

namespace attnscope::cuda {

template <typename T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(DeviceAllocator& alloc, size_t n, cudaStream_t stream = nullptr)
      : alloc_(&alloc), stream_(stream), n_(n) {
    ptr_ = static_cast<T*>(alloc.allocate(n * sizeof(T), stream));
  }
  ~DeviceBuffer() { reset(); }
  DeviceBuffer(DeviceBuffer&& o) noexcept { swap(o); }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      reset();
      swap(o);
    }
    return *this;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  T* data() { return ptr_; }
  const T* data() const { return ptr_; }
  size_t size() const { return n_; }
  size_t bytes() const { return n_ * sizeof(T); }
  bool empty() const { return n_ == 0; }
  cudaStream_t stream() const { return stream_; }

  // Returns the memory to the allocator (as used on this buffer's stream); the buffer is empty.
  void reset() {
    if (alloc_ != nullptr && ptr_ != nullptr) {
      try {
        alloc_->deallocate(ptr_, stream_);
      } catch (...) {  // only for a pointer the allocator does not know: cannot happen here
      }
    }
    ptr_ = nullptr;
    n_ = 0;
  }

  // host[0, n) → device[0, n), then waits for the copy.
  void upload(const T* host, size_t n) {
    ATTN_CUDA_REQUIRE(n <= n_,
                      "DeviceBuffer::upload: " << n << " elements into a buffer of " << n_);
    if (n == 0) return;
    ATTN_CUDA_CHECK(cudaMemcpyAsync(ptr_, host, n * sizeof(T), cudaMemcpyHostToDevice, stream_));
    ATTN_CUDA_CHECK(cudaStreamSynchronize(stream_));
  }
  void upload(const std::vector<T>& host) { upload(host.data(), host.size()); }
  // Waits for the stream, then copies the whole buffer to the host.
  std::vector<T> download() const {
    std::vector<T> host(n_);
    if (n_ == 0) return host;
    ATTN_CUDA_CHECK(cudaMemcpyAsync(host.data(), ptr_, bytes(), cudaMemcpyDeviceToHost, stream_));
    ATTN_CUDA_CHECK(cudaStreamSynchronize(stream_));
    return host;
  }

 private:
  void swap(DeviceBuffer& o) noexcept {
    std::swap(alloc_, o.alloc_);
    std::swap(stream_, o.stream_);
    std::swap(ptr_, o.ptr_);
    std::swap(n_, o.n_);
  }

  DeviceAllocator* alloc_ = nullptr;
  cudaStream_t stream_ = nullptr;
  T* ptr_ = nullptr;
  size_t n_ = 0;
};

}  // namespace attnscope::cuda

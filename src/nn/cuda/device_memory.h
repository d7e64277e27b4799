// Device memory of the device model: the stream a model computes on, and blocks of memory that
// keep that stream alive. The caching allocator (kernels/cuda/device_allocator.h) wants every
// stream to outlive the blocks returned on it; a model's decoder states, attention records and
// weights all hold Blocks, and each Block holds the context, so the stream is destroyed only after
// the last of them — whatever order a caller drops the model and its states in.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <memory>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_allocator.h"
#include "kernels/cuda/device_buffer.h"

namespace attnscope::cuda_model {

class DeviceContext {
 public:
  DeviceContext() : alloc_(&cuda::default_allocator()) {
    ATTN_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  }
  ~DeviceContext() {  // no throwing: errors here can only be reported by the next CUDA call
    cudaStreamSynchronize(stream_);
    try {
      alloc_->release_cached();  // no cached block may name this stream once it is gone
    } catch (...) {
    }
    cudaStreamDestroy(stream_);
    cudaGetLastError();
  }
  DeviceContext(const DeviceContext&) = delete;
  DeviceContext& operator=(const DeviceContext&) = delete;

  cudaStream_t stream() const { return stream_; }
  cuda::DeviceAllocator& alloc() const { return *alloc_; }
  void sync() const { ATTN_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

 private:
  cuda::DeviceAllocator* alloc_;
  cudaStream_t stream_ = nullptr;
};

// `bytes` bytes of device memory (at least 16, 256-byte aligned), used on the context's stream.
class Block {
 public:
  Block(std::shared_ptr<DeviceContext> ctx, size_t bytes)
      : ctx_(std::move(ctx)), mem_(ctx_->alloc(), bytes < 16 ? 16 : bytes, ctx_->stream()) {}
  void* data() { return mem_.data(); }
  const void* data() const { return mem_.data(); }
  size_t bytes() const { return mem_.size(); }

 private:
  std::shared_ptr<DeviceContext> ctx_;  // first: destroyed after mem_ is returned
  cuda::DeviceBuffer<unsigned char> mem_;
};
using BlockPtr = std::shared_ptr<Block>;

// b, or a new block when b is missing or smaller than `bytes` (the old one lives on in whatever
// still holds it).
inline Block& ensure(BlockPtr& b, const std::shared_ptr<DeviceContext>& ctx, size_t bytes) {
  if (!b || b->bytes() < bytes) b = std::make_shared<Block>(ctx, bytes);
  return *b;
}

}  // namespace attnscope::cuda_model

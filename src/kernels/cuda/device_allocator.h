// A caching, stream-ordered allocator of device memory over cudaMalloc.
//
// cudaMalloc and cudaFree synchronise the device and take tens of microseconds; a decoder step
// allocates and frees the same sizes every step. This allocator rounds every request up to a
// size class and keeps freed blocks in a per-class cache:
//  - a block freed on stream S is handed out again at once for work on S: stream order already
//    puts the new work after every earlier use of the block;
//  - a block freed on stream S and requested on another stream T is handed out after T is made to
//    wait (cudaStreamWaitEvent) for everything queued on S so far — never a host synchronisation;
//  - when cudaMalloc fails, the cache is released (cudaFree) and the request retried once; if
//    that fails too, attnscope::Error says how much was asked, in use and cached.
// Size classes: multiples of 512 bytes below 1 MiB; above, steps of 1/8 of a power of two (at most
// 12.5 % rounding). A stream must outlive the blocks returned on it (or release_cached() must run
// before it is destroyed). No managed memory. Thread-safe (one mutex). One device: the one current
// when the allocator was made; every call must be made with that device current. The destructor
// synchronises the device and frees every block it obtained, cached or not: buffers must not
// outlive their allocator.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace attnscope::cuda {

struct AllocatorStats {
  size_t bytes_in_use = 0;          // handed out and not yet returned (size-class bytes)
  size_t peak_bytes_in_use = 0;     // the most bytes_in_use has been
  size_t bytes_cached = 0;          // returned and kept for reuse
  size_t bytes_reserved = 0;        // obtained from cudaMalloc and not freed (in use + cached)
  int64_t device_mallocs = 0;       // cudaMalloc calls that succeeded
  int64_t device_frees = 0;         // cudaFree calls
  int64_t cache_hits = 0;           // requests served from the cache
  int64_t cross_stream_reuses = 0;  // cache hits from a block last used on another stream
};

class DeviceAllocator {
 public:
  DeviceAllocator();
  ~DeviceAllocator();
  DeviceAllocator(const DeviceAllocator&) = delete;
  DeviceAllocator& operator=(const DeviceAllocator&) = delete;

  // At least `bytes` bytes (256-byte aligned) usable by work queued on `stream` from now on;
  // nullptr for 0 bytes.
  void* allocate(size_t bytes, cudaStream_t stream);
  // Returns a block from allocate(). Work already queued on `stream` may still use it: later
  // work on `stream` may get it again at once, other streams only after waiting for `stream`.
  // Throws attnscope::Error for a pointer this allocator did not hand out. nullptr is ignored.
  void deallocate(void* ptr, cudaStream_t stream);
  // Frees every cached block (after synchronising the device); blocks in use stay.
  void release_cached();

  AllocatorStats stats() const;
  // The bytes a request of `bytes` occupies.
  static size_t size_class(size_t bytes);
  int device() const { return device_; }

 private:
  struct Block {
    void* ptr = nullptr;
    size_t size = 0;        // size class
    cudaStream_t stream{};  // last stream it was used on
  };
  void release_cached_locked();

  int device_ = 0;
  mutable std::mutex mu_;
  std::unordered_map<void*, Block> in_use_;
  std::unordered_map<size_t, std::vector<Block>> cached_;  // size class → free blocks
  cudaEvent_t order_event_{};  // for cross-stream waits (a wait captures it when queued)
  AllocatorStats stats_;
};

// The process-wide allocator of the current device (made on first use, never destroyed before
// exit). Tests that count allocations make their own.
DeviceAllocator& default_allocator();

}  // namespace attnscope::cuda

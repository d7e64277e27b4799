// Helpers of the CUDA tests: the fixture that skips without a GPU, device buffers with poisoned
// guard regions (out-of-bounds writes and unwritten outputs are both caught), bf16 rounding of
// random inputs, and the relative-error measure ‖out − ref‖ / ‖ref‖ of the tolerances.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "core/rng.h"
#include "kernels/cuda/bf16.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_allocator.h"

namespace attnscope::cuda::test {

// Every CUDA test derives from this: without a usable device the test is skipped with the
// reason, so the suite passes (and says why) on machines without a GPU.
class CudaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!device_available(&why)) GTEST_SKIP() << "no usable CUDA device: " << why;
    ATTN_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  }
  void TearDown() override {
    if (stream_ != nullptr) {
      ATTN_CUDA_CHECK(cudaStreamSynchronize(stream_));
      alloc().release_cached();
      ATTN_CUDA_CHECK(cudaStreamDestroy(stream_));
    }
  }
  DeviceAllocator& alloc() { return default_allocator(); }
  cudaStream_t stream() const { return stream_; }
  void sync() { ATTN_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

 private:
  cudaStream_t stream_ = nullptr;
};

// The bit pattern guard regions and unwritten outputs hold: 0xFF bytes (a NaN in fp32 and bf16),
// which no kernel writes.
constexpr unsigned char kPoison = 0xFF;
constexpr size_t kGuardBytes = 256;

template <typename T>
bool is_poison(const T& v) {
  unsigned char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  for (unsigned char c : b)
    if (c != kPoison) return false;
  return true;
}

// n elements of T on the device with kGuardBytes of poison on each side; the n elements start
// poisoned too. download() checks the guards (a failure names the buffer) and returns the n
// elements.
template <typename T>
class Guarded {
 public:
  Guarded(const std::string& name, size_t n) : name_(name), n_(n) {
    ATTN_CUDA_CHECK(cudaMalloc(&base_, total_bytes()));
    ATTN_CUDA_CHECK(cudaMemset(base_, kPoison, total_bytes()));
  }
  ~Guarded() { cudaFree(base_); }
  Guarded(const Guarded&) = delete;
  Guarded& operator=(const Guarded&) = delete;

  T* data() { return reinterpret_cast<T*>(static_cast<unsigned char*>(base_) + kGuardBytes); }
  size_t size() const { return n_; }
  void upload(const std::vector<T>& host) {
    EXPECT_LE(host.size(), n_);
    ATTN_CUDA_CHECK(
        cudaMemcpy(data(), host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice));
  }
  void poison() { ATTN_CUDA_CHECK(cudaMemset(data(), kPoison, n_ * sizeof(T))); }
  std::vector<T> download() const {
    std::vector<unsigned char> all(total_bytes());
    ATTN_CUDA_CHECK(cudaDeviceSynchronize());
    ATTN_CUDA_CHECK(cudaMemcpy(all.data(), base_, all.size(), cudaMemcpyDeviceToHost));
    for (size_t i = 0; i < kGuardBytes; ++i) {
      if (all[i] != kPoison) {
        ADD_FAILURE() << name_ << ": guard byte " << i << " before the buffer was overwritten";
        break;
      }
    }
    for (size_t i = kGuardBytes + n_ * sizeof(T); i < all.size(); ++i) {
      if (all[i] != kPoison) {
        ADD_FAILURE() << name_ << ": guard byte " << i - kGuardBytes - n_ * sizeof(T)
                      << " after the buffer was overwritten";
        break;
      }
    }
    std::vector<T> out(n_);
    if (n_ > 0) std::memcpy(out.data(), all.data() + kGuardBytes, n_ * sizeof(T));
    return out;
  }

 private:
  size_t total_bytes() const { return n_ * sizeof(T) + 2 * kGuardBytes; }
  std::string name_;
  size_t n_;
  void* base_ = nullptr;
};

inline std::vector<float> random_floats(Rng& rng, size_t n, float lo = -1.0f, float hi = 1.0f) {
  std::vector<float> v(n);
  for (float& x : v) x = rng.uniform(lo, hi);
  return v;
}

inline std::vector<Bf16> to_bf16(const std::vector<float>& v) {
  std::vector<Bf16> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = cuda::to_bf16(v[i]);
  return out;
}
inline std::vector<float> to_float(const std::vector<Bf16>& v) {
  std::vector<float> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = cuda::to_float(v[i]);
  return out;
}
// The values a bf16 kernel really sees.
inline std::vector<float> rounded_to_bf16(const std::vector<float>& v) {
  std::vector<float> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = round_to_bf16(v[i]);
  return out;
}
inline std::vector<double> to_double(const std::vector<float>& v) {
  return std::vector<double>(v.begin(), v.end());
}

// ‖out − ref‖₂ / ‖ref‖₂ (‖out − ref‖₂ when ref is all zero); NaN anywhere gives NaN, which fails
// every `≤ tolerance` check.
template <typename A, typename B>
double relative_error(const std::vector<A>& out, const std::vector<B>& ref) {
  EXPECT_EQ(out.size(), ref.size());
  double num = 0, den = 0;
  for (size_t i = 0; i < out.size() && i < ref.size(); ++i) {
    const double o = static_cast<double>(out[i]), r = static_cast<double>(ref[i]);
    if (std::isnan(o) || std::isnan(r)) return std::nan("");
    num += (o - r) * (o - r);
    den += r * r;
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

// Fails with the first element that is poison (never written) and says how many.
template <typename T>
void expect_all_written(const std::vector<T>& v, const std::string& what) {
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < v.size(); ++i)
    if (is_poison(v[i]) && bad++ == 0) first = i;
  EXPECT_EQ(bad, 0u) << what << ": " << bad << " elements never written, the first at " << first;
}

}  // namespace attnscope::cuda::test

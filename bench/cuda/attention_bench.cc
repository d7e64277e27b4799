// W4 of the benchmark workloads on the GPU: the bf16 attention forward at (B, H, N, d) =
// (8, 16, 1024, 64), (4, 16, 4096, 64), (2, 16, 8192, 128), causal and not; the forward with
// every weight returned (attention_weights for all pairs and rows after the forward, fp32
// [B, H, N, N]); and two decoder-step shapes (Tq = 1 against a KV cache). Prints one JSON object
// per line with the median and minimum of the timed iterations (CUDA events around each, after
// warm-up) and TFLOP/s (4·B·H·N²·d, half of it under the causal mask, as FlashAttention counts).
// scripts/bench-pytorch-cuda.py prints the same fields for PyTorch on the same GPU. Forward and
// backward (training) is not measured here: the device backward is a later step.
//
//   attnscope_cuda_bench [--iters N] [--warmup N] [--quick]
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "kernels/cuda/attention.h"
#include "kernels/cuda/bf16.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_allocator.h"
#include "kernels/cuda/device_buffer.h"

namespace {

using namespace attnscope::cuda;

struct Options {
  int iters = 30;
  int warmup = 5;
  bool quick = false;  // only the first shape (a smoke test of the program)
};

// Random bf16 values in [−2, 2) (never zeros: zeros run faster than real data).
void fill_random(DeviceBuffer<Bf16>& buf, uint64_t seed) {
  std::vector<Bf16> host(buf.size());
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  for (Bf16& x : host) {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    const float u = static_cast<float>(s >> 40) * (1.0f / 16777216.0f);
    x = to_bf16(4.0f * u - 2.0f);
  }
  buf.upload(host);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Times fn() `iters` times after `warmup` calls; milliseconds of each.
template <typename Fn>
std::vector<double> time_ms(const Options& o, cudaStream_t stream, Fn fn) {
  cudaEvent_t start, stop;
  ATTN_CUDA_CHECK(cudaEventCreate(&start));
  ATTN_CUDA_CHECK(cudaEventCreate(&stop));
  for (int i = 0; i < o.warmup; ++i) fn();
  ATTN_CUDA_CHECK(cudaStreamSynchronize(stream));
  std::vector<double> ms;
  for (int i = 0; i < o.iters; ++i) {
    ATTN_CUDA_CHECK(cudaEventRecord(start, stream));
    fn();
    ATTN_CUDA_CHECK(cudaEventRecord(stop, stream));
    ATTN_CUDA_CHECK(cudaEventSynchronize(stop));
    float t = 0;
    ATTN_CUDA_CHECK(cudaEventElapsedTime(&t, start, stop));
    ms.push_back(t);
  }
  ATTN_CUDA_CHECK(cudaEventDestroy(start));
  ATTN_CUDA_CHECK(cudaEventDestroy(stop));
  return ms;
}

void print(const std::string& fields, const std::vector<double>& ms, double flops) {
  const double med = median(ms), mn = *std::min_element(ms.begin(), ms.end());
  std::printf(
      "{\"workload\": \"W4\", \"impl\": \"attnscope\", \"device\": \"%s\", %s, \"ms\": %.4f, "
      "\"ms_min\": %.4f, \"tflops\": %.1f, \"iters\": %zu}\n",
      current_device_info().name.c_str(), fields.c_str(), med, mn, flops / (med * 1e-3) / 1e12,
      ms.size());
  std::fflush(stdout);
}

void bench_shape(const Options& o, DeviceAllocator& alloc, cudaStream_t stream, int64_t B,
                 int64_t H, int64_t N, int64_t d, bool causal) {
  const size_t n = static_cast<size_t>(B * H * N * d);
  DeviceBuffer<Bf16> q(alloc, n, stream), k(alloc, n, stream), v(alloc, n, stream),
      out(alloc, n, stream);
  fill_random(q, 1), fill_random(k, 2), fill_random(v, 3);
  DeviceBuffer<float> lse(alloc, static_cast<size_t>(B * H * N), stream);
  AttentionForwardArgs a;
  a.shape = DeviceAttentionShape{
      B, H, N, N, d, DType::kBF16, 1.0f / std::sqrt(static_cast<float>(d)), causal, 0, nullptr};
  a.q = head_major(q.data(), H, N, d), a.k = head_major(k.data(), H, N, d);
  a.v = head_major(v.data(), H, N, d), a.out = head_major(out.data(), H, N, d);
  a.lse = lse.data();
  const double flops = 4.0 * static_cast<double>(B * H) * static_cast<double>(N) *
                       static_cast<double>(N) * static_cast<double>(d) * (causal ? 0.5 : 1.0);
  char fields[256];
  std::snprintf(fields, sizeof(fields),
                "\"B\": %lld, \"H\": %lld, \"N\": %lld, \"d\": %lld, \"causal\": %s",
                static_cast<long long>(B), static_cast<long long>(H), static_cast<long long>(N),
                static_cast<long long>(d), causal ? "true" : "false");
  const std::string shape(fields);

  const std::vector<double> fwd = time_ms(o, stream, [&] { attention_forward(a, alloc, stream); });
  print(shape + ", \"mode\": \"forward\"", fwd, flops);

  // Every weight, fp32 [B, H, N, N], recomputed from the forward's log-sum-exp.
  DeviceBuffer<float> w(alloc, static_cast<size_t>(B * H * N * N), stream);
  AttentionWeightsArgs wa;
  wa.shape = a.shape, wa.q = a.q, wa.k = a.k, wa.lse = lse.data();
  wa.n_pairs = B * H, wa.q_begin = 0, wa.q_end = N;
  wa.out = w.data(), wa.pair_stride = N * N, wa.row_stride = N;
  const std::vector<double> both = time_ms(o, stream, [&] {
    attention_forward(a, alloc, stream);
    attention_weights(wa, stream);
  });
  const std::vector<double> only = time_ms(o, stream, [&] { attention_weights(wa, stream); });
  const double gb = static_cast<double>(w.bytes()) / 1e9;
  char extra[256];
  std::snprintf(extra, sizeof(extra),
                ", \"mode\": \"forward_weights\", \"weights\": \"fp32\", \"weights_gb\": %.3f, "
                "\"weights_ms\": %.4f, \"weights_tbps\": %.2f, \"ratio_to_forward\": %.2f",
                gb, median(only), gb / (median(only) * 1e-3) / 1e3, median(both) / median(fwd));
  print(shape + extra, both, flops);
}

// A decoder step: Tq = 1 per row against Tk cached keys (the rows path, split-K when few rows).
void bench_decode(const Options& o, DeviceAllocator& alloc, cudaStream_t stream, int64_t B,
                  int64_t H, int64_t Tk, int64_t d) {
  DeviceBuffer<Bf16> q(alloc, static_cast<size_t>(B * H * d), stream),
      k(alloc, static_cast<size_t>(B * H * Tk * d), stream),
      v(alloc, static_cast<size_t>(B * H * Tk * d), stream),
      out(alloc, static_cast<size_t>(B * H * d), stream);
  fill_random(q, 4), fill_random(k, 5), fill_random(v, 6);
  AttentionForwardArgs a;
  a.shape = DeviceAttentionShape{
      B, H, 1, Tk, d, DType::kBF16, 1.0f / std::sqrt(static_cast<float>(d)), false, 0, nullptr};
  a.q = head_major(q.data(), H, 1, d), a.k = head_major(k.data(), H, Tk, d);
  a.v = head_major(v.data(), H, Tk, d), a.out = head_major(out.data(), H, 1, d);
  const std::vector<double> ms = time_ms(o, stream, [&] { attention_forward(a, alloc, stream); });
  const double gb = 2.0 * static_cast<double>(B * H * Tk * d) * 2 / 1e9;  // K and V read once
  char fields[320];
  std::snprintf(fields, sizeof(fields),
                "\"B\": %lld, \"H\": %lld, \"N\": 1, \"Tk\": %lld, \"d\": %lld, \"causal\": false, "
                "\"mode\": \"decode\", \"kv_gb\": %.4f, \"tbps\": %.2f",
                static_cast<long long>(B), static_cast<long long>(H), static_cast<long long>(Tk),
                static_cast<long long>(d), gb, gb / (median(ms) * 1e-3) / 1e3);
  print(fields, ms, 4.0 * static_cast<double>(B * H * Tk * d));
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--quick") {
      o.quick = true;
    } else if ((arg == "--iters" || arg == "--warmup") && i + 1 < argc) {
      const int v = std::atoi(argv[++i]);
      if (v < 1 || v > 100000) {
        std::fprintf(stderr, "attnscope_cuda_bench: %s must be in [1, 100000]\n", arg.c_str());
        return 2;
      }
      (arg == "--iters" ? o.iters : o.warmup) = v;
    } else {
      std::fprintf(stderr, "usage: attnscope_cuda_bench [--iters N] [--warmup N] [--quick]\n");
      return 2;
    }
  }
  std::string why;
  if (!device_available(&why)) {
    std::fprintf(stderr, "attnscope_cuda_bench: no usable CUDA device (%s)\n", why.c_str());
    return 1;
  }
  try {
    DeviceAllocator alloc;
    cudaStream_t stream;
    ATTN_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    struct Shape {
      int64_t B, H, N, d;
    };
    const std::vector<Shape> shapes = {{8, 16, 1024, 64}, {4, 16, 4096, 64}, {2, 16, 8192, 128}};
    for (const Shape& s : shapes) {
      for (bool causal : {false, true}) {
        bench_shape(o, alloc, stream, s.B, s.H, s.N, s.d, causal);
        alloc.release_cached();  // the next shape's buffers differ in size
      }
      if (o.quick) break;
    }
    bench_decode(o, alloc, stream, 256, 8, 128, 64);   // batch 64 × beam 4, Transformer-base
    bench_decode(o, alloc, stream, 2, 16, 8192, 128);  // few rows, a long cache: split-K
    ATTN_CUDA_CHECK(cudaStreamSynchronize(stream));
    alloc.release_cached();
    ATTN_CUDA_CHECK(cudaStreamDestroy(stream));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "attnscope_cuda_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}

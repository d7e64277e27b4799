// Matrix products through cuBLASLt, row-major like the CPU's Linear:
//   Y [M, N] = act(alpha · X [M, K] · W [N, K]ᵀ + bias [N] + R [M, N])
// (nn.Linear with W = weight [out, in]; R an optional residual added in the same pass).
//   - bf16 X and W, fp32 accumulation, Y in bf16 or fp32 (the fast path);
//   - fp32 X and W, fp32 accumulation and Y (the exact path: CUBLAS_COMPUTE_32F, never TF32).
// The bias and the residual have Y's type (cuBLASLt's bias type is the output type). The
// epilogue adds the bias and optionally applies ReLU inside the product's kernel; GELU and SiLU
// run as a separate kernel (activation.h), whose formulas are ours and tested.
// Rows are addressed with leading dimensions (elements between rows), so a product may read or
// write columns of a wider buffer (e.g. the K|V columns of a packed projection).
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <tuple>

#include "kernels/cuda/dtype.h"

namespace attnscope::cuda {

enum class GemmEpilogue { kNone, kRelu };

struct GemmArgs {
  int64_t M = 0, N = 0, K = 0;
  DType in = DType::kBF16;  // X and W
  const void* x = nullptr;  // [M, K], row stride ldx
  int64_t ldx = 0;
  const void* w = nullptr;  // [N, K], row stride ldw
  int64_t ldw = 0;
  DType out = DType::kBF16;  // Y, bias and residual
  void* y = nullptr;         // [M, N], row stride ldy
  int64_t ldy = 0;
  const void* bias = nullptr;      // [N] or null
  const void* residual = nullptr;  // [M, N] with row stride ldy (may be y itself), or null
  float alpha = 1.0f;
  GemmEpilogue epilogue = GemmEpilogue::kNone;
};

// Owns a cuBLASLt handle, a 32 MiB workspace and the algorithm chosen for each shape (the
// heuristic query costs more than a small product, and a decoder repeats the same shapes).
class Gemm {
 public:
  Gemm();
  ~Gemm();
  Gemm(const Gemm&) = delete;
  Gemm& operator=(const Gemm&) = delete;

  // Checks the arguments (attnscope::Error naming the field) and queues the product on stream.
  void run(const GemmArgs& a, cudaStream_t stream);

 private:
  // M, N, K, input and output types, ldx, ldw, ldy, the alignments of W, X, R, Y and the bias
  // (0: none), residual or not, epilogue
  using Key = std::tuple<int64_t, int64_t, int64_t, int, int, int64_t, int64_t, int64_t, unsigned,
                         unsigned, unsigned, unsigned, unsigned, bool, unsigned>;
  cublasLtHandle_t handle_{};
  void* workspace_ = nullptr;
  size_t workspace_bytes_ = 0;
  std::mutex mu_;
  std::map<Key, cublasLtMatmulAlgo_t> algos_;
};

}  // namespace attnscope::cuda

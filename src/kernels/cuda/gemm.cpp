// cuBLASLt products (gemm.h). cuBLASLt is column-major: the row-major Y [M, N] = X·Wᵀ is the
// column-major Yᵀ [N, M] = W·Xᵀ, i.e. A = W read as column-major [K, N] and transposed, B = X read
// as column-major [K, M] — cuBLASLt's preferred "TN" form.
#include <fmt/format.h>

#include <cstdint>

#include "core/error.h"
#include "kernels/cuda/cublaslt_library.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/gemm.h"

namespace attnscope::cuda {

namespace {

constexpr size_t kWorkspaceBytes = size_t{32} << 20;  // what cuBLASLt suggests for Hopper

// The alignment (a power of two ≤ 256 bytes) every row start of a matrix has.
unsigned row_alignment(const void* p, int64_t ld, size_t elem) {
  const auto addr = reinterpret_cast<uintptr_t>(p);
  const auto stride = static_cast<uintptr_t>(ld) * elem;
  unsigned a = 256;
  while (a > 1 && ((addr % a) != 0 || (stride % a) != 0)) a /= 2;
  return a;
}

cudaDataType_t cuda_type(DType t) {
  return t == DType::kF32 ? CUDA_R_32F : CUDA_R_16BF;
}

// Descriptors made and destroyed around one call (host-only objects; creating them costs far
// less than the heuristic, whose result is cached).
struct Descriptors {
  cublasLtMatmulDesc_t op{};
  cublasLtMatrixLayout_t a{}, b{}, c{};
  cublasLtMatmulPreference_t pref{};
  ~Descriptors() {
    const CublasLt& lt = cublaslt();  // loaded: the descriptors were made through it
    if (pref) lt.MatmulPreferenceDestroy(pref);
    if (c) lt.MatrixLayoutDestroy(c);
    if (b) lt.MatrixLayoutDestroy(b);
    if (a) lt.MatrixLayoutDestroy(a);
    if (op) lt.MatmulDescDestroy(op);
  }
};

void check_args(const GemmArgs& g) {
  ATTN_CHECK(g.M >= 0 && g.N >= 0 && g.K >= 0, "gemm: negative shape M={} N={} K={}", g.M, g.N,
             g.K);
  ATTN_CHECK(g.K > 0 || g.M == 0 || g.N == 0, "gemm: K = 0 (nothing to multiply) for M={} N={}",
             g.M, g.N);
  ATTN_CHECK(g.in == DType::kBF16 || g.out == DType::kF32,
             "gemm: fp32 inputs need an fp32 output (got {})", dtype_name(g.out));
  ATTN_CHECK(g.x && g.w && g.y, "gemm: a null pointer (x {}, w {}, y {})", g.x, g.w, g.y);
  ATTN_CHECK(g.ldx >= g.K, "gemm: ldx {} < K {}", g.ldx, g.K);
  ATTN_CHECK(g.ldw >= g.K, "gemm: ldw {} < K {}", g.ldw, g.K);
  ATTN_CHECK(g.ldy >= g.N, "gemm: ldy {} < N {}", g.ldy, g.N);
  ATTN_CHECK(g.M <= INT32_MAX && g.N <= INT32_MAX && g.K <= INT32_MAX,
             "gemm: a dimension beyond 2^31 (M={} N={} K={})", g.M, g.N, g.K);
}

}  // namespace

Gemm::Gemm() {
  ATTN_CUBLAS_CHECK(cublaslt().Create(&handle_));
  workspace_bytes_ = kWorkspaceBytes;
  const cudaError_t err = cudaMalloc(&workspace_, workspace_bytes_);
  if (err != cudaSuccess) {
    cublaslt().Destroy(handle_);
    throw_cuda_error(err, "cudaMalloc(&workspace_, 32 MiB)", __FILE__, __LINE__);
  }
}

Gemm::~Gemm() {
  cudaFree(workspace_);  // synchronises: no product still uses it
  cublaslt().Destroy(handle_);
  cudaGetLastError();
}

void Gemm::run(const GemmArgs& g, cudaStream_t stream) {
  check_args(g);
  if (g.M == 0 || g.N == 0) return;
  const size_t in_size = dtype_size(g.in), out_size = dtype_size(g.out);
  const cudaDataType_t ab = cuda_type(g.in), cd = cuda_type(g.out);
  const CublasLt& lt = cublaslt();

  Descriptors d;
  ATTN_CUBLAS_CHECK(lt.MatmulDescCreate(&d.op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  const cublasOperation_t trans_a = CUBLAS_OP_T, trans_b = CUBLAS_OP_N;
  ATTN_CUBLAS_CHECK(
      lt.MatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_TRANSA, &trans_a, sizeof(trans_a)));
  ATTN_CUBLAS_CHECK(
      lt.MatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_TRANSB, &trans_b, sizeof(trans_b)));
  const bool relu = g.epilogue == GemmEpilogue::kRelu;
  const cublasLtEpilogue_t epi = g.bias
                                     ? (relu ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_BIAS)
                                     : (relu ? CUBLASLT_EPILOGUE_RELU : CUBLASLT_EPILOGUE_DEFAULT);
  ATTN_CUBLAS_CHECK(
      lt.MatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof(epi)));
  if (g.bias) {
    ATTN_CUBLAS_CHECK(lt.MatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &g.bias,
                                                sizeof(g.bias)));
  }
  const auto u64 = [](int64_t v) { return static_cast<uint64_t>(v); };
  ATTN_CUBLAS_CHECK(lt.MatrixLayoutCreate(&d.a, ab, u64(g.K), u64(g.N), g.ldw));  // W
  ATTN_CUBLAS_CHECK(lt.MatrixLayoutCreate(&d.b, ab, u64(g.K), u64(g.M), g.ldx));  // X
  ATTN_CUBLAS_CHECK(lt.MatrixLayoutCreate(&d.c, cd, u64(g.N), u64(g.M), g.ldy));  // Y, R

  const void* c_ptr = g.residual ? g.residual : g.y;
  const unsigned align_a = row_alignment(g.w, g.ldw, in_size);
  const unsigned align_b = row_alignment(g.x, g.ldx, in_size);
  const unsigned align_c = row_alignment(c_ptr, g.ldy, out_size);
  const unsigned align_d = row_alignment(g.y, g.ldy, out_size);
  const unsigned align_bias = g.bias ? row_alignment(g.bias, 0, out_size) : 256;
  const Key key{g.M,
                g.N,
                g.K,
                static_cast<int>(g.in),
                static_cast<int>(g.out),
                g.ldx,
                g.ldw,
                g.ldy,
                align_a,
                align_b,
                align_c,
                align_d,
                g.bias ? align_bias : 0u,
                g.residual != nullptr,
                static_cast<unsigned>(epi)};

  cublasLtMatmulAlgo_t algo{};
  bool have_algo = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = algos_.find(key);
    if (it != algos_.end()) {
      algo = it->second;
      have_algo = true;
    }
  }
  if (!have_algo) {
    ATTN_CUBLAS_CHECK(lt.MatmulPreferenceCreate(&d.pref));
    const uint64_t ws = workspace_bytes_;
    ATTN_CUBLAS_CHECK(lt.MatmulPreferenceSetAttribute(
        d.pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws)));
    const uint32_t aligns[4] = {align_a, align_b, align_c, align_d};
    const cublasLtMatmulPreferenceAttributes_t which[4] = {
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES};
    for (int i = 0; i < 4; ++i)
      ATTN_CUBLAS_CHECK(
          lt.MatmulPreferenceSetAttribute(d.pref, which[i], &aligns[i], sizeof(uint32_t)));
    cublasLtMatmulHeuristicResult_t result{};
    int found = 0;
    ATTN_CUBLAS_CHECK(
        lt.MatmulAlgoGetHeuristic(handle_, d.op, d.a, d.b, d.c, d.c, d.pref, 1, &result, &found));
    ATTN_CHECK(found > 0,
               "gemm: cuBLASLt has no algorithm for M={} N={} K={} ({} → {}, ldx {} ldw {} ldy {}, "
               "alignments {}/{}/{}/{} bytes)",
               g.M, g.N, g.K, dtype_name(g.in), dtype_name(g.out), g.ldx, g.ldw, g.ldy, align_a,
               align_b, align_c, align_d);
    algo = result.algo;
    std::lock_guard<std::mutex> lock(mu_);
    algos_.emplace(key, algo);
  }
  const float beta = g.residual ? 1.0f : 0.0f;
  ATTN_CUBLAS_CHECK(lt.Matmul(handle_, d.op, &g.alpha, g.w, d.a, g.x, d.b, &beta, c_ptr, d.c, g.y,
                              d.c, &algo, workspace_, workspace_bytes_, stream));
}

}  // namespace attnscope::cuda

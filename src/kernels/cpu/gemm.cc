// Matrix products through OpenBLAS cblas_sgemm, and nn.Linear on top of them.
#include "kernels/cpu/gemm.h"

#include <cblas.h>

#include <algorithm>
#include <limits>

#include "core/error.h"

namespace attnscope::cpu {

namespace {

constexpr int64_t kColumnBlock = 64;  // columns per task in column reductions

blasint to_blas(int64_t v, const char* what) {
  ATTN_CHECK(v >= 0 && v <= std::numeric_limits<blasint>::max(),
             "gemm: {} = {} is outside the BLAS integer range", what, v);
  return static_cast<blasint>(v);
}

// C[M, N] = beta · C (the K = 0 product); beta = 0 writes zeros even over NaN.
void scale_c(int64_t M, int64_t N, float beta, float* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i) {
    float* c = C + i * ldc;
    if (beta == 0.0f)
      std::fill(c, c + N, 0.0f);
    else
      for (int64_t j = 0; j < N; ++j) c[j] *= beta;
  }
}

}  // namespace

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  ATTN_CHECK(M >= 0 && N >= 0 && K >= 0, "gemm: negative size M={} N={} K={}", M, N, K);
  // Row-major: A is stored [M, K] (or [K, M] transposed), B [K, N] (or [N, K]), C [M, N].
  const int64_t a_cols = trans_a ? M : K, b_cols = trans_b ? K : N;
  ATTN_CHECK(lda >= std::max<int64_t>(1, a_cols), "gemm: lda {} < {} columns of A", lda, a_cols);
  ATTN_CHECK(ldb >= std::max<int64_t>(1, b_cols), "gemm: ldb {} < {} columns of B", ldb, b_cols);
  ATTN_CHECK(ldc >= std::max<int64_t>(1, N), "gemm: ldc {} < {} columns of C", ldc, N);
  if (M == 0 || N == 0) return;
  if (K == 0) {
    scale_c(M, N, beta, C, ldc);
    return;
  }
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, to_blas(M, "M"), to_blas(N, "N"),
              to_blas(K, "K"), alpha, A, to_blas(lda, "lda"), B, to_blas(ldb, "ldb"), beta, C,
              to_blas(ldc, "ldc"));
}

void gemm_batched(int64_t batch, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                  float alpha, const float* A, int64_t lda, int64_t stride_a, const float* B,
                  int64_t ldb, int64_t stride_b, float beta, float* C, int64_t ldc,
                  int64_t stride_c) {
  ATTN_CHECK(batch >= 0, "gemm_batched: negative batch {}", batch);
  // Sequential: each product is threaded by OpenBLAS itself.
  for (int64_t i = 0; i < batch; ++i)
    gemm(trans_a, trans_b, M, N, K, alpha, A + i * stride_a, lda, B + i * stride_b, ldb, beta,
         C + i * stride_c, ldc);
}

void linear_forward(const float* x, const float* W, const float* b, float* y, int64_t N, int64_t in,
                    int64_t out) {
  // y [N, out] = x [N, in] · Wᵀ (+ b), W [out, in]. With a bias, y starts as b in every row and
  // the product is added to it (beta = 1): OpenBLAS then neither zeroes y first nor does a pass
  // of its own for the bias.
  float beta = 0.0f;
  if (b != nullptr) {
    beta = 1.0f;
#pragma omp parallel for schedule(static) if (N * out > (1 << 15))
    for (int64_t r = 0; r < N; ++r) std::copy(b, b + out, y + r * out);
  }
  gemm(false, true, N, out, in, 1.0f, x, std::max<int64_t>(in, 1), W, std::max<int64_t>(in, 1),
       beta, y, std::max<int64_t>(out, 1));
}

void linear_backward(const float* x, const float* W, const float* dy, float* dx, float* dW,
                     float* db, int64_t N, int64_t in, int64_t out) {
  const int64_t ld_in = std::max<int64_t>(in, 1), ld_out = std::max<int64_t>(out, 1);
  // dx [N, in] += dy [N, out] · W [out, in]
  if (dx) gemm(false, false, N, in, out, 1.0f, dy, ld_out, W, ld_in, 1.0f, dx, ld_in);
  // dW [out, in] += dyᵀ [out, N] · x [N, in]
  gemm(true, false, out, in, N, 1.0f, dy, ld_out, x, ld_in, 1.0f, dW, ld_in);
  if (!db) return;
  // db [out] += Σ_rows dy: blocks of columns in parallel, rows in order (deterministic).
  const int64_t blocks = (out + kColumnBlock - 1) / kColumnBlock;
#pragma omp parallel for schedule(static) if (N * out > (1 << 15))
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t c0 = blk * kColumnBlock, c1 = std::min(out, c0 + kColumnBlock);
    for (int64_t r = 0; r < N; ++r) {
      const float* g = dy + r * out;
      for (int64_t c = c0; c < c1; ++c) db[c] += g[c];
    }
  }
}

}  // namespace attnscope::cpu

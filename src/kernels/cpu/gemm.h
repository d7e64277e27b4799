// Matrix products through cblas_sgemm. Row-major throughout.
#pragma once

#include <cstdint>

namespace attnscope::cpu {

// C[M, N] = alpha · op(A) · op(B) + beta · C, op(X) = Xᵀ when trans_x.
// A is [M, K] (or [K, M] when trans_a), B is [K, N] (or [N, K] when trans_b).
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// `batch` independent gemms; matrix i starts at A + i·stride_a, B + i·stride_b, C + i·stride_c.
void gemm_batched(int64_t batch, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                  float alpha, const float* A, int64_t lda, int64_t stride_a, const float* B,
                  int64_t ldb, int64_t stride_b, float beta, float* C, int64_t ldc,
                  int64_t stride_c);

// PyTorch nn.Linear: y[N, out] = x[N, in] · Wᵀ + b, W is [out, in], b is [out] or null.
void linear_forward(const float* x, const float* W, const float* b, float* y, int64_t N, int64_t in,
                    int64_t out);
// Accumulates: dx[N, in] += dy · W (skipped when dx is null), dW[out, in] += dyᵀ · x,
// db[out] += Σ_rows dy (skipped when db is null).
void linear_backward(const float* x, const float* W, const float* dy, float* dx, float* dW,
                     float* db, int64_t N, int64_t in, int64_t out);

}  // namespace attnscope::cpu

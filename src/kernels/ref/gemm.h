// Reference matrix products: plain triple loops, row-major, same contract as kernels/cpu/gemm.h.
#pragma once

#include <cstdint>

namespace attnscope::ref {

// C[M, N] = alpha · op(A) · op(B) + beta · C; beta = 0 ignores the old C (even NaN).
template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
          int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t j = 0; j < N; ++j) {
      T acc = 0;
      for (int64_t p = 0; p < K; ++p) {
        const T a = trans_a ? A[p * lda + i] : A[i * lda + p];
        const T b = trans_b ? B[j * ldb + p] : B[p * ldb + j];
        acc += a * b;
      }
      T& c = C[i * ldc + j];
      c = beta == T(0) ? alpha * acc : alpha * acc + beta * c;
    }
  }
}

// y[N, out] = x[N, in] · Wᵀ + b (b may be null).
template <typename T>
void linear_forward(const T* x, const T* W, const T* b, T* y, int64_t N, int64_t in, int64_t out) {
  for (int64_t r = 0; r < N; ++r) {
    for (int64_t o = 0; o < out; ++o) {
      T acc = b ? b[o] : T(0);
      for (int64_t i = 0; i < in; ++i) acc += x[r * in + i] * W[o * in + i];
      y[r * out + o] = acc;
    }
  }
}

// dx[N, in] += dy · W (dx may be null), dW[out, in] += dyᵀ · x, db[out] += Σ_rows dy (db may be
// null).
template <typename T>
void linear_backward(const T* x, const T* W, const T* dy, T* dx, T* dW, T* db, int64_t N,
                     int64_t in, int64_t out) {
  for (int64_t r = 0; r < N; ++r) {
    for (int64_t o = 0; o < out; ++o) {
      const T g = dy[r * out + o];
      for (int64_t i = 0; i < in; ++i) {
        if (dx) dx[r * in + i] += g * W[o * in + i];
        dW[o * in + i] += g * x[r * in + i];
      }
      if (db) db[o] += g;
    }
  }
}

}  // namespace attnscope::ref

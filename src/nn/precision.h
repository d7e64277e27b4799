// The RNN modules (nn/lstm.h, nn/additive_attention.h, nn/rnn_attention_model.h) are written
// once as templates over the scalar type T and compiled twice:
//
//   T = float   the engine: Tensor and Param, matrix products through cblas_sgemm;
//   T = double  the finite-difference checks: DoubleTensor and DoubleParam (below), products
//               through the plain ref::gemm, so a central difference is accurate to ~1e-9.
//
// TensorOf<T> / ParamOf<T> pick the type; gemm_any / linear_*_any pick the product.
#pragma once

#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "kernels/cpu/gemm.h"
#include "kernels/ref/gemm.h"
#include "nn/param.h"

namespace attnscope {

// The subset of Tensor the RNN modules use, holding doubles.
class DoubleTensor {
 public:
  DoubleTensor() = default;
  explicit DoubleTensor(Shape shape) { resize_zero(std::move(shape)); }

  const Shape& shape() const { return shape_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int i) const { return shape_[static_cast<size_t>(i < 0 ? rank() + i : i)]; }
  int64_t numel() const { return static_cast<int64_t>(values_.size()); }
  bool empty() const { return values_.empty(); }
  std::string shape_str() const { return attnscope::shape_str(shape_); }

  double* data() { return values_.data(); }
  const double* data() const { return values_.data(); }
  double& operator[](int64_t i) { return values_[static_cast<size_t>(i)]; }
  double operator[](int64_t i) const { return values_[static_cast<size_t>(i)]; }

  void resize(Shape shape) {
    values_.resize(static_cast<size_t>(shape_numel(shape)));
    shape_ = std::move(shape);
  }
  void resize_zero(Shape shape) {
    resize(std::move(shape));
    zero();
  }
  void zero() { fill(0.0); }
  void fill(double v) { values_.assign(values_.size(), v); }

 private:
  Shape shape_;
  std::vector<double> values_;
};

// Param with double values and gradient (the same members as Param).
struct DoubleParam {
  std::string name;
  DoubleTensor value;
  DoubleTensor grad;

  DoubleParam() = default;
  DoubleParam(std::string n, Shape shape) : name(std::move(n)), value(std::move(shape)) {}
  void alloc_grad() {
    if (grad.numel() != value.numel()) grad = DoubleTensor(value.shape());
  }
  bool has_grad() const { return !grad.empty(); }
};

template <typename T>
using TensorOf = std::conditional_t<std::is_same_v<T, float>, Tensor, DoubleTensor>;
template <typename T>
using ParamOf = std::conditional_t<std::is_same_v<T, float>, Param, DoubleParam>;

// C[M, N] = alpha · op(A) · op(B) + beta · C (the contract of cpu::gemm and ref::gemm).
template <typename T>
void gemm_any(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
              int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  if constexpr (std::is_same_v<T, float>) {
    cpu::gemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  } else {
    ref::gemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  }
}

// y[N, out] = x[N, in] · Wᵀ + b, W [out, in], b [out] or null (nn.Linear).
template <typename T>
void linear_forward_any(const T* x, const T* W, const T* b, T* y, int64_t N, int64_t in,
                        int64_t out) {
  gemm_any<T>(false, true, N, out, in, T(1), x, in, W, in, T(0), y, out);
  if (!b) return;
  for (int64_t r = 0; r < N; ++r)
    for (int64_t o = 0; o < out; ++o) y[r * out + o] += b[o];
}

// Accumulates dx[N, in] += dy · W (skipped when null), dW += dyᵀ · x, db += Σ_rows dy (skipped
// when null).
template <typename T>
void linear_backward_any(const T* x, const T* W, const T* dy, T* dx, T* dW, T* db, int64_t N,
                         int64_t in, int64_t out) {
  if (dx) gemm_any<T>(false, false, N, in, out, T(1), dy, out, W, in, T(1), dx, in);
  gemm_any<T>(true, false, out, in, N, T(1), dy, out, x, in, T(1), dW, in);
  if (!db) return;
  for (int64_t r = 0; r < N; ++r)
    for (int64_t o = 0; o < out; ++o) db[o] += dy[r * out + o];
}

}  // namespace attnscope

// Pointwise activations and their gradients: ReLU, GELU in its exact erf form (PyTorch's default),
// GELU's tanh approximation (Hugging Face's "gelu_new") and SiLU x·σ(x) (Marian's "swish").
#pragma once

#include <cstdint>

namespace attnscope::cpu {

enum class Activation { kRelu, kGelu, kGeluTanh, kSilu };

void activation_forward(Activation a, const float* x, float* y, int64_t n);
// dx[n] += f'(x) ⊙ dy
void activation_backward(Activation a, const float* x, const float* dy, float* dx, int64_t n);

// y[rows, n] += b[n] (bias broadcast over rows)
void add_bias(float* y, const float* b, int64_t rows, int64_t n);
// y[n] = a[n] + b[n]
void add(const float* a, const float* b, float* y, int64_t n);
// y[n] += alpha · x[n]
void axpy(float alpha, const float* x, float* y, int64_t n);

// What a product does to its output while a block of it is still in cache — the decode-step
// products (packed_linear.h, quantized_linear.h) run it on each block of columns as soon as the
// block is done, instead of a pass of its own over [rows, out] on one thread:
//   y = act(y) + residual        (each part optional; the same floats as the separate passes)
struct Epilogue {
  bool activate = false;
  Activation act = Activation::kRelu;
  const float* residual = nullptr;  // [rows, ld], laid out as y
  bool empty() const { return !activate && residual == nullptr; }
};
// Applies e to columns [c0, c0 + cols) of y [rows, ld], on the calling thread.
void apply_epilogue(const Epilogue& e, float* y, int64_t rows, int64_t ld, int64_t c0,
                    int64_t cols);

}  // namespace attnscope::cpu

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

}  // namespace attnscope::cpu

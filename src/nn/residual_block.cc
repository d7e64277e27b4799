#include "nn/residual_block.h"

#include <cstring>

#include "kernels/cpu/activation.h"

namespace attnscope {

void dropout_residual_forward(const float* x, float* y, float* out, int64_t n, bool residual,
                              float p, uint64_t seed) {
  if (p > 0) cpu::dropout_forward(y, y, n, p, seed);
  if (residual) {
    cpu::add(x, y, out, n);
  } else {
    std::memcpy(out, y, static_cast<size_t>(n) * sizeof(float));
  }
}

void dropout_residual_backward(const float* d_out, float* dx, float* dy, int64_t n, bool residual,
                               float p, uint64_t seed) {
  if (residual) cpu::axpy(1.0f, d_out, dx, n);
  if (p > 0) {
    cpu::dropout_backward(d_out, dy, n, p, seed);
  } else {
    cpu::axpy(1.0f, d_out, dy, n);
  }
}

}  // namespace attnscope

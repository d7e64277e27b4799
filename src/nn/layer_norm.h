// nn.LayerNorm over the last axis, with its saved statistics for backward.
#pragma once

#include <string>

#include "nn/param.h"

namespace attnscope {

class LayerNorm {
 public:
  struct Saved {
    Tensor mean;  // [rows]
    Tensor rstd;  // [rows]
  };

  LayerNorm() = default;
  LayerNorm(const std::string& prefix, int64_t dim, float eps);

  // x [rows, dim] → y [rows, dim]
  void forward(const float* x, float* y, int64_t rows, Saved& saved) const;
  // Accumulates dx [rows, dim], dweight, dbias.
  void backward(const float* x, const float* dy, float* dx, int64_t rows, const Saved& saved);
  void visit_params(const ParamVisitor& f);

  Param weight;  // [dim], γ (init 1)
  Param bias;    // [dim], β (init 0)

 private:
  int64_t dim_ = 0;
  float eps_ = 1e-5f;
};

}  // namespace attnscope

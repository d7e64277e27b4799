// nn.Linear: y = x·Wᵀ + b with W [out, in] as PyTorch stores it.
#pragma once

#include <string>

#include "nn/param.h"

namespace attnscope {

class Linear {
 public:
  Linear() = default;
  Linear(const std::string& prefix, int64_t in, int64_t out, bool has_bias = true);

  // x [N, in] → y [N, out]
  void forward(const float* x, float* y, int64_t N) const;
  // Accumulates dx [N, in] (skipped when null), dW and db.
  void backward(const float* x, const float* dy, float* dx, int64_t N);
  void visit_params(const ParamVisitor& f);

  int64_t in() const { return in_; }
  int64_t out() const { return out_; }
  Param weight;  // [out, in]
  Param bias;    // [out], empty when the layer has none

 private:
  int64_t in_ = 0, out_ = 0;
};

}  // namespace attnscope

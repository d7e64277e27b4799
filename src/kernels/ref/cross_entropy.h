// Reference label-smoothed cross-entropy with ignore_index (kernels/cpu/cross_entropy.h), written
// as the definition: loss = (1 − ε)·(−log p_y) + ε · mean_v(−log p_v).
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "core/error.h"
#include "kernels/cpu/cross_entropy.h"

namespace attnscope::ref {

template <typename T>
cpu::CrossEntropyResult cross_entropy(const T* logits, const int32_t* targets, T* dlogits,
                                      int64_t N, int64_t V, int32_t ignore_index, T label_smoothing,
                                      T grad_scale) {
  cpu::CrossEntropyResult res;
  std::vector<T> logp(static_cast<size_t>(V));
  for (int64_t r = 0; r < N; ++r) {
    const T* x = logits + r * V;
    if (targets[r] == ignore_index) {
      if (dlogits)
        for (int64_t v = 0; v < V; ++v) dlogits[r * V + v] = 0;
      continue;
    }
    ATTN_CHECK(targets[r] >= 0 && targets[r] < V, "target {} at row {} is outside [0, {})",
               targets[r], r, V);
    T m = x[0];
    for (int64_t v = 1; v < V; ++v) m = x[v] > m ? x[v] : m;
    T sum = 0;
    for (int64_t v = 0; v < V; ++v) sum += std::exp(x[v] - m);
    const T lse = m + std::log(sum);
    T mean_nll = 0;
    for (int64_t v = 0; v < V; ++v) {
      logp[v] = x[v] - lse;
      mean_nll += -logp[v];
    }
    mean_nll /= static_cast<T>(V);
    const T loss = (T(1) - label_smoothing) * -logp[targets[r]] + label_smoothing * mean_nll;
    res.loss_sum += static_cast<double>(loss);
    res.count += 1;
    if (dlogits) {
      for (int64_t v = 0; v < V; ++v) {
        const T q =
            label_smoothing / static_cast<T>(V) + (v == targets[r] ? T(1) - label_smoothing : T(0));
        dlogits[r * V + v] = grad_scale * (std::exp(logp[v]) - q);
      }
    }
  }
  return res;
}

}  // namespace attnscope::ref

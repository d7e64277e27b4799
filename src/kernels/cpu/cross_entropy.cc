// Label-smoothed cross-entropy with ignore_index (PyTorch F.cross_entropy semantics).
//
// Per counted row, with lse = log Σ_v exp(x_v):
//   loss = (1 − ε)(lse − x_y) + ε (lse − mean_v x_v)
//   dlogits = grad_scale · (softmax(x) − q),  q_v = ε/V + (1 − ε)[v = y]
#include "kernels/cpu/cross_entropy.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"
#include "kernels/cpu/fast_exp.h"
#include "kernels/cpu/row_max.h"

namespace attnscope::cpu {

namespace {
// Rows per chunk. Each chunk sums its losses in order and the chunks are summed in order, so
// loss_sum does not depend on the number of threads.
constexpr int64_t kChunkRows = 16;
}  // namespace

CrossEntropyResult cross_entropy(const float* logits, const int32_t* targets, float* dlogits,
                                 int64_t N, int64_t V, int32_t ignore_index, float label_smoothing,
                                 float grad_scale) {
  ATTN_CHECK(N >= 0 && V > 0, "cross_entropy: bad shape [{}, {}]", N, V);
  ATTN_CHECK(label_smoothing >= 0.0f && label_smoothing <= 1.0f,
             "cross_entropy: label_smoothing {} is outside [0, 1]", label_smoothing);
  CrossEntropyResult res;
  // Validate (and count) before the parallel loop: nothing may throw inside it.
  for (int64_t r = 0; r < N; ++r) {
    if (targets[r] == ignore_index) continue;
    ATTN_CHECK(targets[r] >= 0 && targets[r] < V,
               "cross_entropy: target {} at row {} is outside [0, {}) and not the ignore_index {}",
               targets[r], r, V, ignore_index);
    ++res.count;
  }
  const float eps = label_smoothing;
  const float off_target = eps / static_cast<float>(V);
  const int64_t chunks = (N + kChunkRows - 1) / kChunkRows;
  std::vector<double> chunk_loss(static_cast<size_t>(chunks), 0.0);
#pragma omp parallel for schedule(static) if (N * V > (1 << 14))
  for (int64_t ch = 0; ch < chunks; ++ch) {
    double acc = 0.0;
    for (int64_t r = ch * kChunkRows; r < std::min(N, (ch + 1) * kChunkRows); ++r) {
      const float* x = logits + r * V;  // logits, dlogits [N, V]
      float* dx = dlogits ? dlogits + r * V : nullptr;
      const int32_t y = targets[r];
      if (y == ignore_index) {
        if (dx) std::fill(dx, dx + V, 0.0f);
        continue;
      }
      const float m = row_max(x, V);
      double sum_exp = 0.0, sum_x = 0.0;
#pragma omp simd reduction(+ : sum_exp, sum_x)
      for (int64_t v = 0; v < V; ++v) {
        sum_exp += static_cast<double>(fast_exp(x[v] - m));
        sum_x += static_cast<double>(x[v]);
      }
      const double lse = static_cast<double>(m) + std::log(sum_exp);
      acc += (1.0 - eps) * (lse - static_cast<double>(x[y])) +
             eps * (lse - sum_x / static_cast<double>(V));
      if (dx) {
        const float lse_f = static_cast<float>(lse);
#pragma omp simd
        for (int64_t v = 0; v < V; ++v) dx[v] = grad_scale * (fast_exp(x[v] - lse_f) - off_target);
        dx[y] -= grad_scale * (1.0f - eps);
      }
    }
    chunk_loss[static_cast<size_t>(ch)] = acc;
  }
  for (double l : chunk_loss) res.loss_sum += l;
  return res;
}

}  // namespace attnscope::cpu

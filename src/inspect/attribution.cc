#include "inspect/attribution.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "core/checked_math.h"
#include "core/error.h"
#include "core/memory_limit.h"

namespace attnscope {

const char* attribution_method_name(AttributionMethod m) {
  switch (m) {
    case AttributionMethod::kSaliency:
      return "saliency";
    case AttributionMethod::kInputXGradient:
      return "input-x-gradient";
    case AttributionMethod::kIntegratedGradients:
      return "integrated-gradients";
  }
  return "?";
}

AttributionMethod parse_attribution_method(const std::string& s) {
  for (AttributionMethod m : {AttributionMethod::kSaliency, AttributionMethod::kInputXGradient,
                              AttributionMethod::kIntegratedGradients})
    if (s == attribution_method_name(m)) return m;
  fail("unknown attribution method \"{}\" (saliency, input-x-gradient or integrated-gradients)", s);
}

const char* attribution_baseline_name(AttributionBaseline b) {
  return b == AttributionBaseline::kPad ? "pad" : "zero";
}

AttributionBaseline parse_attribution_baseline(const std::string& s) {
  if (s == "pad") return AttributionBaseline::kPad;
  if (s == "zero") return AttributionBaseline::kZero;
  fail("unknown attribution baseline \"{}\" (pad or zero)", s);
}

namespace {

// Rows [first, first + n) of the batch, each a copy of `one` [1, T, D] interpolated from base:
// base + α_r · (one − base).
void interpolate(const Tensor& one, const Tensor& base, const std::vector<double>& alphas,
                 Tensor& out) {
  const int64_t T = one.dim(1), D = one.dim(2), n = static_cast<int64_t>(alphas.size());
  out.resize({n, T, D});
  for (int64_t r = 0; r < n; ++r) {
    const float a = static_cast<float>(alphas[static_cast<size_t>(r)]);
    float* o = out.data() + r * T * D;
    for (int64_t k = 0; k < T * D; ++k) o[k] = base[k] + a * (one[k] - base[k]);
  }
}

// The n-point Gauss–Legendre rule on [0, 1]: (node, weight) pairs, by Newton's method on the
// Legendre polynomial P_n (its roots from the usual cosine guesses).
std::vector<std::pair<double, double>> gauss_legendre(int64_t n) {
  std::vector<std::pair<double, double>> out;
  const double pi = std::acos(-1.0);
  for (int64_t i = 1; i <= n; ++i) {
    double x = std::cos(pi * (static_cast<double>(i) - 0.25) / (static_cast<double>(n) + 0.5));
    double dp = 1;
    for (int iter = 0; iter < 100; ++iter) {
      double p0 = 1, p1 = x;
      for (int64_t k = 2; k <= n; ++k) {
        const double p2 =
            ((2.0 * static_cast<double>(k) - 1) * x * p1 - (static_cast<double>(k) - 1) * p0) /
            static_cast<double>(k);
        p0 = p1;
        p1 = p2;
      }
      // p1 = P_n(x), p0 = P_{n−1}(x); n = 1 gives P_1 = x, P_0 = 1.
      dp = static_cast<double>(n) * (x * p1 - p0) / (x * x - 1);
      const double dx = p1 / dp;
      x -= dx;
      if (std::abs(dx) < 1e-15) break;
    }
    out.emplace_back((1 - x) / 2, 1 / ((1 - x * x) * dp * dp));  // on [0, 1]: half of 2/(…)
  }
  return out;
}

TokenBatch repeat(const std::vector<int32_t>& ids, int64_t rows) {
  TokenBatch b{rows, static_cast<int64_t>(ids.size()), {}};
  b.ids.reserve(static_cast<size_t>(rows) * ids.size());
  for (int64_t r = 0; r < rows; ++r) b.ids.insert(b.ids.end(), ids.begin(), ids.end());
  return b;
}

}  // namespace

Attribution attribute_tokens(Seq2SeqModel& model, const std::vector<int32_t>& src_ids,
                             const std::vector<int32_t>& tgt_in,
                             const std::vector<int32_t>& outputs, const AttributionOptions& opt) {
  const ModelInfo info = model.info();
  ATTN_CHECK(info.input_gradients,
             "attribution needs gradients with respect to the input embeddings: an {} model{} "
             "has none",
             info.arch, info.on_device ? " on " + info.device : std::string());
  const int64_t N = static_cast<int64_t>(outputs.size()), Ts = static_cast<int64_t>(src_ids.size());
  ATTN_CHECK(N > 0 && Ts > 0, "nothing to attribute: {} source and {} output tokens", Ts, N);
  ATTN_CHECK(static_cast<int64_t>(tgt_in.size()) == N,
             "{} decoder inputs for {} output tokens (the inputs are the start token and all "
             "outputs but the last)",
             tgt_in.size(), N);
  ATTN_CHECK(opt.steps >= 1 && opt.steps <= (int64_t{1} << 20),
             "integrated gradients' steps must be from 1 to 2^20, not {}", opt.steps);
  const int64_t V = info.tgt_vocab;
  for (int32_t y : outputs)
    ATTN_CHECK(y >= 0 && y < V, "output token {} is outside the vocabulary of {} ids", y, V);

  // The quadrature: α_k and its weight (one point α = 1 for the gradient methods). Integrated
  // gradients: Gauss–Legendre nodes on (0, 1) (exact for polynomials of degree 2·steps − 1),
  // between α = 0 and α = 1 of weight 0, which give log p at the baseline and at the input.
  const bool ig = opt.method == AttributionMethod::kIntegratedGradients;
  std::vector<double> alphas, weights;
  if (ig) {
    alphas.push_back(0.0);
    weights.push_back(0.0);
    const auto nodes = gauss_legendre(opt.steps);
    for (const auto& [x, w] : nodes) {
      alphas.push_back(x);
      weights.push_back(w);
    }
    alphas.push_back(1.0);
    weights.push_back(0.0);
  } else {
    alphas = {1.0};
    weights = {1.0};
  }
  const int64_t A = static_cast<int64_t>(alphas.size()), rows_total = A * N;

  const TokenBatch src1{1, Ts, src_ids}, tgt1{1, N, tgt_in};
  const Tensor src_e = model.token_embeddings(InputSide::kSource, src1);  // [1, Ts, D]
  const Tensor tgt_e = model.token_embeddings(InputSide::kTarget, tgt1);  // [1, N, D]
  const int64_t D = src_e.dim(2);
  Tensor src_b({1, Ts, D}), tgt_b({1, N, D});  // zeros
  if (opt.baseline == AttributionBaseline::kPad) {
    src_b = model.token_embeddings(
        InputSide::kSource, TokenBatch{1, Ts, std::vector<int32_t>(src_ids.size(), info.pad_id)});
    tgt_b = model.token_embeddings(
        InputSide::kTarget, TokenBatch{1, N, std::vector<int32_t>(tgt_in.size(), info.pad_id)});
  }

  // Σ_k w_k ∂ log p(y_i) / ∂e at α_k, per output i: [N, Ts, D] and [N, N, D] (in double),
  // planned against the memory cap first (N and Ts are bounded by max_len, D by the model).
  const std::string what = "attribution";
  check_memory_plan(
      "attribution's gradient sums",
      checked_add(tensor_bytes_live(),
                  checked_mul(8, checked_mul(N, checked_mul(Ts + N, D, what), what), what), what),
      "attribute a shorter sentence");
  std::vector<double> g_src(static_cast<size_t>(N * Ts * D), 0.0);
  std::vector<double> g_tgt(static_cast<size_t>(N * N * D), 0.0);
  Attribution out;
  out.outputs = N;
  out.log_prob.assign(static_cast<size_t>(N), 0.0);
  if (ig) out.baseline_log_prob.assign(static_cast<size_t>(N), 0.0);

  model.alloc_grads();
  const int64_t per_row = N * V;
  const int64_t chunk = std::max<int64_t>(1, std::min(rows_total, opt.max_logit_floats / per_row));
  Tensor src_x, tgt_x, d_logits;
  for (int64_t first = 0; first < rows_total; first += chunk) {
    const int64_t n = std::min(chunk, rows_total - first);
    // Row r of the batch: α index (first + r) / N, output (first + r) % N.
    std::vector<double> row_alpha(static_cast<size_t>(n));
    for (int64_t r = 0; r < n; ++r)
      row_alpha[static_cast<size_t>(r)] = alphas[static_cast<size_t>((first + r) / N)];
    interpolate(src_e, src_b, row_alpha, src_x);
    interpolate(tgt_e, tgt_b, row_alpha, tgt_x);
    ForwardOptions fo;
    fo.src_embeddings = &src_x;
    fo.tgt_embeddings = &tgt_x;
    const TokenBatch src = repeat(src_ids, n), tgt = repeat(tgt_in, n);
    const Tensor& logits = model.forward(src, tgt, fo);  // [n, N, V]
    d_logits.resize_zero({n, N, V});
    for (int64_t r = 0; r < n; ++r) {
      const int64_t k = (first + r) / N, i = (first + r) % N;
      const float* l = logits.data() + (r * N + i) * V;
      float* d = d_logits.data() + (r * N + i) * V;
      double mx = l[0];
      for (int64_t v = 1; v < V; ++v) mx = std::max(mx, static_cast<double>(l[v]));
      double sum = 0;
      for (int64_t v = 0; v < V; ++v) sum += std::exp(l[v] - mx);
      const double lse = mx + std::log(sum);
      const int32_t y = outputs[static_cast<size_t>(i)];
      // ∂ log p(y) / ∂ logits = onehot(y) − softmax.
      for (int64_t v = 0; v < V; ++v) d[v] = static_cast<float>(-std::exp(l[v] - lse));
      d[y] += 1.0f;
      const double lp = l[y] - lse;
      if (k == A - 1) out.log_prob[static_cast<size_t>(i)] = lp;
      if (ig && k == 0) out.baseline_log_prob[static_cast<size_t>(i)] = lp;
    }
    model.backward(d_logits);
    const Tensor& gs = model.input_gradient(InputSide::kSource);  // [n, Ts, D]
    const Tensor& gt = model.input_gradient(InputSide::kTarget);  // [n, N, D]
    for (int64_t r = 0; r < n; ++r) {
      const int64_t k = (first + r) / N, i = (first + r) % N;
      const double w = weights[static_cast<size_t>(k)];
      for (int64_t e = 0; e < Ts * D; ++e)
        g_src[static_cast<size_t>(i * Ts * D + e)] += w * gs[r * Ts * D + e];
      for (int64_t e = 0; e < N * D; ++e)
        g_tgt[static_cast<size_t>(i * N * D + e)] += w * gt[r * N * D + e];
    }
  }

  // Scores per token from the gradients.
  auto score = [&](const std::vector<double>& g, const Tensor& x, const Tensor& b, int64_t T,
                   Tensor& s) {
    s = Tensor({N, T});
    for (int64_t i = 0; i < N; ++i)
      for (int64_t j = 0; j < T; ++j) {
        const double* gj = g.data() + (i * T + j) * D;
        double v = 0;
        for (int64_t d = 0; d < D; ++d) {
          const double xd = x[j * D + d];
          switch (opt.method) {
            case AttributionMethod::kSaliency:
              v += gj[d] * gj[d];
              break;
            case AttributionMethod::kInputXGradient:
              v += xd * gj[d];
              break;
            case AttributionMethod::kIntegratedGradients:
              v += (xd - b[j * D + d]) * gj[d];
              break;
          }
        }
        s[i * T + j] =
            static_cast<float>(opt.method == AttributionMethod::kSaliency ? std::sqrt(v) : v);
      }
  };
  score(g_src, src_e, src_b, Ts, out.source);
  score(g_tgt, tgt_e, tgt_b, N, out.target);

  out.score_sum.assign(static_cast<size_t>(N), 0.0);
  double gap = 0, moved = 0;
  for (int64_t i = 0; i < N; ++i) {
    double s = 0;
    for (int64_t j = 0; j < Ts; ++j) s += out.source[i * Ts + j];
    for (int64_t j = 0; j < N; ++j) s += out.target[i * N + j];
    out.score_sum[static_cast<size_t>(i)] = s;
    if (ig) {
      const double delta =
          out.log_prob[static_cast<size_t>(i)] - out.baseline_log_prob[static_cast<size_t>(i)];
      gap += std::abs(s - delta);
      moved += std::abs(delta);
    }
  }
  out.completeness_gap = ig && moved > 0 ? gap / moved : 0.0;
  return out;
}

void attribution_shares(const Attribution& a, Tensor& source, Tensor& target) {
  const int64_t N = a.outputs, Ts = a.source.dim(1);
  source = Tensor({N, Ts});
  target = Tensor({N, N});
  for (int64_t i = 0; i < N; ++i) {
    double total = 0;
    for (int64_t j = 0; j < Ts; ++j) total += std::abs(a.source[i * Ts + j]);
    for (int64_t j = 0; j < N; ++j) total += std::abs(a.target[i * N + j]);
    const double inv = total > 0 ? 1.0 / total : 0.0;
    for (int64_t j = 0; j < Ts; ++j)
      source[i * Ts + j] = static_cast<float>(std::abs(a.source[i * Ts + j]) * inv);
    for (int64_t j = 0; j < N; ++j)
      target[i * N + j] = static_cast<float>(std::abs(a.target[i * N + j]) * inv);
  }
}

}  // namespace attnscope

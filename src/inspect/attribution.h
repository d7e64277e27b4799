// Gradient-based attribution per output token (attnscope attribute): for each token y_i of a
// translation, a score for every source token and every earlier target token, from the gradient
// of log p(y_i | source, y_<i) with respect to the input token embeddings (before positions are
// added), through the model's own explicit backward (Seq2SeqModel::input_gradient).
//
//   saliency              ‖∂ log p / ∂e_j‖₂ over the embedding dimension (no sign)
//   input-x-gradient      Σ_d e_jd · ∂ log p / ∂e_jd (signed)
//   integrated-gradients  Σ_d (e_jd − b_jd) · ∫₀¹ ∂ log p / ∂e_jd at b + α(e − b) dα (signed),
//                         the integral by the `steps`-point Gauss–Legendre rule, every α
//                         and every output token one row of the same batches. The baseline b is
//                         the pad token's embedding at every position (or zeros); positions
//                         and masks stay those of the real input. Completeness: the scores of
//                         output i sum to log p(y_i | x) − log p(y_i | b) up to the quadrature
//                         error, reported as the completeness gap.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "nn/seq2seq_model.h"

namespace attnscope {

enum class AttributionMethod { kSaliency, kInputXGradient, kIntegratedGradients };
enum class AttributionBaseline { kPad, kZero };

// "saliency", "input-x-gradient", "integrated-gradients"; "pad", "zero".
const char* attribution_method_name(AttributionMethod m);
AttributionMethod parse_attribution_method(const std::string& s);
const char* attribution_baseline_name(AttributionBaseline b);
AttributionBaseline parse_attribution_baseline(const std::string& s);

struct AttributionOptions {
  AttributionMethod method = AttributionMethod::kSaliency;
  int64_t steps = 32;  // integrated gradients' quadrature points (≥ 1)
  AttributionBaseline baseline = AttributionBaseline::kPad;
  // The batch: rows (one per α and output token) per forward/backward are capped so that the
  // logits [rows, N, V] stay under this many floats.
  int64_t max_logit_floats = int64_t{1} << 24;
};

struct Attribution {
  int64_t outputs = 0;  // N: the output tokens y_1 … y_N
  Tensor source;        // [N, Ts]: row i the scores of the source tokens for y_{i+1}
  Tensor target;        // [N, N]: column j the decoder input j (start, y_1, …); 0 for j > i
  std::vector<double> log_prob;           // [N] log p(y_i | x)
  std::vector<double> baseline_log_prob;  // [N] log p(y_i | baseline) (integrated gradients)
  std::vector<double> score_sum;          // [N] Σ of row i's scores, source and target
  // Integrated gradients: Σ_i |score_sum − (log_prob − baseline_log_prob)| / Σ_i |log_prob −
  // baseline_log_prob| (0 when the model's log-probabilities do not move at all). Else 0.
  double completeness_gap = 0;
};

// src_ids: the source as the model sees it (eos included); tgt_in: the decoder's inputs (the
// start token, y_1 … y_{N−1}); outputs: y_1 … y_N. Needs info().input_gradients (an
// attnscope::Error naming the architecture otherwise). Uses the model's gradient buffers
// (allocated if missing) and leaves the model's activations of its last batch.
Attribution attribute_tokens(Seq2SeqModel& model, const std::vector<int32_t>& src_ids,
                             const std::vector<int32_t>& tgt_in,
                             const std::vector<int32_t>& outputs, const AttributionOptions& opt);

// Each row's share of the row's absolute scores, source and target together: [N, Ts] and
// [N, N] that sum to 1 per row (0 where a row has no score at all): what the pictures and the
// viewer show.
void attribution_shares(const Attribution& a, Tensor& source, Tensor& target);

}  // namespace attnscope

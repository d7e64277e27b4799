// `attnscope explain`: one attention layer, step by step, on numbers small enough to read.
//
// Every step is computed with the library's real kernels (cpu::gemm for the projections,
// cpu::gemm_batched for Q·Kᵀ and weights·V over the whole batch in one call, cpu::softmax_forward
// with the additive −∞ mask) and the result is cross-checked against cpu::attention_forward.
// The steps are returned as data (explain_steps) and rendered as text or JSON (explain), so both
// the numbers and the words are testable.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace attnscope {

struct ExplainOptions {
  int64_t batch = 2, len = 3, dim = 4, heads = 1;
  bool causal = false;
  int64_t pad = 0;  // padded positions at the end of the last sequence
  uint64_t seed = 0;
  bool json = false;
};

// Largest batch, len and dim explain accepts (the output is meant to be read).
inline constexpr int64_t kExplainMaxSize = 64;

// Throws attnscope::Error naming the bad option.
void validate_explain_options(const ExplainOptions& opt);

// How the rows / columns of a step's last two axes are labelled in the text.
enum class ExplainAxis { kNone, kToken, kQuery, kKey };

struct ExplainStep {
  std::string name;   // identifier: "X", "W_Q", "Q", "scores", "weights", "Z", "out", ...
  std::string title;  // the formula, e.g. "scores = Q·Kᵀ"
  Shape shape;
  std::string detail;         // printed after the shape, e.g. "d_k = 4 (the key width, ...)"
  std::vector<float> values;  // row-major, shape_numel(shape) values; the mask holds −∞
  std::string note;           // one or two sentences of explanation
  int decimals = 4;
  ExplainAxis rows = ExplainAxis::kNone, cols = ExplainAxis::kNone;
  std::vector<float> row_sums;  // the weights step only: Σ over the last axis of each row
};

struct ExplainResult {
  ExplainOptions options;
  int64_t d_k = 0;  // the key width per head = dim / heads
  std::vector<ExplainStep> steps;
  float max_diff_out = 0;            // |step-by-step attention output − cpu::attention_forward|
  float max_diff_weights = 0;        // |step-by-step weights − the kernel's probs|
  std::vector<std::string> reading;  // the "what to read" lines
  const ExplainStep& step(const std::string& name) const;  // throws Error when absent
};

// Computes every step (validates the options first).
ExplainResult explain_steps(const ExplainOptions& opt);

// Renders a result as text, or as JSON {"steps":[{"name","title","shape","values","note"}], ...}
// where masked (−∞) values are written as the string "-inf".
std::string render_explain_text(const ExplainResult& r);
std::string render_explain_json(const ExplainResult& r);

// explain_steps + the renderer that opt.json picks.
std::string explain(const ExplainOptions& opt);

}  // namespace attnscope

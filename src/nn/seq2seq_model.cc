#include "nn/seq2seq_model.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <numeric>

#include "core/error.h"
#include "kernels/cpu/softmax.h"

namespace attnscope {

void Seq2SeqModel::no_value_vectors() const {
  fail(
      "an {} model has no value vectors and output projection per head to weigh its attention "
      "with",
      info().arch);
}

Tensor Seq2SeqModel::attention_values(AttentionKind, int64_t) const {
  no_value_vectors();
}

const Tensor& Seq2SeqModel::attention_output_weight(AttentionKind, int64_t) const {
  no_value_vectors();
}

void Seq2SeqModel::no_input_gradients() const {
  const ModelInfo i = info();
  fail("an {} model{} gives no gradients with respect to its input embeddings", i.arch,
       i.on_device ? " on " + i.device : std::string());
}

void Seq2SeqModel::no_head_gates() const {
  const ModelInfo i = info();
  if (i.on_device) fail("a model on {} has no head gates: run it on the CPU", i.device);
  fail("an {} model has no head gates: {}", i.arch,
       i.heads == 1 ? "it has one attention head per attention (switching it off removes "
                      "attention altogether, there are no heads to compare)"
                    : "its attention has no per-head output to switch off");
}

Tensor Seq2SeqModel::token_embeddings(InputSide, const TokenBatch&) const {
  no_input_gradients();
}

const Tensor& Seq2SeqModel::input_gradient(InputSide) const {
  no_input_gradients();
}

void Seq2SeqModel::set_head_gates(AttentionKind, int64_t, std::vector<float>) {
  no_head_gates();
}

std::vector<float> Seq2SeqModel::head_gates(AttentionKind, int64_t) const {
  no_head_gates();
}

Tensor Seq2SeqModel::head_gate_gradient(AttentionKind, int64_t) const {
  no_head_gates();
}

void Seq2SeqModel::check_extra_tensor(const std::string& file, const std::string& name,
                                      const Tensor& t) const {
  const std::string hint = unexpected_tensor_hint(name);
  fail("{}: unexpected tensor \"{}\" {}{}", file, name, t.shape_str(),
       hint.empty() ? "" : " (" + hint + ")");
}

void Seq2SeqModel::set_step_weights(cpu::WeightFormat format) {
  ATTN_CHECK(format == cpu::WeightFormat::kF32,
             "--precision {}: the {} architecture decodes in fp32 only (bf16 and int8 weights are "
             "for Transformer models)",
             cpu::weight_format_name(format), config().arch());
}

std::string Seq2SeqModel::unexpected_tensor_hint(const std::string&) const {
  return {};
}

void Seq2SeqModel::backward_reporting(const Tensor& d_logits, const ParamVisitor& grad_final) {
  backward(d_logits);
  std::vector<Param*> params;
  visit_params([&](Param& p) { params.push_back(&p); });
  for (auto it = params.rbegin(); it != params.rend(); ++it) grad_final(**it);
}

Tensor Seq2SeqModel::attention_heads(AttentionKind kind, int64_t layer,
                                     const std::vector<int64_t>& heads) const {
  const Tensor& all = attention(kind, layer);  // [G, H, rows, cols]
  ATTN_CHECK(all.rank() == 4, "{} attention of layer {} is {}, not [B, H, Tq, Tk]",
             attention_kind_name(kind), layer, all.shape_str());
  const int64_t G = all.dim(0), H = all.dim(1), per_head = all.dim(2) * all.dim(3);
  for (int64_t h : heads) ATTN_CHECK(h >= 0 && h < H, "head {} does not exist (of {})", h, H);
  const auto n = static_cast<int64_t>(heads.size());
  Tensor out({G, n, all.dim(2), all.dim(3)});
  for (int64_t g = 0; g < G; ++g)
    for (int64_t k = 0; k < n; ++k)
      std::memcpy(out.data() + (g * n + k) * per_head,
                  all.data() + (g * H + heads[static_cast<size_t>(k)]) * per_head,
                  static_cast<size_t>(per_head) * sizeof(float));
  return out;
}

void Seq2SeqModel::decode_step_topk(DecoderState& state, const std::vector<int32_t>& tokens,
                                    const StepTopKRequest& request, StepTopK& out) {
  const Tensor& logits = decode_step(state, tokens);  // [R, V]
  const int64_t R = logits.dim(0), V = logits.dim(1), k = request.k;
  ATTN_CHECK(k >= 1, "decode_step_topk: k must be ≥ 1, got {}", k);
  ATTN_CHECK(static_cast<int64_t>(request.offsets.size()) == R,
             "decode_step_topk: {} offsets for {} rows", request.offsets.size(), R);
  std::vector<float> logp(static_cast<size_t>(R * V));
  cpu::log_softmax_forward(logits.data(), logp.data(), R, V);
  out.k = k;
  out.values.assign(static_cast<size_t>(R * k), -std::numeric_limits<float>::infinity());
  out.ids.assign(static_cast<size_t>(R * k), -1);
  std::vector<int32_t> order;
  for (int64_t r = 0; r < R; ++r) {
    const float offset = request.offsets[static_cast<size_t>(r)];
    const float* row = logp.data() + r * V;
    // The selectable tokens: not banned, and finite (as on a device, −∞ is never selected).
    order.clear();
    for (int32_t v = 0; v < static_cast<int32_t>(V); ++v)
      if (row[v] > -std::numeric_limits<float>::infinity() &&
          std::find(request.banned.begin(), request.banned.end(), v) == request.banned.end())
        order.push_back(v);
    const auto n = std::min<size_t>(order.size(), static_cast<size_t>(k));
    // offset + log p as beam search adds it; the larger first, ties to the smaller id.
    const auto value = [&](int32_t v) { return offset + row[v]; };
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n), order.end(),
                      [&](int32_t a, int32_t b) {
                        const float va = value(a), vb = value(b);
                        return va > vb || (va == vb && a < b);
                      });
    for (size_t i = 0; i < n; ++i) {
      out.values[static_cast<size_t>(r * k) + i] = value(order[i]);
      out.ids[static_cast<size_t>(r * k) + i] = order[i];
    }
  }
}

}  // namespace attnscope

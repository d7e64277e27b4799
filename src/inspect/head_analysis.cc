#include "inspect/head_analysis.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"

namespace attnscope {

std::string head_id_name(const HeadId& h) {
  return std::string(attention_kind_name(h.kind)) + ":" + std::to_string(h.layer) + ":" +
         std::to_string(h.head);
}

std::vector<HeadId> all_heads(const Seq2SeqModel& model) {
  std::vector<HeadId> out;
  const int64_t H = model.info().heads;
  for (AttentionKind kind : kAllAttentionKinds)
    for (int64_t l = 0; l < model.num_layers(kind); ++l)
      for (int64_t h = 0; h < H; ++h) out.push_back({kind, l, h});
  return out;
}

HeadStats head_confidence_and_importance(Seq2SeqModel& model,
                                         const std::vector<ReferencePair>& pairs, int64_t batch) {
  const ModelInfo info = model.info();
  if (!info.head_gates) model.head_gates(AttentionKind::kCross, 0);  // the architecture's reason
  ATTN_CHECK(!pairs.empty(), "no sentence pairs to analyse the heads on");
  ATTN_CHECK(batch >= 1, "the batch must hold at least one sentence, not {}", batch);
  const std::vector<HeadId> heads = all_heads(model);
  const int64_t H = info.heads, V = info.tgt_vocab;
  HeadStats st;
  st.confidence.assign(heads.size(), 0.0);
  st.importance.assign(heads.size(), 0.0);
  std::vector<double> conf_count(heads.size(), 0.0);
  for (const ReferencePair& p : pairs) {
    ATTN_CHECK(!p.src.empty() && !p.out.empty(), "an empty sentence pair");
    ATTN_CHECK(static_cast<int64_t>(p.src.size()) <= info.max_len &&
                   static_cast<int64_t>(p.out.size()) <= info.max_len,
               "a sentence pair of {} and {} tokens; the model takes at most {}", p.src.size(),
               p.out.size(), info.max_len);
  }
  // Similar lengths together: less padding.
  std::vector<size_t> order(pairs.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return pairs[a].src.size() + pairs[a].out.size() < pairs[b].src.size() + pairs[b].out.size();
  });
  model.alloc_grads();
  Tensor d_logits;
  double nll = 0;
  for (size_t first = 0; first < order.size(); first += static_cast<size_t>(batch)) {
    const size_t n = std::min(static_cast<size_t>(batch), order.size() - first);
    int64_t Ts = 0, Tt = 0;
    for (size_t r = 0; r < n; ++r) {
      Ts = std::max<int64_t>(Ts, static_cast<int64_t>(pairs[order[first + r]].src.size()));
      Tt = std::max<int64_t>(Tt, static_cast<int64_t>(pairs[order[first + r]].out.size()));
    }
    const int64_t B = static_cast<int64_t>(n);
    TokenBatch src{B, Ts, std::vector<int32_t>(static_cast<size_t>(B * Ts), info.pad_id)};
    TokenBatch tgt{B, Tt, std::vector<int32_t>(static_cast<size_t>(B * Tt), info.pad_id)};
    std::vector<int64_t> src_len(n), tgt_len(n);
    for (size_t r = 0; r < n; ++r) {
      const ReferencePair& p = pairs[order[first + r]];
      src_len[r] = static_cast<int64_t>(p.src.size());
      tgt_len[r] = static_cast<int64_t>(p.out.size());
      std::copy(p.src.begin(), p.src.end(), src.ids.begin() + static_cast<int64_t>(r) * Ts);
      // The decoder's inputs: the start token and all outputs but the last.
      tgt.ids[r * static_cast<size_t>(Tt)] = info.decoder_start_id;
      std::copy(p.out.begin(), p.out.end() - 1, tgt.ids.begin() + static_cast<int64_t>(r) * Tt + 1);
    }
    const Tensor& logits = model.forward(src, tgt, ForwardOptions{});  // [B, Tt, V]
    // Confidence from this pass's weights [B, H, Tq, Tk].
    for (size_t k = 0; k < heads.size(); ++k) {
      const HeadId& id = heads[k];
      if (id.head != 0) continue;  // one read per layer covers its heads
      const Tensor& w = model.attention(id.kind, id.layer);
      const int64_t Tq = w.dim(2), Tk = w.dim(3);
      const bool source_queries = id.kind == AttentionKind::kEncoderSelf;
      for (int64_t b = 0; b < B; ++b) {
        const int64_t rows =
            source_queries ? src_len[static_cast<size_t>(b)] : tgt_len[static_cast<size_t>(b)];
        for (int64_t h = 0; h < H; ++h)
          for (int64_t q = 0; q < rows; ++q) {
            const float* row = w.data() + ((b * H + h) * Tq + q) * Tk;
            st.confidence[k + static_cast<size_t>(h)] += *std::max_element(row, row + Tk);
            conf_count[k + static_cast<size_t>(h)] += 1;
          }
      }
    }
    // ∂(Σ_t −log p(y_t)) / ∂logits = softmax − onehot at the reference's positions.
    d_logits.resize_zero({B, Tt, V});
    for (int64_t b = 0; b < B; ++b) {
      const ReferencePair& p = pairs[order[first + static_cast<size_t>(b)]];
      for (int64_t t = 0; t < tgt_len[static_cast<size_t>(b)]; ++t) {
        const float* l = logits.data() + (b * Tt + t) * V;
        float* d = d_logits.data() + (b * Tt + t) * V;
        const float mx = *std::max_element(l, l + V);
        double sum = 0;
        for (int64_t v = 0; v < V; ++v) sum += std::exp(static_cast<double>(l[v] - mx));
        const double lse = mx + std::log(sum);
        for (int64_t v = 0; v < V; ++v) d[v] = static_cast<float>(std::exp(l[v] - lse));
        const int32_t y = p.out[static_cast<size_t>(t)];
        d[y] -= 1.0f;
        nll -= l[y] - lse;
        ++st.tokens;
      }
    }
    model.backward(d_logits);
    for (size_t k = 0; k < heads.size(); ++k) {
      const HeadId& id = heads[k];
      if (id.head != 0) continue;
      const Tensor g = model.head_gate_gradient(id.kind, id.layer);  // [B, H]
      for (int64_t b = 0; b < B; ++b)
        for (int64_t h = 0; h < H; ++h)
          st.importance[k + static_cast<size_t>(h)] += std::abs(g[b * H + h]);
    }
    st.sentences += B;
  }
  for (size_t k = 0; k < heads.size(); ++k) {
    st.confidence[k] = conf_count[k] > 0 ? st.confidence[k] / conf_count[k] : 0.0;
    st.importance[k] /= static_cast<double>(st.sentences);
  }
  st.loss = st.tokens > 0 ? nll / static_cast<double>(st.tokens) : 0.0;
  return st;
}

}  // namespace attnscope

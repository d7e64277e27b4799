#include "decode/beam_search.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

#include "core/error.h"

namespace attnscope {

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// out [R, V] = log-softmax of each row of logits [R, V].
void log_softmax_rows(const Tensor& logits, Tensor& out) {
  const int64_t R = logits.dim(0), V = logits.dim(1);
  out.resize({R, V});
  std::memcpy(out.data(), logits.data(), static_cast<size_t>(R * V) * sizeof(float));
  for (int64_t r = 0; r < R; ++r) {
    float* row = out.data() + r * V;
    const float m = *std::max_element(row, row + V);
    double sum = 0;
    for (int64_t v = 0; v < V; ++v) sum += std::exp(static_cast<double>(row[v] - m));
    const float lse = m + static_cast<float>(std::log(sum));
    for (int64_t v = 0; v < V; ++v) row[v] -= lse;
  }
}

// One row of the beam: a live partial hypothesis.
struct Beam {
  std::vector<int32_t> tokens;
  float log_prob = kNegInf;  // −∞: an empty slot
};

// Where a finished hypothesis ended: its row at step `step`.
struct Ending {
  Hypothesis hyp;
  int64_t step = 0, row = 0;
};

float penalised(float log_prob, size_t length, float alpha) {
  return alpha == 0.0f ? log_prob : log_prob / std::pow(static_cast<float>(length), alpha);
}

// The attention maps of one decoding step, copied out of the model.
struct StepMaps {
  std::vector<Tensor> self;   // per layer [R, H, 1, t+1]
  std::vector<Tensor> cross;  // per layer [R, H, 1, Ts]
};

}  // namespace

std::vector<std::vector<Hypothesis>> beam_search(Transformer& model, const TokenBatch& src,
                                                 const DecodeOptions& opt) {
  const ModelConfig& cfg = model.config();
  const int64_t B = src.rows, Ts = src.cols, K = opt.beam, V = cfg.tgt_vocab;
  ATTN_CHECK(K >= 1 && K <= 64, "beam size must be between 1 and 64, got {}", K);
  ATTN_CHECK(opt.nbest >= 1 && opt.nbest <= K,
             "nbest ({}) must be between 1 and the beam size ({})", opt.nbest, K);
  ATTN_CHECK(B >= 1 && Ts >= 1, "nothing to translate: source batch [{}, {}]", B, Ts);

  // Source lengths (without padding) set each sentence's step limit.
  std::vector<int64_t> src_len(static_cast<size_t>(B), 0), limit(static_cast<size_t>(B), 0);
  int64_t max_steps = 1;
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t j = 0; j < Ts; ++j) src_len[b] += src.at(b, j) != cfg.pad_id;
    limit[b] = std::min<int64_t>(
        cfg.max_len,
        static_cast<int64_t>(std::ceil(opt.max_len_ratio * static_cast<float>(src_len[b]))) +
            opt.max_len_extra);
    limit[b] = std::max<int64_t>(limit[b], 1);
    max_steps = std::max(max_steps, limit[b]);
  }

  DecoderCache cache = model.start_decoding(src, K, max_steps);
  const int64_t L = model.num_layers(AttentionKind::kDecoderSelf);
  const int64_t Le = model.num_layers(AttentionKind::kEncoderSelf);

  // Encoder maps per sentence, trimmed to its real length.
  std::vector<std::vector<Tensor>> encoder_maps(static_cast<size_t>(B));
  if (opt.capture_attention) {
    for (int64_t l = 0; l < Le; ++l) {
      const Tensor& p = model.attention(AttentionKind::kEncoderSelf, l);  // [B, H, Ts, Ts]
      const int64_t H = p.dim(1);
      for (int64_t b = 0; b < B; ++b) {
        const int64_t n = src_len[b];
        Tensor t({H, n, n});
        for (int64_t h = 0; h < H; ++h)
          for (int64_t i = 0; i < n; ++i)
            std::memcpy(t.data() + (h * n + i) * n, p.data() + ((b * H + h) * Ts + i) * Ts,
                        static_cast<size_t>(n) * sizeof(float));
        encoder_maps[b].push_back(std::move(t));
      }
    }
  }

  std::vector<Beam> beams(static_cast<size_t>(B * K));
  for (int64_t b = 0; b < B; ++b) beams[b * K].log_prob = 0.0f;  // one live beam to start
  std::vector<int32_t> feed(static_cast<size_t>(B * K), cfg.bos_id);
  std::vector<std::vector<Ending>> endings(static_cast<size_t>(B));
  std::vector<bool> done(static_cast<size_t>(B), false);
  std::vector<std::vector<int64_t>>
      from_history;  // from_history[s][r]: row at step s of row r at s+1
  std::vector<StepMaps> maps;

  struct Candidate {
    float log_prob;
    int64_t row;
    int32_t token;
  };
  std::vector<Candidate> cands;
  Tensor logp;  // [R, V]

  for (int64_t t = 0; t < max_steps; ++t) {
    log_softmax_rows(model.decode_step(cache, feed), logp);
    if (opt.capture_attention) {
      StepMaps m;
      for (int64_t l = 0; l < L; ++l) {
        m.self.push_back(model.attention(AttentionKind::kDecoderSelf, l).clone());
        m.cross.push_back(model.attention(AttentionKind::kCross, l).clone());
      }
      maps.push_back(std::move(m));
    }
    std::vector<int64_t> from(static_cast<size_t>(B * K));
    std::vector<Beam> next(static_cast<size_t>(B * K));
    for (int64_t b = 0; b < B; ++b) {
      for (int64_t k = 0; k < K; ++k) from[b * K + k] = b * K;  // dead rows copy any row
      if (done[b]) continue;
      const bool last_step = t + 1 >= limit[b];
      cands.clear();
      for (int64_t k = 0; k < K; ++k) {
        const int64_t r = b * K + k;
        if (beams[r].log_prob == kNegInf) continue;
        const float* row = logp.data() + r * V;
        for (int64_t v = 0; v < V; ++v) {
          if (!opt.stop_at_eos && v == cfg.eos_id) continue;
          if (v == cfg.pad_id || v == cfg.bos_id) continue;
          cands.push_back({beams[r].log_prob + row[v], r, static_cast<int32_t>(v)});
        }
      }
      const size_t keep = std::min<size_t>(cands.size(), static_cast<size_t>(2 * K));
      std::partial_sort(
          cands.begin(), cands.begin() + static_cast<int64_t>(keep), cands.end(),
          [](const Candidate& x, const Candidate& y) { return x.log_prob > y.log_prob; });
      int64_t filled = 0;
      for (size_t i = 0; i < keep && filled < K; ++i) {
        const Candidate& c = cands[i];
        const bool eos = opt.stop_at_eos && c.token == cfg.eos_id;
        if (eos || last_step) {
          Ending e;
          e.hyp.tokens = beams[c.row].tokens;
          if (!eos) e.hyp.tokens.push_back(c.token);
          e.hyp.log_prob = c.log_prob;
          e.hyp.finished = eos;
          e.hyp.score = penalised(c.log_prob, e.hyp.tokens.size() + 1, opt.length_penalty);
          e.step = t;
          e.row = c.row;
          endings[b].push_back(std::move(e));
          if (last_step) ++filled;  // at the last step every candidate ends a hypothesis
          continue;
        }
        const int64_t r = b * K + filled;
        next[r].tokens = beams[c.row].tokens;
        next[r].tokens.push_back(c.token);
        next[r].log_prob = c.log_prob;
        from[r] = c.row;
        feed[r] = c.token;
        ++filled;
      }
      if (last_step || static_cast<int64_t>(endings[b].size()) >= K) done[b] = true;
    }
    from_history.push_back(from);
    beams = std::move(next);
    if (std::all_of(done.begin(), done.end(), [](bool d) { return d; })) break;
    cache.reorder(from);
  }

  std::vector<std::vector<Hypothesis>> out(static_cast<size_t>(B));
  for (int64_t b = 0; b < B; ++b) {
    auto& ends = endings[b];
    std::stable_sort(ends.begin(), ends.end(),
                     [](const Ending& x, const Ending& y) { return x.hyp.score > y.hyp.score; });
    for (int64_t i = 0; i < opt.nbest && i < static_cast<int64_t>(ends.size()); ++i) {
      Ending& e = ends[i];
      if (opt.capture_attention) {
        // Follow the backpointers from the final row to each earlier step's row.
        const int64_t T = e.step + 1, n = src_len[b];
        std::vector<int64_t> row_at(static_cast<size_t>(T));
        row_at[T - 1] = e.row;
        for (int64_t s = T - 2; s >= 0; --s) row_at[s] = from_history[s][row_at[s + 1]];
        HypothesisAttention& a = e.hyp.attention;
        a.encoder_self = encoder_maps[b];
        for (int64_t l = 0; l < L; ++l) {
          const int64_t H = maps[0].self[l].dim(1);
          Tensor self({H, T, T}), cross({H, T, n});
          for (int64_t s = 0; s < T; ++s) {
            const Tensor& ps = maps[s].self[l];   // [R, H, 1, s+1]
            const Tensor& pc = maps[s].cross[l];  // [R, H, 1, Ts]
            for (int64_t h = 0; h < H; ++h) {
              std::memcpy(self.data() + (h * T + s) * T, ps.data() + (row_at[s] * H + h) * (s + 1),
                          static_cast<size_t>(s + 1) * sizeof(float));
              std::memcpy(cross.data() + (h * T + s) * n, pc.data() + (row_at[s] * H + h) * Ts,
                          static_cast<size_t>(n) * sizeof(float));
            }
          }
          a.decoder_self.push_back(std::move(self));
          a.cross.push_back(std::move(cross));
        }
      }
      out[b].push_back(std::move(e.hyp));
    }
  }
  return out;
}

}  // namespace attnscope

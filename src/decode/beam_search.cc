#include "decode/beam_search.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

#include "core/error.h"
#include "kernels/cpu/fast_exp.h"

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
#pragma omp simd reduction(+ : sum)
    for (int64_t v = 0; v < V; ++v) sum += static_cast<double>(cpu::fast_exp(row[v] - m));
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

// The attention maps of one decoding step, copied out of the model for the captured layers:
// the selected heads, or one map when reduced over heads.
struct StepMaps {
  std::vector<Tensor> self;   // per captured layer [R, H', 1, t+1]
  std::vector<Tensor> cross;  // per captured layer [R, H', 1, Ts]
};

bool reduces_heads(CaptureReduction r) {
  return r == CaptureReduction::kMeanHeads || r == CaptureReduction::kMaxHeads;
}

// out [G, H', rows, cols] from in [G, H, rows, cols]: the selected heads, or their mean / max.
Tensor select_heads(const Tensor& in, const std::vector<int64_t>& heads, CaptureReduction r) {
  const int64_t G = in.dim(0), H = in.dim(1), rows = in.dim(2), cols = in.dim(3);
  const int64_t per_head = rows * cols;
  const int64_t Hout = reduces_heads(r) ? 1 : static_cast<int64_t>(heads.size());
  Tensor out({G, Hout, rows, cols});
  for (int64_t g = 0; g < G; ++g) {
    float* o = out.data() + g * Hout * per_head;
    const float* src = in.data() + g * H * per_head;
    if (!reduces_heads(r)) {
      for (size_t k = 0; k < heads.size(); ++k)
        std::memcpy(o + static_cast<int64_t>(k) * per_head, src + heads[k] * per_head,
                    static_cast<size_t>(per_head) * sizeof(float));
      continue;
    }
    for (int64_t e = 0; e < per_head; ++e) {
      float acc = r == CaptureReduction::kMaxHeads ? -std::numeric_limits<float>::infinity() : 0;
      for (int64_t h : heads) {
        const float v = src[h * per_head + e];
        acc = r == CaptureReduction::kMaxHeads ? std::max(acc, v) : acc + v;
      }
      o[e] = r == CaptureReduction::kMaxHeads ? acc : acc / static_cast<float>(heads.size());
    }
  }
  return out;
}

}  // namespace

std::vector<std::vector<Hypothesis>> beam_search(Seq2SeqModel& model, const TokenBatch& src,
                                                 const DecodeOptions& opt) {
  const ModelInfo cfg = model.info();
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

  std::unique_ptr<DecoderState> cache = model.start_decoding(src, K, max_steps);
  // An architecture may lack a kind (rnn-attention has cross-attention only): decoder layer l
  // is captured for the kinds the model has and the spec wants.
  const int64_t L = std::max(model.num_layers(AttentionKind::kDecoderSelf),
                             model.num_layers(AttentionKind::kCross));
  const int64_t Le = model.num_layers(AttentionKind::kEncoderSelf);
  const bool capturing = opt.capture.has_value();
  const CaptureSpec spec = opt.capture.value_or(CaptureSpec{});
  const auto wants = [&](AttentionKind k) { return capturing && spec.wants(k); };
  const bool want_self =
      wants(AttentionKind::kDecoderSelf) && model.num_layers(AttentionKind::kDecoderSelf) > 0;
  const bool want_cross =
      wants(AttentionKind::kCross) && model.num_layers(AttentionKind::kCross) > 0;
  const CaptureReduction red = spec.reduction;
  const std::vector<int64_t> heads =
      capturing ? spec.head_indices(cfg.heads) : std::vector<int64_t>{};
  std::vector<int64_t> enc_layers, dec_layers;
  for (int64_t l = 0; l < Le; ++l)
    if (wants(AttentionKind::kEncoderSelf) && spec.wants_layer(l)) enc_layers.push_back(l);
  for (int64_t l = 0; l < L; ++l)
    if ((want_self || want_cross) && spec.wants_layer(l)) dec_layers.push_back(l);
  for (int64_t l : spec.layers)
    ATTN_CHECK(l < std::max(L, Le),
               "layer {} does not exist: the model has {} encoder and {} "
               "decoder layers",
               l, Le, L);

  // Encoder maps per sentence, trimmed to its real length: [H', n, n] (only the last query row,
  // [H', 1, n], when the spec says so). A sentence's layers are slices of one block
  // [layers, H', rows, n], so its maps can be handed out whole, without a copy.
  const bool last_row = red == CaptureReduction::kLastRow;
  const int64_t Hc = reduces_heads(red) ? 1 : static_cast<int64_t>(heads.size());
  std::vector<std::vector<Tensor>> encoder_maps(static_cast<size_t>(B));
  std::vector<Tensor> encoder_blocks(static_cast<size_t>(B));
  for (int64_t b = 0; b < B && !enc_layers.empty(); ++b) {
    const int64_t n = src_len[b];
    encoder_blocks[b] = Tensor({static_cast<int64_t>(enc_layers.size()), Hc, last_row ? 1 : n, n});
  }
  for (size_t k = 0; k < enc_layers.size(); ++k) {
    const Tensor sel =
        select_heads(model.attention(AttentionKind::kEncoderSelf, enc_layers[k]), heads, red);
    for (int64_t b = 0; b < B; ++b) {
      const int64_t n = src_len[b], first = last_row ? n - 1 : 0, rows = n - first;
      Tensor t = encoder_blocks[b].slice(static_cast<int64_t>(k));  // [H', rows, n]
      for (int64_t h = 0; h < Hc; ++h)
        for (int64_t i = first; i < n; ++i)
          std::memcpy(t.data() + (h * rows + i - first) * n,
                      sel.data() + ((b * Hc + h) * Ts + i) * Ts,
                      static_cast<size_t>(n) * sizeof(float));
      encoder_maps[b].push_back(t);
    }
  }

  // The decoder runs only the sentences still being translated: live[s] is the sentence in slot s,
  // whose K beams are rows [s·K, s·K + K) of the state. A finished sentence leaves the batch.
  std::vector<int64_t> live(static_cast<size_t>(B));
  std::iota(live.begin(), live.end(), 0);
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
  cands.reserve(static_cast<size_t>(2 * K + 1));
  Tensor logp;  // [R, V]

  for (int64_t t = 0; t < max_steps; ++t) {
    log_softmax_rows(model.decode_step(*cache, feed), logp);
    if (capturing) {
      StepMaps m;
      for (int64_t l : dec_layers) {
        if (want_self)
          m.self.push_back(
              select_heads(model.attention(AttentionKind::kDecoderSelf, l), heads, red));
        if (want_cross)
          m.cross.push_back(select_heads(model.attention(AttentionKind::kCross, l), heads, red));
      }
      maps.push_back(std::move(m));
    }
    const auto slots = static_cast<int64_t>(live.size());
    std::vector<int64_t> from(static_cast<size_t>(slots * K));
    std::vector<Beam> next(static_cast<size_t>(slots * K));
    for (int64_t slot = 0; slot < slots; ++slot) {
      const int64_t b = live[static_cast<size_t>(slot)];
      for (int64_t k = 0; k < K; ++k) from[slot * K + k] = slot * K;  // dead rows copy any row
      const bool last_step = t + 1 >= limit[b];
      // The best 2·K continuations of this sentence's beams, best first (ties: the earlier row and
      // token first). One pass over the rows keeps a sorted list of 2·K: a token is looked at
      // twice only when it beats the worst kept.
      const auto cap = static_cast<size_t>(2 * K);
      cands.clear();
      for (int64_t k = 0; k < K; ++k) {
        const int64_t r = slot * K + k;
        if (beams[r].log_prob == kNegInf) continue;
        const float* row = logp.data() + r * V;
        for (int64_t v = 0; v < V; ++v) {
          const float lp = beams[r].log_prob + row[v];
          if (cands.size() == cap && !(lp > cands.back().log_prob)) continue;
          if (!opt.stop_at_eos && v == cfg.eos_id) continue;
          if (v == cfg.pad_id || v == cfg.bos_id) continue;
          const Candidate c{lp, r, static_cast<int32_t>(v)};
          auto at = std::upper_bound(
              cands.begin(), cands.end(), c,
              [](const Candidate& x, const Candidate& y) { return x.log_prob > y.log_prob; });
          cands.insert(at, c);
          if (cands.size() > cap) cands.pop_back();
        }
      }
      const size_t keep = cands.size();
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
        const int64_t r = slot * K + filled;
        next[r].tokens = beams[c.row].tokens;
        next[r].tokens.push_back(c.token);
        next[r].log_prob = c.log_prob;
        from[r] = c.row;
        feed[r] = c.token;
        ++filled;
      }
      if (last_step || static_cast<int64_t>(endings[b].size()) >= K) done[b] = true;
    }
    beams = std::move(next);
    // Drop the sentences that finished: their slots leave, and the rows of the others move up.
    std::vector<int64_t> still;
    for (int64_t b : live)
      if (!done[b]) still.push_back(b);
    if (still.empty()) {
      from_history.push_back(from);
      break;
    }
    if (still.size() < live.size()) {
      std::vector<int64_t> kept_from;
      std::vector<Beam> kept_beams;
      std::vector<int32_t> kept_feed;
      for (int64_t slot = 0; slot < slots; ++slot) {
        if (done[live[static_cast<size_t>(slot)]]) continue;
        for (int64_t r = slot * K; r < slot * K + K; ++r) {
          kept_from.push_back(from[r]);
          kept_beams.push_back(std::move(beams[r]));
          kept_feed.push_back(feed[r]);
        }
      }
      from = std::move(kept_from), beams = std::move(kept_beams), feed = std::move(kept_feed);
      live = std::move(still);
    }
    from_history.push_back(from);
    cache->reorder(from);
  }

  std::vector<std::vector<Hypothesis>> out(static_cast<size_t>(B));
  for (int64_t b = 0; b < B; ++b) {
    auto& ends = endings[b];
    std::stable_sort(ends.begin(), ends.end(),
                     [](const Ending& x, const Ending& y) { return x.hyp.score > y.hyp.score; });
    for (int64_t i = 0; i < opt.nbest && i < static_cast<int64_t>(ends.size()); ++i) {
      Ending& e = ends[i];
      if (capturing) {
        // Follow the backpointers from the final row to each earlier step's row.
        const int64_t T = e.step + 1, n = src_len[b];
        std::vector<int64_t> row_at(static_cast<size_t>(T));
        row_at[T - 1] = e.row;
        for (int64_t s = T - 2; s >= 0; --s) row_at[s] = from_history[s][row_at[s + 1]];
        HypothesisAttention& a = e.hyp.attention;
        a.encoder_self = encoder_maps[b];
        a.encoder_layers = enc_layers;
        a.decoder_layers = dec_layers;
        a.heads = reduces_heads(red) ? std::vector<int64_t>{} : heads;
        a.reduction = red;
        // Gathers the chosen hypothesis's row of each step s (only the last step's, for the last
        // query row) into dst [H', rows, width] from the steps' maps [R, H', 1, ·]; the rest of
        // dst stays 0 (the self-attention maps above the diagonal).
        const int64_t first = last_row ? T - 1 : 0, rows = T - first;
        auto gather = [&](const std::vector<Tensor> StepMaps::*which, size_t k, int64_t width,
                          bool self_rows, Tensor dst) {
          for (int64_t s = first; s < T; ++s) {
            const Tensor& p = (maps[s].*which)[k];
            const int64_t cols = p.dim(3);
            const int64_t copy = self_rows ? s + 1 : width;
            for (int64_t h = 0; h < Hc; ++h)
              std::memcpy(dst.data() + (h * rows + s - first) * width,
                          p.data() + (row_at[s] * Hc + h) * cols,
                          static_cast<size_t>(copy) * sizeof(float));
          }
          return dst;
        };
        // Each kind's layers are slices of one block [layers, H', rows, ·] (no copy to hand out).
        const auto layers = static_cast<int64_t>(dec_layers.size());
        const Tensor self_block = want_self ? Tensor({layers, Hc, rows, T}) : Tensor();
        const Tensor cross_block = want_cross ? Tensor({layers, Hc, rows, n}) : Tensor();
        for (size_t k = 0; k < dec_layers.size(); ++k) {
          const auto layer = static_cast<int64_t>(k);
          if (want_self)
            a.decoder_self.push_back(gather(&StepMaps::self, k, T, true, self_block.slice(layer)));
          if (want_cross)
            a.cross.push_back(gather(&StepMaps::cross, k, n, false, cross_block.slice(layer)));
        }
      }
      out[b].push_back(std::move(e.hyp));
    }
  }
  return out;
}

}  // namespace attnscope

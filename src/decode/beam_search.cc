#include "decode/beam_search.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

#include "core/error.h"
#include "decode/sentence_search.h"
#include "kernels/cpu/softmax.h"

namespace attnscope {

namespace {

// out [R, V] = log-softmax of each row of logits [R, V] (or the logits themselves when `apply`
// is false): the searches' own copy of the step's scores. The same kernel ranks a step on a
// model's device (Seq2SeqModel::decode_step_topk), so both give the same numbers.
void log_softmax_rows(const Tensor& logits, Tensor& out, bool apply) {
  const int64_t R = logits.dim(0), V = logits.dim(1);
  out.resize({R, V});
  if (apply)
    cpu::log_softmax_forward(logits.data(), out.data(), R, V);
  else
    std::memcpy(out.data(), logits.data(), static_cast<size_t>(R * V) * sizeof(float));
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

// The selected heads of a map [G, H', rows, cols] (model.attention_heads), or their mean / max
// over H' as [G, 1, rows, cols].
Tensor reduce_heads(Tensor in, CaptureReduction r) {
  if (!reduces_heads(r)) return in;
  const int64_t G = in.dim(0), H = in.dim(1), rows = in.dim(2), cols = in.dim(3);
  const int64_t per_head = rows * cols;
  Tensor out({G, 1, rows, cols});
  for (int64_t g = 0; g < G; ++g) {
    float* o = out.data() + g * per_head;
    const float* src = in.data() + g * H * per_head;
    for (int64_t e = 0; e < per_head; ++e) {
      float acc = r == CaptureReduction::kMaxHeads ? -std::numeric_limits<float>::infinity() : 0;
      for (int64_t h = 0; h < H; ++h) {
        const float v = src[h * per_head + e];
        acc = r == CaptureReduction::kMaxHeads ? std::max(acc, v) : acc + v;
      }
      o[e] = r == CaptureReduction::kMaxHeads ? acc : acc / static_cast<float>(H);
    }
  }
  return out;
}

// What the capture spec keeps of `layer`'s last maps: the selected heads, reduced when asked.
Tensor captured(const Seq2SeqModel& model, AttentionKind kind, int64_t layer,
                const std::vector<int64_t>& heads, CaptureReduction r) {
  return reduce_heads(model.attention_heads(kind, layer, heads), r);
}

}  // namespace

std::vector<std::vector<Hypothesis>> beam_search(Seq2SeqModel& model, const TokenBatch& src,
                                                 const DecodeOptions& opt) {
  const ModelInfo cfg = model.info();
  const int64_t B = src.rows, Ts = src.cols, K = opt.beam, V = cfg.tgt_vocab;
  ATTN_CHECK(K >= 1 && K <= kMaxBeamSize, "beam size must be between 1 and {}, got {}",
             kMaxBeamSize, K);
  ATTN_CHECK(opt.nbest >= 1 && opt.nbest <= K,
             "nbest ({}) must be between 1 and the beam size ({})", opt.nbest, K);
  ATTN_CHECK(B >= 1 && Ts >= 1, "nothing to translate: source batch [{}, {}]", B, Ts);
  ATTN_CHECK(opt.max_new_tokens >= 0, "max_new_tokens must be ≥ 1 (0: no cap), got {}",
             opt.max_new_tokens);
  ATTN_CHECK(!opt.hf || (opt.hf->max_length >= 2 && opt.hf->max_length - 1 <= cfg.max_len),
             "max_length {} must be between 2 and the model's {} positions + 1",
             opt.hf ? opt.hf->max_length : 0, cfg.max_len);

  // Source lengths: each row up to its last token that is not trailing padding. Under
  // attnscope's rules they set each sentence's step limit; Hugging Face's is max_length.
  std::vector<int64_t> src_len(static_cast<size_t>(B), 0), limit(static_cast<size_t>(B), 0);
  int64_t max_steps = 1;
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t j = Ts; j > 0 && src_len[b] == 0; --j)
      if (src.at(b, j - 1) != cfg.pad_id) src_len[b] = j;
    if (opt.hf) {
      limit[b] = opt.hf->max_length - 1;
    } else {
      limit[b] = std::min<int64_t>(
          cfg.max_len,
          static_cast<int64_t>(std::ceil(opt.max_len_ratio * static_cast<float>(src_len[b]))) +
              opt.max_len_extra);
      if (opt.max_new_tokens > 0) limit[b] = std::min(limit[b], opt.max_new_tokens);
      limit[b] = std::max<int64_t>(limit[b], 1);
    }
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
    const Tensor sel = captured(model, AttentionKind::kEncoderSelf, enc_layers[k], heads, red);
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

  // Each sentence's search (its rules), over its K rows.
  std::vector<std::unique_ptr<SentenceSearch>> search(static_cast<size_t>(B));
  for (int64_t b = 0; b < B; ++b)
    search[b] = opt.hf ? hf_search(opt, cfg) : attnscope_search(opt, cfg, limit[b]);

  // The decoder runs only the sentences still being translated: live[s] is the sentence in slot s,
  // whose K beams are rows [s·K, s·K + K) of the state. A finished sentence leaves the batch.
  std::vector<int64_t> live(static_cast<size_t>(B));
  std::iota(live.begin(), live.end(), 0);
  std::vector<int32_t> feed(static_cast<size_t>(B * K), cfg.decoder_start_id);
  std::vector<uint8_t> done(static_cast<size_t>(B), 0);  // written by the slots in parallel
  // from_history[s][r]: the row at step s of row r at step s+1; slot_history[s][b]: the slot of
  // sentence b at step s (where its rows were).
  std::vector<std::vector<int64_t>> from_history, slot_history;
  std::vector<StepMaps> maps;
  Tensor logp;  // [R, V]
  const bool log_softmax_first = search.front()->wants_log_softmax();
  // A search that ranks raw logits gets them as the model left them, with each row's
  // log-sum-exp (computed by its slot below): no log-softmaxed copy of [R, V] is written.
  const bool from_logits = search.front()->steps_from_logits();
  std::vector<float> lse;  // [R]
  // A model on a device ranks there when the search can step from each row's best
  // continuations alone: only each row's 2·K best (row log-probability + log p, best first, ties
  // to the smaller id) cross to the host, and they hold every candidate the full scan would keep.
  const bool rank_on_model = cfg.on_device && search.front()->steps_from_ranked_rows();
  StepTopKRequest request;
  request.k = 2 * K;
  request.banned = {cfg.pad_id, cfg.bos_id};
  if (!opt.stop_at_eos) request.banned.push_back(cfg.eos_id);
  StepTopK top;
  const Tensor* logits = nullptr;  // [R, V], the model's own buffer, for from_logits

  for (int64_t t = 0; t < max_steps; ++t) {
    if (rank_on_model) {
      request.offsets.resize(live.size() * static_cast<size_t>(K));
      for (size_t slot = 0; slot < live.size(); ++slot)
        search[live[slot]]->row_log_probs(request.offsets.data() + slot * static_cast<size_t>(K));
      model.decode_step_topk(*cache, feed, request, top);
    } else if (from_logits) {
      logits = &model.decode_step(*cache, feed);
      lse.resize(static_cast<size_t>(logits->dim(0)));
    } else {
      log_softmax_rows(model.decode_step(*cache, feed), logp, log_softmax_first);
    }
    if (capturing) {
      StepMaps m;
      for (int64_t l : dec_layers) {
        if (want_self)
          m.self.push_back(captured(model, AttentionKind::kDecoderSelf, l, heads, red));
        if (want_cross) m.cross.push_back(captured(model, AttentionKind::kCross, l, heads, red));
      }
      maps.push_back(std::move(m));
    }
    const auto slots = static_cast<int64_t>(live.size());
    std::vector<int64_t> from(static_cast<size_t>(slots * K));
    std::vector<int64_t> slot_of(static_cast<size_t>(B), -1);
    // The sentences are searched independently: in parallel over the slots when there is much to
    // scan (each writes only its own rows of from, feed and its own done and slot_of).
#pragma omp parallel for schedule(dynamic, 1) if (slots > 1 && slots * K * V > (1 << 15))
    for (int64_t slot = 0; slot < slots; ++slot) {
      const int64_t b = live[static_cast<size_t>(slot)];
      slot_of[b] = slot;
      SearchStep step;
      if (rank_on_model) {
        search[b]->step_ranked(top.values.data() + slot * K * top.k,
                               top.ids.data() + slot * K * top.k, top.k, t, step);
      } else if (from_logits) {
        const float* rows = logits->data() + slot * K * V;  // [K, V]
        for (int64_t k = 0; k < K; ++k) lse[slot * K + k] = cpu::row_log_sum_exp(rows + k * V, V);
        search[b]->step_logits(rows, lse.data() + slot * K, V, t, step);
      } else {
        search[b]->step(logp.data() + slot * K * V, V, t, step);
      }
      for (int64_t k = 0; k < K; ++k) {
        from[slot * K + k] = slot * K + step.from[static_cast<size_t>(k)];
        feed[slot * K + k] = step.feed[static_cast<size_t>(k)];
      }
      if (step.done || t + 1 >= max_steps) done[b] = 1;
    }
    slot_history.push_back(std::move(slot_of));
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
      std::vector<int32_t> kept_feed;
      for (int64_t slot = 0; slot < slots; ++slot) {
        if (done[live[static_cast<size_t>(slot)]]) continue;
        for (int64_t r = slot * K; r < slot * K + K; ++r) {
          kept_from.push_back(from[r]);
          kept_feed.push_back(feed[r]);
        }
      }
      from = std::move(kept_from), feed = std::move(kept_feed);
      live = std::move(still);
    }
    from_history.push_back(from);
    cache->reorder(from);
  }

  std::vector<std::vector<Hypothesis>> out(static_cast<size_t>(B));
  for (int64_t b = 0; b < B; ++b) {
    for (SearchEnding& e : search[b]->results(opt.nbest)) {
      if (capturing) {
        // Follow the backpointers from the final row to each earlier step's row.
        const int64_t T = e.step + 1, n = src_len[b];
        std::vector<int64_t> row_at(static_cast<size_t>(T));
        row_at[T - 1] = slot_history[e.step][b] * K + e.row;
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

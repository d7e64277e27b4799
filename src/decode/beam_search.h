// Translation by beam search over the KV-cached decoder (beam 1 is greedy decoding), batched
// over sentences, optionally capturing every attention map of the hypotheses it returns. Two
// sets of rules: attnscope's own (below), and Hugging Face generate()'s for a model whose files
// carry a generation config (DecodeOptions::hf, decode/hf_rules.h; decode/generation.h chooses
// them from the model). Each sentence is searched on its own rows, so a batch gives what each
// sentence alone gives.
#pragma once

#include <optional>
#include <vector>

#include "core/tensor.h"
#include "decode/capture_spec.h"
#include "decode/hf_rules.h"
#include "nn/seq2seq_model.h"

namespace attnscope {

// The widest beam beam_search takes (the CLI's --beam is checked against it while parsing).
inline constexpr int64_t kMaxBeamSize = 64;

struct DecodeOptions {
  int64_t beam = 1;
  int64_t nbest = 1;            // hypotheses returned per sentence (≤ beam)
  float length_penalty = 1.0f;  // score = log P / length^α (α = 0: raw log-probability)
  float max_len_ratio = 2.0f;   // stop after max_len_ratio · source length + max_len_extra
  int64_t max_len_extra = 10;
  int64_t max_new_tokens = 0;  // > 0: at most this many output tokens per sentence (eos included)
  bool stop_at_eos = true;     // false: always decode the full length (benchmarks)
  // Set: Hugging Face's rules instead of attnscope's (its length limit replaces max_len_ratio,
  // max_len_extra, max_new_tokens and stop_at_eos).
  std::optional<HfRules> hf;
  // Set: capture the attention of the returned hypotheses, as much as the spec selects
  // (`capture.emplace()` or `capture = CaptureSpec{}`: every map). Unset: no attention is kept.
  std::optional<CaptureSpec> capture;
};

// The attention of one hypothesis, rows = its output positions (the fed tokens: bos, y1, …).
// Without a selection or reduction: per layer [H, Ts, Ts], [H, T, T] (zero above the
// diagonal) and [H, T, Ts]. A capture spec keeps only the chosen layers (listed in
// encoder_layers / decoder_layers) and heads (listed in heads; empty after a reduction over
// heads, which leaves one map per layer), or only the last query row. The layers of a kind are
// slices (Tensor::slice) of one block [layers, H', T', Tk], in that order, so the whole kind can
// be handed out as one array without a copy.
struct HypothesisAttention {
  std::vector<Tensor> encoder_self;  // per captured encoder layer [H', Ts', Ts]
  std::vector<Tensor> decoder_self;  // per captured decoder layer [H', T', T]
  std::vector<Tensor> cross;         // per captured decoder layer [H', T', Ts]
  std::vector<int64_t> encoder_layers, decoder_layers, heads;
  CaptureReduction reduction = CaptureReduction::kNone;
};

struct Hypothesis {
  std::vector<int32_t> tokens;    // output ids without the decoder start token and eos
  float log_prob = 0;             // Σ log p of the tokens and the eos (if reached)
  float score = 0;                // log_prob with the length penalty, what the beam ranks by
                                  // (HF greedy: log_prob, as HF's greedy has no penalty)
  bool finished = false;          // reached eos (HF: also a forced one)
  HypothesisAttention attention;  // filled when DecodeOptions::capture is set
};

// src [B, Ts] (each row ending in eos, padded after it with pad_id) → for each sentence, its
// nbest hypotheses, best first.
std::vector<std::vector<Hypothesis>> beam_search(Seq2SeqModel& model, const TokenBatch& src,
                                                 const DecodeOptions& opt);

}  // namespace attnscope

// Decoding flags shared by translate, eval, attention and align. A flag the user did not give
// leaves the model's default: its generation config for a Hugging Face model (num_beams,
// max_length, …), attnscope's defaults otherwise (decode/generation.h).
#pragma once

#include <CLI/CLI.hpp>

#include "app/flag_checks.h"
#include "core/error.h"
#include "decode/beam_search.h"
#include "decode/generation.h"
#include "decode/translate.h"

namespace attnscope::app {

struct DecodeFlags {
  int64_t beam = 1, nbest = 1, max_new_tokens = 0, batch = 32;
  float length_penalty = 1.0f, max_len_ratio = 2.0f;
  CLI::Option *beam_opt = nullptr, *nbest_opt = nullptr, *length_penalty_opt = nullptr,
              *max_len_ratio_opt = nullptr, *max_new_tokens_opt = nullptr;

  // The flags that were given.
  DecodeRequest request() const {
    DecodeRequest r;
    if (beam_opt->count() > 0) r.beam = beam;
    if (nbest_opt->count() > 0) r.nbest = nbest;
    if (length_penalty_opt->count() > 0) r.length_penalty = length_penalty;
    if (max_len_ratio_opt->count() > 0) r.max_len_ratio = max_len_ratio;
    if (max_new_tokens_opt->count() > 0) r.max_new_tokens = max_new_tokens;
    return r;
  }
  // The options for this model (errors name the setting).
  TranslateOptions options_for(const ModelInfo& info) const {
    TranslateOptions o;
    o.decode = decode_options_for(info, request());
    o.batch_sentences = batch;
    return o;
  }
};

inline void add_decode_options(CLI::App* cmd, DecodeFlags& f) {
  f.beam_opt = cmd->add_option("--beam", f.beam,
                               "Beam size (1 = greedy; default: 1, or the model's num_beams)")
                   ->check(CLI::Range(int64_t{1}, kMaxBeamSize));
  f.nbest_opt =
      cmd->add_option("--nbest", f.nbest,
                      "Hypotheses per sentence (≤ beam; default: 1, or num_return_sequences)")
          ->check(CLI::Range(int64_t{1}, kMaxBeamSize));
  f.length_penalty_opt =
      cmd->add_option(
             "--length-penalty", f.length_penalty,
             "Score = log P / length^α (0 = none; default: 1, or the model's length_penalty)")
          ->check(finite_range(-10, 10));
  f.max_len_ratio_opt =
      cmd->add_option("--max-len-ratio", f.max_len_ratio,
                      "Output at most ratio · source length + 10 tokens (default: 2; attnscope's "
                      "own models)")
          ->check(finite_range(0, 1000, /*below_hi=*/false));
  f.max_new_tokens_opt =
      cmd->add_option("--max-new-tokens", f.max_new_tokens,
                      "At most N output tokens per sentence, </s> included (Hugging Face's name; "
                      "for a Hugging Face model it replaces max_length)")
          ->check(CLI::Range(int64_t{1}, kMaxSizeFlag));
  cmd->add_option("--batch", f.batch, "Sentences per batch")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, kMaxSizeFlag));
}

// The rules between decoding flags that need no model, checked first thing in the command (the
// rest, which depend on the model's generation config, when the model is loaded, before work).
inline void check_decode_flags(const DecodeFlags& f) {
  ATTN_CHECK(f.nbest_opt->count() == 0 || f.beam_opt->count() == 0 || f.nbest <= f.beam,
             "--nbest {} is larger than --beam {}: a beam of k keeps k hypotheses", f.nbest,
             f.beam);
}

}  // namespace attnscope::app

// Decoding options shared by translate, eval, attention and demo.
#pragma once

#include <CLI/CLI.hpp>

#include "app/flag_checks.h"
#include "core/error.h"
#include "decode/translate.h"

namespace attnscope::app {

inline void add_decode_options(CLI::App* cmd, TranslateOptions& o) {
  cmd->add_option("--beam", o.decode.beam, "Beam size (1 = greedy)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, kMaxBeamSize));
  cmd->add_option("--nbest", o.decode.nbest, "Hypotheses per sentence (≤ beam)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, kMaxBeamSize));
  cmd->add_option("--length-penalty", o.decode.length_penalty,
                  "Score = log P / length^α (0 = none)")
      ->capture_default_str()
      ->check(finite_range(-10, 10));
  cmd->add_option("--max-len-ratio", o.decode.max_len_ratio,
                  "Output at most ratio · source length + 10 tokens")
      ->capture_default_str()
      ->check(finite_range(0, 1000));
  cmd->add_option("--batch", o.batch_sentences, "Sentences per batch")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, kMaxSizeFlag));
}

// The rules between decoding flags, checked first thing in the command.
inline void check_decode_options(const TranslateOptions& o) {
  ATTN_CHECK(o.decode.nbest <= o.decode.beam,
             "--nbest {} is larger than --beam {}: a beam of k keeps k hypotheses", o.decode.nbest,
             o.decode.beam);
}

}  // namespace attnscope::app

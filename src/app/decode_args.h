// Decoding options shared by translate, eval, attention and demo.
#pragma once

#include <CLI/CLI.hpp>

#include "decode/translate.h"

namespace attnscope::app {

inline void add_decode_options(CLI::App* cmd, TranslateOptions& o) {
  cmd->add_option("--beam", o.decode.beam, "Beam size (1 = greedy)")->capture_default_str();
  cmd->add_option("--nbest", o.decode.nbest, "Hypotheses per sentence (≤ beam)")
      ->capture_default_str();
  cmd->add_option("--length-penalty", o.decode.length_penalty,
                  "Score = log P / length^α (0 = none)")
      ->capture_default_str();
  cmd->add_option("--max-len-ratio", o.decode.max_len_ratio,
                  "Output at most ratio · source length + 10 tokens")
      ->capture_default_str();
  cmd->add_option("--batch", o.batch_sentences, "Sentences per batch")->capture_default_str();
}

}  // namespace attnscope::app

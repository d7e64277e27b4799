// The options that say which TSV columns hold a pair (--src-col, --tgt-col, --reverse), shared by
// the commands that read TSV corpora (train, eval, score).
#pragma once

#include <CLI/CLI.hpp>

#include "core/error.h"
#include "data/corpus.h"

namespace attnscope::app {

struct TsvColumns {
  int src_col = 0, tgt_col = 1;
  bool reverse = false;

  // Throws naming the flags when they cannot both be used (run before any file is read).
  void check() const {
    ATTN_CHECK(src_col != tgt_col, "--src-col and --tgt-col are both {}: two different columns",
               src_col);
  }

  CorpusOptions corpus_options() const {
    CorpusOptions opt;
    opt.src_col = src_col;
    opt.tgt_col = tgt_col;
    opt.reverse = reverse;
    return opt;
  }
};

// Adds the three options to cmd; `tgt_help` and `reverse_help` are their help texts.
inline void add_tsv_column_options(CLI::App* cmd, TsvColumns& c, const std::string& src_help,
                                   const std::string& tgt_help, const std::string& reverse_help) {
  cmd->add_option("--src-col", c.src_col, src_help)
      ->capture_default_str()
      ->check(CLI::Range(0, 1 << 16));
  cmd->add_option("--tgt-col", c.tgt_col, tgt_help)
      ->capture_default_str()
      ->check(CLI::Range(0, 1 << 16));
  cmd->add_flag("--reverse", c.reverse, reverse_help);
}

}  // namespace attnscope::app

#include "app/align_checks.h"

#include <fmt/core.h>

#include <sstream>
#include <utility>

#include "core/error.h"

namespace attnscope::app {

void check_align_flags(const AlignFlags& f) {
  ATTN_CHECK(f.gold.empty() || !f.data.empty(),
             "--gold needs --data: the source<TAB>target pairs it aligns, line for line");
  ATTN_CHECK(f.gold_base == 0 || f.gold_base == 1, "--gold-base must be 0 or 1, not {}",
             f.gold_base);
  // Written so that NaN fails too.
  ATTN_CHECK(f.threshold >= 0 && f.threshold <= 1, "--threshold {} is outside [0, 1]", f.threshold);
}

void check_gold_line_count(const std::string& gold, size_t gold_lines, const std::string& input,
                           size_t input_lines) {
  ATTN_CHECK(gold_lines == input_lines,
             "{} has {} lines but {} has {}: one gold alignment per sentence pair", gold,
             gold_lines, input, input_lines);
}

int64_t count_words(const std::string& text) {
  std::istringstream s(text);
  int64_t n = 0;
  for (std::string w; s >> w;) ++n;
  return n;
}

GoldTally::GoldTally(std::string gold_file, bool pieces, int gold_base)
    : gold_file_(std::move(gold_file)), pieces_(pieces), gold_base_(gold_base) {}

bool GoldTally::admit(const GoldPair& p) {
  if (p.truncated) {
    if (truncated_++ == 0) first_truncated_ = p.where;
    return false;
  }
  // Gold indexes the text's words; the pieces must split into the same words.
  if (!pieces_ && (p.src_units != p.src_words || p.tgt_units != p.tgt_words)) {
    if (word_mismatches_++ == 0)
      first_mismatch_ =
          fmt::format("{}: the pieces make {} source / {} target words, the text has {} / {}",
                      p.where, p.src_units, p.tgt_units, p.src_words, p.tgt_words);
    return false;
  }
  if (p.gold != nullptr)
    for (const AlignmentLink& l : p.gold->possible)
      if (l.src >= p.src_units || l.tgt >= p.tgt_units) {
        if (links_outside_++ == 0)
          first_outside_ = fmt::format("{}:{}: {}-{} with {} source and {} target {}", gold_file_,
                                       p.line, l.src + gold_base_, l.tgt + gold_base_, p.src_units,
                                       p.tgt_units, pieces_ ? "pieces" : "words");
      }
  ++scored_;
  return true;
}

std::vector<std::string> GoldTally::notes(int64_t max_len) const {
  std::vector<std::string> out;
  if (truncated_ > 0)
    out.push_back(fmt::format(
        "{} sentence pair(s) longer than the model's {} positions were left out of the AER "
        "(first: {})",
        truncated_, max_len, first_truncated_));
  if (word_mismatches_ > 0)
    out.push_back(fmt::format(
        "{} sentence pair(s) whose pieces do not split into the text's whitespace words were "
        "left out of the AER (first: {})",
        word_mismatches_, first_mismatch_));
  if (links_outside_ > 0)
    out.push_back(fmt::format(
        "{} gold link(s) point past the sentence (first: {}); check --gold-base and that the "
        "pairs are source-target",
        links_outside_, first_outside_));
  return out;
}

void GoldTally::check_some_scored() const {
  ATTN_CHECK(scored_ > 0, "no sentence pair left to score");
}

std::string align_source_flags(const AlignmentSource& source) {
  switch (source.kind) {
    case AlignmentSource::Kind::kHead:
      return fmt::format("--layer {} --head {}", source.layer, source.head);
    case AlignmentSource::Kind::kLayerMean:
      return fmt::format("--mean-layer {}", source.layer);
    case AlignmentSource::Kind::kAllMean:
      break;
  }
  return "--mean-all";
}

}  // namespace attnscope::app

// What `attnscope align` checks and reports, apart from running the model: its flags before any
// work, and with --gold which sentence pairs can be scored against the gold links. A pair cut at
// the model's length, or whose pieces do not split into the text's whitespace words (gold links
// index those words), is left out of the AER; gold links past the end of a sentence are counted
// (a wrong --gold-base or swapped columns shows up here). Each kind is reported once, with its
// first case.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "inspect/alignment.h"

namespace attnscope::app {

// The flags align checks before it loads anything.
struct AlignFlags {
  std::string data;  // --data ("" = stdin)
  std::string gold;  // --gold ("" = none)
  int gold_base = 0;
  float threshold = 0.0f;
};
// Throws attnscope::Error naming the flag: --gold without --data, a --gold-base other than 0 or
// 1, a --threshold outside [0, 1].
void check_align_flags(const AlignFlags& f);

// The gold file has one line per sentence pair of the input, or align stops here.
void check_gold_line_count(const std::string& gold, size_t gold_lines, const std::string& input,
                           size_t input_lines);

// Whitespace-separated words of text.
int64_t count_words(const std::string& text);

// One sentence pair, as the gold check sees it.
struct GoldPair {
  std::string where;       // the input line, "data.tsv:3"
  int64_t line = 0;        // its number, from 1 (the gold file's line too)
  bool truncated = false;  // the source or the target was cut at the model's length
  // Units the model's tokens make (words, or pieces with --pieces), eos not counted ...
  int64_t src_units = 0, tgt_units = 0;
  // ... and the whitespace words of the text (only compared when aligning words).
  int64_t src_words = 0, tgt_words = 0;
  const GoldAlignment* gold = nullptr;
};

// Decides, pair by pair, what goes into the AER and keeps count of what did not.
class GoldTally {
 public:
  // `gold_file` names the gold file in messages; `pieces` is --pieces; `gold_base` --gold-base.
  GoldTally(std::string gold_file, bool pieces, int gold_base);

  // Whether the pair is scored (false: truncated, or pieces that do not make the text's words).
  // A scored pair's gold links past the sentence are counted, and the pair is still scored.
  bool admit(const GoldPair& p);

  int64_t scored() const { return scored_; }
  int64_t truncated() const { return truncated_; }
  int64_t word_mismatches() const { return word_mismatches_; }
  int64_t links_outside() const { return links_outside_; }

  // The notes align prints to stderr, one per kind of problem that occurred, each naming its
  // first case; max_len is the model's length limit.
  std::vector<std::string> notes(int64_t max_len) const;
  // Throws attnscope::Error when no pair is left to score.
  void check_some_scored() const;

 private:
  std::string gold_file_;
  bool pieces_;
  int gold_base_;
  int64_t scored_ = 0, truncated_ = 0, word_mismatches_ = 0, links_outside_ = 0;
  std::string first_truncated_, first_mismatch_, first_outside_;
};

// The align flags that read from `source`: "--layer 1 --head 3", "--mean-layer 1", "--mean-all".
std::string align_source_flags(const AlignmentSource& source);

}  // namespace attnscope::app

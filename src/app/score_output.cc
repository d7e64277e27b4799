#include "app/score_output.h"

#include <fmt/core.h>

#include <string>

namespace attnscope::app {

void print_scores(const BleuScore& bleu, double chrf, size_t sentences, bool json, int beam) {
  if (json) {
    const std::string beam_field = beam > 0 ? fmt::format(", \"beam\": {}", beam) : "";
    fmt::print("{{\"bleu\": {:.2f}, \"chrf\": {:.2f}, \"sentences\": {}{}}}\n", bleu.score, chrf,
               sentences, beam_field);
  } else {
    const std::string beam_note = beam > 0 ? fmt::format(", beam {}", beam) : "";
    fmt::print("{}\nchrF2 = {:.2f}\n({} sentences{})\n", bleu.signature(), chrf, sentences,
               beam_note);
  }
}

}  // namespace attnscope::app

// How `eval` and `score` print corpus BLEU and chrF2: sacreBLEU's signature line, or one JSON
// object.
#pragma once

#include <cstddef>

#include "eval/bleu.h"

namespace attnscope::app {

// beam > 0 adds the beam size (eval); 0 leaves it out (score, which decodes nothing).
void print_scores(const BleuScore& bleu, double chrf, size_t sentences, bool json, int beam = 0);

}  // namespace attnscope::app

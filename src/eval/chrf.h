// chrF2 as sacreBLEU computes it by default: character n-grams 1–6, no word n-grams, β = 2,
// whitespace removed, corpus-level statistics summed over sentences.
#pragma once

#include <string>
#include <vector>

namespace attnscope {

double corpus_chrf(const std::vector<std::string>& hypotheses,
                   const std::vector<std::string>& references);

}  // namespace attnscope

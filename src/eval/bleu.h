// Corpus BLEU as sacreBLEU computes it by default: the 13a tokenizer, n-grams 1–4, brevity
// penalty over the corpus, sacreBLEU's default "exp" smoothing (the k-th n-gram order with no
// match gets precision 1 / (2^k · total)), one reference per sentence.
#pragma once

#include <string>
#include <vector>

namespace attnscope {

struct BleuScore {
  double score = 0;                // 0–100
  std::vector<double> precisions;  // 4 values, in percent
  double bp = 0;                   // brevity penalty
  double ratio = 0;                // hypothesis length / reference length
  int64_t hyp_len = 0, ref_len = 0;
  std::string signature() const;  // e.g. "BLEU = 34.21 65.2/40.1/27.3/19.0 (BP = 0.951 …)"
};

// sacreBLEU's 13a tokenization (mteval-v13a) of one line.
std::string tokenize_13a(const std::string& line);
BleuScore corpus_bleu(const std::vector<std::string>& hypotheses,
                      const std::vector<std::string>& references);

}  // namespace attnscope

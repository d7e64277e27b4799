// chrF2 with sacreBLEU 2.x defaults: character n-grams of orders 1–6 over the text with all
// whitespace removed, no word n-grams, beta = 2, and "effective order" averaging
// (eps_smoothing=False): precision and recall are averaged over the orders for which both the
// hypothesis and the reference side have n-grams, then combined into one F-beta. Corpus
// statistics are summed over sentences before that.
//
// Characters are Unicode code points (as in Python); the text is decoded from UTF-8, and an
// invalid byte counts as one character of its own.
#include "eval/chrf.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <string_view>
#include <unordered_map>

#include "core/error.h"
#include "core/python_text.h"

namespace attnscope {

namespace {

constexpr int kCharOrder = 6;
constexpr double kBeta = 2.0;

// The text without whitespace, and where each of its characters starts (plus the end).
struct Chars {
  std::string text;
  std::vector<size_t> starts;
};

Chars strip_whitespace(std::string_view s) {
  Chars c;
  c.text.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    char32_t cp = 0;
    const size_t len = decode_utf8(s, i, &cp);
    if (!is_python_space(cp)) {
      c.starts.push_back(c.text.size());
      c.text.append(s.substr(i, len));
    }
    i += len;
  }
  c.starts.push_back(c.text.size());
  return c;
}

using NgramCounts = std::unordered_map<std::string_view, int64_t>;

NgramCounts count_char_ngrams(const Chars& c, int n) {
  NgramCounts counts;
  const size_t num_chars = c.starts.size() - 1;
  for (size_t i = 0; i + static_cast<size_t>(n) <= num_chars; ++i) {
    const size_t b = c.starts[i], e = c.starts[i + static_cast<size_t>(n)];
    ++counts[std::string_view(c.text).substr(b, e - b)];
  }
  return counts;
}

// Per order: hypothesis n-grams, reference n-grams, matched n-grams.
using ChrfStats = std::array<int64_t, 3 * kCharOrder>;

void add_sentence_stats(const std::string& hypothesis, const std::string& reference,
                        ChrfStats& stats) {
  const Chars hyp = strip_whitespace(hypothesis);
  const Chars ref = strip_whitespace(reference);
  for (int n = 1; n <= kCharOrder; ++n) {
    const NgramCounts hyp_counts = count_char_ngrams(hyp, n);
    const NgramCounts ref_counts = count_char_ngrams(ref, n);
    int64_t hyp_total = 0, ref_total = 0, match = 0;
    for (const auto& [ngram, count] : hyp_counts) {
      hyp_total += count;
      const auto it = ref_counts.find(ngram);
      if (it != ref_counts.end()) match += std::min(count, it->second);
    }
    for (const auto& [ngram, count] : ref_counts) ref_total += count;
    const size_t k = 3 * static_cast<size_t>(n - 1);
    // As sacreBLEU: hypothesis n-grams are not counted when the reference has none of this
    // order, so a too-short reference does not penalise precision.
    stats[k] += ref_counts.empty() ? 0 : hyp_total;
    stats[k + 1] += ref_total;
    stats[k + 2] += match;
  }
}

double f_score(const ChrfStats& stats) {
  double avg_prec = 0.0, avg_rec = 0.0;
  int effective_order = 0;
  for (size_t i = 0; i < kCharOrder; ++i) {
    const int64_t n_hyp = stats[3 * i], n_ref = stats[3 * i + 1], n_match = stats[3 * i + 2];
    if (n_hyp > 0 && n_ref > 0) {
      avg_prec += static_cast<double>(n_match) / static_cast<double>(n_hyp);
      avg_rec += static_cast<double>(n_match) / static_cast<double>(n_ref);
      ++effective_order;
    }
  }
  if (effective_order == 0) return 0.0;
  avg_prec /= effective_order;
  avg_rec /= effective_order;
  if (avg_prec + avg_rec == 0.0) return 0.0;
  const double factor = kBeta * kBeta;
  double score = (1 + factor) * avg_prec * avg_rec;
  score /= (factor * avg_prec) + avg_rec;
  return 100 * score;
}

}  // namespace

double corpus_chrf(const std::vector<std::string>& hypotheses,
                   const std::vector<std::string>& references) {
  ATTN_CHECK(hypotheses.size() == references.size(),
             "corpus_chrf: {} hypotheses but {} references (one reference per hypothesis)",
             hypotheses.size(), references.size());
  ChrfStats stats{};
  for (size_t i = 0; i < hypotheses.size(); ++i)
    add_sentence_stats(hypotheses[i], references[i], stats);
  return f_score(stats);
}

}  // namespace attnscope

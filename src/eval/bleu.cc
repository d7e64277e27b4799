// Corpus BLEU with sacreBLEU 2.x defaults: 13a tokenization, 4-gram precisions clipped by one
// reference, corpus-level brevity penalty, "exp" smoothing (mteval-v13a's: the k-th order with
// zero matches gets precision 1 / (2^k · total)), no effective order.
//
// Text is handled as UTF-8 bytes. The 13a rules only ever test ASCII characters (punctuation,
// digits), and a multi-byte character can never match their ASCII classes, so rewriting byte
// by byte gives the same result as sacreBLEU's rewriting of Python code points. Splitting on
// whitespace follows Python's str.split(): Unicode whitespace (NBSP, U+2000–U+200A, …) splits
// too, as it does in sacreBLEU.
#include "eval/bleu.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <string_view>
#include <unordered_map>

#include "core/error.h"
#include "core/python_text.h"

namespace attnscope {

namespace {

constexpr int kMaxOrder = 4;

// Python's str.split() with no argument.
std::vector<std::string_view> split_python_whitespace(std::string_view s) {
  std::vector<std::string_view> words;
  size_t start = std::string_view::npos;
  for (size_t i = 0; i < s.size();) {
    char32_t cp = 0;
    const size_t len = decode_utf8(s, i, &cp);
    if (is_python_space(cp)) {
      if (start != std::string_view::npos) words.push_back(s.substr(start, i - start));
      start = std::string_view::npos;
    } else if (start == std::string_view::npos) {
      start = i;
    }
    i += len;
  }
  if (start != std::string_view::npos) words.push_back(s.substr(start));
  return words;
}

// Python's str.rstrip() with no argument.
std::string_view rstrip_python_whitespace(std::string_view s) {
  size_t end = 0;
  for (size_t i = 0; i < s.size();) {
    char32_t cp = 0;
    const size_t len = decode_utf8(s, i, &cp);
    i += len;
    if (!is_python_space(cp)) end = i;
  }
  return s.substr(0, end);
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  std::string out;
  size_t pos = 0;
  bool changed = false;
  while (true) {
    const size_t hit = s.find(from, pos);
    if (hit == std::string::npos) break;
    out.append(s, pos, hit - pos);
    out.append(to);
    pos = hit + from.size();
    changed = true;
  }
  if (!changed) return;
  out.append(s, pos, std::string::npos);
  s = std::move(out);
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_period_or_comma(char c) {
  return c == '.' || c == ',';
}

// mteval's first rule: these ASCII symbols always become tokens of their own
// ({|}~ [\]^_` space!"#$%& ()*+ :;<=>?@ /).
bool is_split_symbol(char c) {
  const auto u = static_cast<unsigned char>(c);
  return (u >= 0x7B && u <= 0x7E) || (u >= 0x5B && u <= 0x60) || (u >= 0x20 && u <= 0x26) ||
         (u >= 0x28 && u <= 0x2B) || (u >= 0x3A && u <= 0x40) || u == '/';
}

// The remaining rules are regex substitutions over two characters; applied left to right
// without overlap, exactly as Python's re.sub does.
// ([^0-9])([.,]) → "\1 \2 ": a period or comma after a non-digit.
std::string split_punct_after_nondigit(const std::string& s) {
  std::string out;
  out.reserve(s.size() + 16);
  for (size_t i = 0; i < s.size();) {
    if (i + 1 < s.size() && !is_digit(s[i]) && is_period_or_comma(s[i + 1])) {
      out += s[i];
      out += ' ';
      out += s[i + 1];
      out += ' ';
      i += 2;
    } else {
      out += s[i++];
    }
  }
  return out;
}

// ([.,])([^0-9]) → " \1 \2": a period or comma before a non-digit.
std::string split_punct_before_nondigit(const std::string& s) {
  std::string out;
  out.reserve(s.size() + 16);
  for (size_t i = 0; i < s.size();) {
    if (i + 1 < s.size() && is_period_or_comma(s[i]) && !is_digit(s[i + 1])) {
      out += ' ';
      out += s[i];
      out += ' ';
      out += s[i + 1];
      i += 2;
    } else {
      out += s[i++];
    }
  }
  return out;
}

// ([0-9])(-) → "\1 \2 ": a dash after a digit.
std::string split_dash_after_digit(const std::string& s) {
  std::string out;
  out.reserve(s.size() + 16);
  for (size_t i = 0; i < s.size();) {
    if (i + 1 < s.size() && is_digit(s[i]) && s[i + 1] == '-') {
      out += s[i];
      out += " - ";
      i += 2;
    } else {
      out += s[i++];
    }
  }
  return out;
}

struct SentenceStats {
  int64_t hyp_len = 0, ref_len = 0;
  std::array<int64_t, kMaxOrder> correct{}, total{};
};

// N-gram key: the token ids of the n-gram packed as bytes.
using NgramCounts = std::unordered_map<std::string, int64_t>;

NgramCounts count_ngrams(const std::vector<int32_t>& ids, int n) {
  NgramCounts counts;
  for (size_t i = 0; i + static_cast<size_t>(n) <= ids.size(); ++i) {
    std::string key(reinterpret_cast<const char*>(&ids[i]), sizeof(int32_t) * n);
    ++counts[key];
  }
  return counts;
}

SentenceStats sentence_stats(const std::string& hyp_tok, const std::string& ref_tok) {
  const std::vector<std::string_view> hyp_words = split_python_whitespace(hyp_tok);
  const std::vector<std::string_view> ref_words = split_python_whitespace(ref_tok);
  std::unordered_map<std::string_view, int32_t> vocab;
  auto to_ids = [&vocab](const std::vector<std::string_view>& words) {
    std::vector<int32_t> ids;
    ids.reserve(words.size());
    for (std::string_view w : words) {
      const auto [it, inserted] = vocab.emplace(w, static_cast<int32_t>(vocab.size()));
      ids.push_back(it->second);
    }
    return ids;
  };
  const std::vector<int32_t> hyp_ids = to_ids(hyp_words);
  const std::vector<int32_t> ref_ids = to_ids(ref_words);

  SentenceStats st;
  st.hyp_len = static_cast<int64_t>(hyp_ids.size());
  st.ref_len = static_cast<int64_t>(ref_ids.size());
  for (int n = 1; n <= kMaxOrder; ++n) {
    const NgramCounts hyp_counts = count_ngrams(hyp_ids, n);
    const NgramCounts ref_counts = count_ngrams(ref_ids, n);
    for (const auto& [ngram, count] : hyp_counts) {
      st.total[n - 1] += count;
      const auto it = ref_counts.find(ngram);
      if (it != ref_counts.end()) st.correct[n - 1] += std::min(count, it->second);
    }
  }
  return st;
}

// sacreBLEU's my_log: log(0) is a huge negative number rather than -inf.
double safe_log(double x) {
  return x > 0 ? std::log(x) : -9999999999.0;
}

}  // namespace

std::string tokenize_13a(const std::string& line) {
  std::string s = line;
  replace_all(s, "<skipped>", "");
  replace_all(s, "-\n", "");
  replace_all(s, "\n", " ");
  // One pass each, in this order: "&amp;quot;" becomes "&quot;" and stays so, while
  // "&amp;lt;" becomes "&lt;" and then "<" (sacreBLEU does exactly this).
  replace_all(s, "&quot;", "\"");
  replace_all(s, "&amp;", "&");
  replace_all(s, "&lt;", "<");
  replace_all(s, "&gt;", ">");

  std::string padded;
  padded.reserve(s.size() * 2 + 2);
  padded += ' ';
  for (char c : s) {
    if (is_split_symbol(c)) {
      padded += ' ';
      padded += c;
      padded += ' ';
    } else {
      padded += c;
    }
  }
  padded += ' ';
  const std::string out =
      split_dash_after_digit(split_punct_before_nondigit(split_punct_after_nondigit(padded)));

  std::string joined;
  joined.reserve(out.size());
  for (std::string_view w : split_python_whitespace(out)) {
    if (!joined.empty()) joined += ' ';
    joined.append(w);
  }
  return joined;
}

BleuScore corpus_bleu(const std::vector<std::string>& hypotheses,
                      const std::vector<std::string>& references) {
  ATTN_CHECK(hypotheses.size() == references.size(),
             "corpus_bleu: {} hypotheses but {} references (one reference per hypothesis)",
             hypotheses.size(), references.size());
  SentenceStats sum;
  for (size_t i = 0; i < hypotheses.size(); ++i) {
    // sacreBLEU strips trailing whitespace before tokenizing each segment.
    const SentenceStats st =
        sentence_stats(tokenize_13a(std::string(rstrip_python_whitespace(hypotheses[i]))),
                       tokenize_13a(std::string(rstrip_python_whitespace(references[i]))));
    sum.hyp_len += st.hyp_len;
    sum.ref_len += st.ref_len;
    for (int n = 0; n < kMaxOrder; ++n) {
      sum.correct[n] += st.correct[n];
      sum.total[n] += st.total[n];
    }
  }

  BleuScore r;
  r.hyp_len = sum.hyp_len;
  r.ref_len = sum.ref_len;
  r.ratio = r.ref_len > 0 ? static_cast<double>(r.hyp_len) / static_cast<double>(r.ref_len) : 0.0;
  if (r.hyp_len < r.ref_len) {
    r.bp = r.hyp_len > 0
               ? std::exp(1.0 - static_cast<double>(r.ref_len) / static_cast<double>(r.hyp_len))
               : 0.0;
  } else {
    r.bp = 1.0;
  }
  r.precisions.assign(kMaxOrder, 0.0);

  bool any_match = false;
  for (int64_t c : sum.correct) any_match = any_match || c > 0;
  if (!any_match) {
    r.score = 0.0;
    return r;
  }

  double smooth = 1.0;
  for (int n = 0; n < kMaxOrder; ++n) {
    // A corpus with no n-grams of this order (every hypothesis shorter than n) keeps
    // precision 0 here and below, so the score is 0.
    if (sum.total[n] == 0) break;
    const auto total = static_cast<double>(sum.total[n]);
    if (sum.correct[n] == 0) {
      smooth *= 2;
      r.precisions[n] = 100.0 / (smooth * total);
    } else {
      r.precisions[n] = 100.0 * static_cast<double>(sum.correct[n]) / total;
    }
  }
  double log_sum = 0.0;
  for (double p : r.precisions) log_sum += safe_log(p);
  r.score = r.bp * std::exp(log_sum / kMaxOrder);
  return r;
}

std::string BleuScore::signature() const {
  std::string prec;
  for (size_t i = 0; i < precisions.size(); ++i) {
    if (i > 0) prec += '/';
    prec += fmt::format("{:.1f}", precisions[i]);
  }
  return fmt::format("BLEU = {:.2f} {} (BP = {:.3f} ratio = {:.3f} hyp_len = {} ref_len = {})",
                     score, prec, bp, ratio, hyp_len, ref_len);
}

}  // namespace attnscope

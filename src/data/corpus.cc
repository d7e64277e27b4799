// Parallel corpora: line-by-line validation with counted skip reasons (see corpus.h).
//
// Checks per pair, in this order (the first that applies is the reason):
//   "missing tab"     (TSV only) fewer columns than max(src_col, tgt_col) + 1; a line that is
//                     also not valid UTF-8 is reported as "invalid UTF-8" instead
//   "invalid UTF-8"   the source or target column is not valid UTF-8 (ignored columns are not
//                     checked, so a stray Latin-1 note column does not cost the pair)
//   "empty source"    after trimming surrounding ASCII whitespace (and after `reverse`, so
//   "empty target"    "source" is always the side the model reads)
//   "over-long pair"  either side longer than max_chars bytes (after trimming), or a line over
//                     kMaxLineBytes (core/line_reader.h: only that much of it is kept in memory)
// Lines end in "\n" or "\r\n"; a UTF-8 byte-order mark at the start of the file is dropped; a
// final line without a newline still counts.
#include "data/corpus.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string_view>
#include <utility>

#include "core/error.h"
#include "core/line_reader.h"
#include "core/rng.h"

namespace attnscope {

namespace {

constexpr size_t kMaxExamples = 5;
constexpr std::string_view kBom = "\xEF\xBB\xBF";

bool valid_utf8(std::string_view s);

std::ifstream open_corpus(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    fail("cannot read corpus {}: it is a directory", path);
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open corpus {}: {}", path, std::strerror(errno));
  return in;
}

// Reads one line without its "\n" / "\r\n"; strips the BOM when `first`. False at the end. A
// line over kMaxLineBytes keeps only that much (*cut): it is an over-long pair whatever it holds.
bool read_line(std::istream& in, const std::string& path, std::string& line, bool first,
               bool* cut) {
  if (!attnscope::read_line(in, line, kMaxLineBytes, cut)) {
    if (in.bad()) fail("error while reading corpus {}: {}", path, std::strerror(errno));
    return false;
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (first && line.starts_with(kBom)) line.erase(0, kBom.size());
  return true;
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

void skip(CorpusReport& report, const std::string& file, int64_t line, const std::string& reason) {
  ++report.skipped[reason];
  if (report.examples.size() < kMaxExamples)
    report.examples.push_back(fmt::format("{}:{}: {}", file, line, reason));
}

// Validates one pair (src/tgt already split out). `src_file`/`tgt_file` name the file each side
// came from, for the examples. Returns true and appends to `out` when the pair is kept.
bool accept_pair(std::string_view src, std::string_view tgt, int64_t line, const CorpusOptions& opt,
                 const std::string& src_file, const std::string& tgt_file, CorpusReport& report,
                 std::vector<SentencePair>& out) {
  if (!valid_utf8(src)) {
    skip(report, src_file, line, "invalid UTF-8");
    return false;
  }
  if (!valid_utf8(tgt)) {
    skip(report, tgt_file, line, "invalid UTF-8");
    return false;
  }
  src = trim(src);
  tgt = trim(tgt);
  if (src.empty()) {
    skip(report, src_file, line, "empty source");
    return false;
  }
  if (tgt.empty()) {
    skip(report, tgt_file, line, "empty target");
    return false;
  }
  if (static_cast<int64_t>(src.size()) > opt.max_chars) {
    skip(report, src_file, line, "over-long pair");
    return false;
  }
  if (static_cast<int64_t>(tgt.size()) > opt.max_chars) {
    skip(report, tgt_file, line, "over-long pair");
    return false;
  }
  out.push_back(SentencePair{std::string(src), std::string(tgt), line});
  ++report.kept;
  return true;
}

void check_options(const CorpusOptions& opt) {
  ATTN_CHECK(opt.src_col >= 0 && opt.tgt_col >= 0, "corpus columns must be >= 0 (got {} and {})",
             opt.src_col, opt.tgt_col);
  ATTN_CHECK(opt.src_col != opt.tgt_col, "source and target column are both {}", opt.src_col);
  ATTN_CHECK(opt.max_chars >= 1, "max_chars must be >= 1 (got {})", opt.max_chars);
}

void require_pairs(const std::vector<SentencePair>& pairs, const CorpusReport& report) {
  if (pairs.empty()) fail("{}: no usable sentence pair ({})", report.source, report.summary());
}

}  // namespace

int64_t CorpusReport::total_skipped() const {
  int64_t n = 0;
  for (const auto& [reason, count] : skipped) n += count;
  return n;
}

std::string CorpusReport::summary() const {
  std::string s = fmt::format("{}: {} pair{} kept of {} line{}", source, kept, kept == 1 ? "" : "s",
                              lines, lines == 1 ? "" : "s");
  if (skipped.empty()) return s;
  std::vector<std::pair<std::string, int64_t>> reasons(skipped.begin(), skipped.end());
  std::stable_sort(reasons.begin(), reasons.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  s += "; skipped ";
  for (size_t i = 0; i < reasons.size(); ++i)
    s += fmt::format("{}{} {}", i ? ", " : "", reasons[i].second, reasons[i].first);
  if (!examples.empty()) {
    s += " (first: ";
    for (size_t i = 0; i < examples.size(); ++i) s += (i ? "; " : "") + examples[i];
    if (static_cast<int64_t>(examples.size()) < total_skipped()) s += "; …";
    s += ")";
  }
  return s;
}

std::vector<SentencePair> read_tsv(const std::string& path, const CorpusOptions& opt,
                                   CorpusReport& report) {
  check_options(opt);
  report = CorpusReport{};
  report.source = path;
  std::ifstream in = open_corpus(path);
  const size_t needed = static_cast<size_t>(std::max(opt.src_col, opt.tgt_col)) + 1;

  std::vector<SentencePair> pairs;
  std::string line;
  std::vector<std::string_view> cols;
  bool cut = false;
  while (read_line(in, path, line, report.lines == 0, &cut)) {
    const int64_t lineno = ++report.lines;
    if (cut) {
      skip(report, path, lineno, "over-long pair");
      continue;
    }
    cols.clear();
    std::string_view rest = line;
    while (cols.size() < needed) {
      const size_t tab = rest.find('\t');
      cols.push_back(rest.substr(0, tab));
      if (tab == std::string_view::npos) break;
      rest.remove_prefix(tab + 1);
    }
    if (cols.size() < needed) {
      skip(report, path, lineno, valid_utf8(line) ? "missing tab" : "invalid UTF-8");
      continue;
    }
    std::string_view src = cols[opt.src_col], tgt = cols[opt.tgt_col];
    if (opt.reverse) std::swap(src, tgt);
    accept_pair(src, tgt, lineno, opt, path, path, report, pairs);
  }
  require_pairs(pairs, report);
  return pairs;
}

std::vector<SentencePair> read_parallel(const std::string& src_path, const std::string& tgt_path,
                                        const CorpusOptions& opt, CorpusReport& report) {
  ATTN_CHECK(opt.max_chars >= 1, "max_chars must be >= 1 (got {})", opt.max_chars);
  report = CorpusReport{};
  report.source = src_path + " + " + tgt_path;
  std::ifstream src_in = open_corpus(src_path);
  std::ifstream tgt_in = open_corpus(tgt_path);

  std::vector<SentencePair> pairs;
  std::string src_line, tgt_line;
  int64_t n = 0;
  for (;;) {
    bool src_cut = false, tgt_cut = false;
    const bool has_src = read_line(src_in, src_path, src_line, n == 0, &src_cut);
    const bool has_tgt = read_line(tgt_in, tgt_path, tgt_line, n == 0, &tgt_cut);
    if (has_src != has_tgt) {
      // Count the rest of the longer file so the message gives both line counts.
      std::istream& longer = has_src ? src_in : tgt_in;
      const std::string& longer_path = has_src ? src_path : tgt_path;
      int64_t longer_lines = n + 1;
      std::string scratch;
      while (read_line(longer, longer_path, scratch, false, nullptr)) ++longer_lines;
      const int64_t src_lines = has_src ? longer_lines : n;
      const int64_t tgt_lines = has_src ? n : longer_lines;
      fail("parallel corpus line counts differ: {} has {} lines but {} has {} lines", src_path,
           src_lines, tgt_path, tgt_lines);
    }
    if (!has_src) break;
    const int64_t lineno = ++n;
    report.lines = n;
    if (src_cut || tgt_cut) {
      skip(report, src_cut ? src_path : tgt_path, lineno, "over-long pair");
      continue;
    }
    if (opt.reverse) {
      accept_pair(tgt_line, src_line, lineno, opt, tgt_path, src_path, report, pairs);
    } else {
      accept_pair(src_line, tgt_line, lineno, opt, src_path, tgt_path, report, pairs);
    }
  }
  require_pairs(pairs, report);
  return pairs;
}

bool is_valid_utf8(const std::string& s) {
  return valid_utf8(s);
}

namespace {

bool valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c == 0xE0) {
      len = 3, lo = 0xA0;  // no overlong 3-byte forms
    } else if (c == 0xED) {
      len = 3, hi = 0x9F;  // no surrogates U+D800..U+DFFF
    } else if (c >= 0xE1 && c <= 0xEF) {
      len = 3;
    } else if (c == 0xF0) {
      len = 4, lo = 0x90;  // no overlong 4-byte forms
    } else if (c >= 0xF1 && c <= 0xF3) {
      len = 4;
    } else if (c == 0xF4) {
      len = 4, hi = 0x8F;  // nothing above U+10FFFF
    } else {
      return false;  // continuation byte, overlong lead 0xC0/0xC1, or 0xF5..0xFF
    }
    if (n - i < len) return false;
    if (p[i + 1] < lo || p[i + 1] > hi) return false;
    for (size_t k = 2; k < len; ++k)
      if ((p[i + k] & 0xC0) != 0x80) return false;
    i += len;
  }
  return true;
}

}  // namespace

CorpusSplit split_corpus(const std::vector<SentencePair>& pairs, int64_t dev_size,
                         int64_t test_size, uint64_t seed) {
  const auto total = static_cast<int64_t>(pairs.size());
  ATTN_CHECK(dev_size >= 0 && test_size >= 0, "dev and test sizes must be >= 0 (got {} and {})",
             dev_size, test_size);
  ATTN_CHECK(dev_size + test_size < total,
             "cannot take {} dev + {} test pairs from {} pairs and keep any for training", dev_size,
             test_size, total);
  std::vector<SentencePair> shuffled = pairs;
  Rng rng(seed);
  for (size_t i = shuffled.size(); i > 1; --i) {
    const auto j = static_cast<size_t>(rng.below(i));
    std::swap(shuffled[i - 1], shuffled[j]);
  }
  CorpusSplit split;
  const auto dev_end = shuffled.begin() + dev_size;
  const auto test_end = dev_end + test_size;
  split.dev.assign(std::make_move_iterator(shuffled.begin()), std::make_move_iterator(dev_end));
  split.test.assign(std::make_move_iterator(dev_end), std::make_move_iterator(test_end));
  split.train.assign(std::make_move_iterator(test_end), std::make_move_iterator(shuffled.end()));
  return split;
}

}  // namespace attnscope

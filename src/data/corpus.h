// Parallel corpora: TSV (source<TAB>target[<TAB>ignored…]) or two aligned files, validated
// line by line. Nothing is dropped silently: every skipped pair is counted by reason and the
// first few are reported as "file:line: reason".
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace attnscope {

struct SentencePair {
  std::string src, tgt;
  int64_t line = 0;  // 1-based line in the file it came from
};

struct CorpusOptions {
  int src_col = 0;  // TSV columns (0-based)
  int tgt_col = 1;
  bool reverse = false;      // swap source and target after reading
  int64_t max_chars = 2000;  // a side longer than this (in bytes) is skipped as over-long
};

struct CorpusReport {
  std::string source;  // file name(s)
  int64_t lines = 0;   // lines read
  int64_t kept = 0;
  std::map<std::string, int64_t> skipped;  // reason → count
  std::vector<std::string> examples;       // first few "file:line: reason"
  int64_t total_skipped() const;
  // "train.tsv: 13295 pairs kept of 13301 lines; skipped 4 missing tab, 2 invalid UTF-8
  //  (first: train.tsv:17: missing tab …)"
  std::string summary() const;
};

// Throws attnscope::Error naming the file when it cannot be read or has no usable pair.
std::vector<SentencePair> read_tsv(const std::string& path, const CorpusOptions& opt,
                                   CorpusReport& report);
// Two files with one sentence per line, same line count (a mismatch is an error).
std::vector<SentencePair> read_parallel(const std::string& src_path, const std::string& tgt_path,
                                        const CorpusOptions& opt, CorpusReport& report);

// True when s is valid UTF-8 (no overlongs, no surrogates, ≤ U+10FFFF).
bool is_valid_utf8(const std::string& s);

struct CorpusSplit {
  std::vector<SentencePair> train, dev, test;
};
// Deterministic split: shuffles a copy with `seed` and takes dev_size then test_size pairs.
CorpusSplit split_corpus(const std::vector<SentencePair>& pairs, int64_t dev_size,
                         int64_t test_size, uint64_t seed);

}  // namespace attnscope

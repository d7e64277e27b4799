// read_tsv on any bytes, with options from the first byte: an Error, or pairs that each pass the
// documented checks, and a report whose counts add up.
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "data/corpus.h"
#include "fuzz_util.h"

using namespace attnscope;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::init_limits();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  CorpusOptions opt;
  opt.src_col = data[0] & 3;
  opt.tgt_col = (data[0] >> 2) & 3;
  opt.reverse = (data[0] & 16) != 0;
  opt.max_chars = (data[0] & 32) ? 8 : 2000;
  const fuzz::MemFile file({reinterpret_cast<const char*>(data) + 1, size - 1});
  CorpusReport report;
  try {
    const auto pairs = read_tsv(file.path(), opt, report);
    if (static_cast<int64_t>(pairs.size()) != report.kept) fuzz::broken("kept count");
    if (report.kept + report.total_skipped() != report.lines) fuzz::broken("line count");
    for (const SentencePair& p : pairs) {
      if (p.src.empty() || p.tgt.empty()) fuzz::broken("empty side kept");
      if (!is_valid_utf8(p.src) || !is_valid_utf8(p.tgt)) fuzz::broken("invalid UTF-8 kept");
      if (static_cast<int64_t>(p.src.size()) > opt.max_chars ||
          static_cast<int64_t>(p.tgt.size()) > opt.max_chars)
        fuzz::broken("over-long pair kept");
      if (p.line < 1 || p.line > report.lines) fuzz::broken("line number");
    }
    (void)report.summary();
  } catch (const Error&) {
  }
  return 0;
}

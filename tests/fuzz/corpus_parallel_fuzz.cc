// read_parallel on any two files (the input split where its first two bytes say): an Error, or
// pairs that pass the checks, one per line of both files.
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
  if (size < 3) return 0;
  CorpusOptions opt;
  opt.reverse = (data[0] & 1) != 0;
  opt.max_chars = (data[0] & 2) ? 8 : 2000;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 3, size - 3);
  const size_t cut = std::min<size_t>(rest.size(), data[1] | (size_t{data[2]} << 8));
  const fuzz::MemFile src(rest.substr(0, cut)), tgt(rest.substr(cut));
  CorpusReport report;
  try {
    const auto pairs = read_parallel(src.path(), tgt.path(), opt, report);
    if (static_cast<int64_t>(pairs.size()) != report.kept) fuzz::broken("kept count");
    if (report.kept + report.total_skipped() != report.lines) fuzz::broken("line count");
    for (const SentencePair& p : pairs)
      if (p.src.empty() || p.tgt.empty() || !is_valid_utf8(p.src) || !is_valid_utf8(p.tgt))
        fuzz::broken("a bad pair kept");
    (void)report.summary();
  } catch (const Error&) {
  }
  return 0;
}

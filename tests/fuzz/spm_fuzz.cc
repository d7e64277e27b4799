// A SentencePiece .model from any bytes, as `--spm` and a model directory load it: an Error, or a
// tokenizer that encodes, decodes and names the pieces of a few sentences (and refuses ids outside
// its vocabulary with an Error).
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "data/tokenizer.h"
#include "fuzz_util.h"

using namespace attnscope;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::init_limits();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fuzz::MemFile file({reinterpret_cast<const char*>(data), size});
  try {
    const Tokenizer tok = Tokenizer::load(file.path());
    const int n = tok.vocab_size();
    if (n < 4) fuzz::broken("a tokenizer without the special ids loaded");
    for (const char* text :
         {"", "este é o primeiro livro", "9 de outubro de 1993", "\xE2\x96\x81 x"}) {
      const std::vector<int32_t> ids = tok.encode(text);
      for (const int32_t id : ids)
        if (id < 0 || id >= n) fuzz::broken("encode gave an id outside the vocabulary");
      (void)tok.decode(ids);
      (void)tok.pieces(ids);
    }
    for (const int32_t id : {-1, n, n + 1000}) {
      try {
        (void)tok.piece(id);
        fuzz::broken("an id outside the vocabulary was named");
      } catch (const Error&) {
      }
    }
  } catch (const Error&) {
  }
  return 0;
}

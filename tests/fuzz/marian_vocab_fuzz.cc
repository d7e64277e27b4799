// A Hugging Face Marian vocab.json on any bytes: an Error, or a vocabulary whose pieces and ids
// agree both ways (ids exactly 0 … n−1), which, when it holds the special tokens, makes a
// tokenizer with a real source.spm that encodes to ids inside it and decodes them back.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/error.h"
#include "data/marian_tokenizer.h"
#include "data/marian_vocab.h"
#include "fuzz_util.h"

using namespace attnscope;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::init_limits();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const fuzz::MemFile file(text);
  MarianVocab vocab;
  try {
    vocab = read_marian_vocab(file.path());
  } catch (const Error&) {
    return 0;
  }
  if (vocab.ids.size() != vocab.pieces.size()) fuzz::broken("pieces and ids differ in number");
  for (int32_t id = 0; id < vocab.size(); ++id) {
    const std::string& piece = vocab.pieces[static_cast<size_t>(id)];
    if (vocab.find(piece) != id) fuzz::broken("a piece does not find its own id");
  }
  if (vocab.find("</s>") < 0 || vocab.find("<unk>") < 0 || vocab.find("<pad>") < 0) return 0;
  try {
    const MarianTokenizer tok = MarianTokenizer::load(
        std::string(ATTNSCOPE_TEST_DATA) + "/marian/shared_swish/model/source.spm", vocab,
        MarianTokenizerOptions{});
    // Some of the input as text (the vocabulary's own pieces among it), encoded and decoded.
    const std::string sample = text.substr(0, 64) + " Onde fica a estação?";
    const std::vector<int32_t> ids = tok.encode(sample);
    for (const int32_t id : ids)
      if (id < 0 || id >= tok.vocab_size()) fuzz::broken("an id outside the vocabulary");
    (void)tok.decode(ids);
  } catch (const Error&) {
  }
  return 0;
}

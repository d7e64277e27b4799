// Sentences in, sentences out: tokenizes, batches by length, runs beam search, detokenizes.
// Used by `translate`, `eval`, the trainer's validation and the demo.
#pragma once

#include <string>
#include <vector>

#include "data/tokenizer.h"
#include "decode/beam_search.h"

namespace attnscope {

struct TranslateOptions {
  DecodeOptions decode;
  int64_t batch_sentences = 32;  // sentences per beam-search batch
};

struct Translation {
  std::string source;
  std::string text;                     // best hypothesis, detokenized
  std::vector<std::string> src_pieces;  // source pieces incl. the final </s>
  std::vector<std::string> tgt_pieces;  // <s> followed by the output pieces (the fed tokens)
  std::vector<Hypothesis> hypotheses;   // nbest, best first (attention inside when captured)
};

// Source ids of a sentence as the model sees them: pieces + eos, truncated to max_len. A long
// sentence is cut before it is tokenized (data/sentence_cut.h), with the same result.
std::vector<int32_t> encode_source(const Tokenizer& tok, const std::string& sentence,
                                   int64_t max_len, int32_t eos_id);

std::vector<Translation> translate_sentences(Seq2SeqModel& model, const Tokenizer& src_tok,
                                             const Tokenizer& tgt_tok,
                                             const std::vector<std::string>& sentences,
                                             const TranslateOptions& opt);

}  // namespace attnscope

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

// Source ids of a sentence as the model sees them: pieces + eos, truncated to max_len.
std::vector<int32_t> encode_source(const Tokenizer& tok, const std::string& sentence,
                                   int64_t max_len, int32_t eos_id);

// The tokens the decoder was fed for hypothesis h (the rows of its decoder maps): <s> and the
// outputs, except the last one of a hypothesis cut at the length limit (it was chosen at the
// final step and never fed back).
std::vector<int32_t> fed_tokens(const Hypothesis& h, int32_t bos_id);

std::vector<Translation> translate_sentences(Seq2SeqModel& model, const Tokenizer& src_tok,
                                             const Tokenizer& tgt_tok,
                                             const std::vector<std::string>& sentences,
                                             const TranslateOptions& opt);

}  // namespace attnscope

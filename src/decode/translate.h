// Sentences in, sentences out: tokenizes, batches by length, runs beam search, detokenizes.
// Used by `translate`, `eval`, the trainer's validation and the demo.
#pragma once

#include <string>
#include <vector>

#include "data/text_tokenizer.h"
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
  std::vector<std::string> tgt_pieces;  // the decoder start token (<s>; a Marian model's <pad>)
                                        // and the output pieces: the fed tokens
  std::vector<Hypothesis> hypotheses;   // nbest, best first (attention inside when captured)
};

// Source ids of a sentence as the model sees them: pieces + eos, truncated to max_len. A long
// sentence is cut before it is tokenized (data/sentence_cut.h), with the same result.
std::vector<int32_t> encode_source(const TextTokenizer& tok, const std::string& sentence,
                                   int64_t max_len, int32_t eos_id);

// The tokens the decoder was fed for hypothesis h (the rows of its decoder maps): the decoder
// start token and the outputs, except the last one of a hypothesis cut at the length limit (it
// was chosen at the final step and never fed back).
std::vector<int32_t> fed_tokens(const Hypothesis& h, int32_t decoder_start_id);

// Under Hugging Face's rules (opt.decode.hf) a source longer than the model's positions is an
// error naming the sentence (Hugging Face cannot run it either), not truncated.
std::vector<Translation> translate_sentences(Seq2SeqModel& model, const TextTokenizer& src_tok,
                                             const TextTokenizer& tgt_tok,
                                             const std::vector<std::string>& sentences,
                                             const TranslateOptions& opt);

}  // namespace attnscope

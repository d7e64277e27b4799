// A Hugging Face Marian model directory (OPUS-MT) read as it is downloaded — the layout
// MarianMTModel.save_pretrained and MarianTokenizer.save_pretrained write:
//   config.json              "model_type": "marian", the sizes, the ids (io/marian_config_reader.h)
//   generation_config.json   how to translate (optional: else config.json's generation keys)
//   model.safetensors        the weights (io/marian_weights.h)
//   source.spm, target.spm   the SentencePiece models of each side
//   vocab.json               piece → id (data/marian_vocab.h); target_vocab.json as well when
//                            tokenizer_config.json says "separate_vocabs": true
//   tokenizer_config.json, special_tokens_map.json   the tokenizer's settings (optional)
// io/architectures.cc lists it as the architecture "marian"; load_model and load_tokenizers
// (io/model_dir.h) come here for such a directory.
#pragma once

#include <memory>
#include <string>

#include "data/marian_tokenizer.h"
#include "data/text_tokenizer.h"
#include "nn/seq2seq_model.h"

namespace attnscope {

// The model: config.json and generation_config.json checked, then the weights mapped onto a
// MarianModel. Throws attnscope::Error naming the file and the field or tensor; a directory with
// weights in another format (pytorch_model.bin, tf_model.h5, …) or split over several files is
// refused with what to do instead.
std::unique_ptr<Seq2SeqModel> load_marian_model(const std::string& dir);

// The source and target tokenizers (one MarianTokenizer each, over source.spm / target.spm and
// vocab.json / target_vocab.json), checked against config.json: vocabulary sizes, the eos and
// pad ids, the tokenizer settings attnscope does not compute (sp_model_kwargs,
// split_special_tokens, added tokens beyond </s>, <unk>, <pad>).
struct MarianTokenizers {
  std::shared_ptr<const MarianTokenizer> src, tgt;
};
MarianTokenizers load_marian_tokenizer_pair(const std::string& dir);
TokenizerPair load_marian_tokenizers(const std::string& dir);

}  // namespace attnscope

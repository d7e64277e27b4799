// One side of a Hugging Face MarianTokenizer (transformers 4.56; docs/marian-semantics.md,
// section 4): the side's SentencePiece model (source.spm or target.spm) and its vocabulary
// (vocab.json, or target_vocab.json when the sides are separate).
//
//   text → ids   the special tokens (</s>, <unk>, <pad>) written literally in the text are cut
//                out first and become their ids; every other chunk keeps a leading language
//                code ">>por<<" whole, and the rest is cut by SentencePiece into pieces that are
//                looked up in the vocabulary by their string (<unk> when absent). No </s> is
//                appended here (the caller appends the model's eos).
//   ids → text   as decode(skip_special_tokens=True): </s>, <unk> and <pad> are dropped
//                wherever they are, the other ids become pieces, SentencePiece's DecodePieces
//                joins them (a piece it does not know is copied as it is), every ▁ left becomes
//                a space, the result is str.strip()ped, and clean_up_tokenization_spaces
//                (" ." → "." …) applies when the tokenizer config asks for it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "data/marian_vocab.h"
#include "data/text_tokenizer.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace attnscope {

struct MarianTokenizerOptions {
  std::string eos_token = "</s>", unk_token = "<unk>", pad_token = "<pad>";
  bool clean_up_tokenization_spaces = false;  // tokenizer_config.json; 4.45+ default: false
};

class MarianTokenizer : public TextTokenizer {
 public:
  // Throws attnscope::Error naming the file: an unreadable SentencePiece model, special tokens
  // missing from the vocabulary, or two of them sharing an id.
  static MarianTokenizer load(const std::string& spm_path, MarianVocab vocab,
                              const MarianTokenizerOptions& opt);

  MarianTokenizer(MarianTokenizer&&) noexcept;
  MarianTokenizer& operator=(MarianTokenizer&&) noexcept;
  ~MarianTokenizer() override;

  // MarianTokenizer.tokenize: the pieces before the vocabulary lookup.
  std::vector<std::string> tokenize(const std::string& text) const;
  std::vector<int32_t> encode(const std::string& text) const override;
  std::string decode(const std::vector<int32_t>& ids) const override;
  std::string piece(int32_t id) const override;
  int vocab_size() const override { return vocab_.size(); }
  const std::string& path() const override { return vocab_.path; }

  int32_t eos_id() const { return eos_id_; }
  int32_t unk_id() const { return unk_id_; }
  int32_t pad_id() const { return pad_id_; }
  const MarianVocab& vocab() const { return vocab_; }
  const std::string& spm_path() const { return spm_path_; }

 private:
  MarianTokenizer();
  // One chunk between special tokens: a leading language code, then SentencePiece's pieces.
  void tokenize_chunk(const std::string& chunk, std::vector<std::string>& out) const;

  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
  std::string spm_path_;
  MarianVocab vocab_;
  MarianTokenizerOptions opt_;
  std::vector<std::string> specials_;  // eos, unk, pad tokens: split out of the text first
  int32_t eos_id_ = -1, unk_id_ = -1, pad_id_ = -1;
};

// PreTrainedTokenizerBase.clean_up_tokenization: " ." → ".", " ?" → "?", " !" → "!", " ," → ",",
// " ' " → "'", " n't" → "n't", " 'm" → "'m", " 's" → "'s", " 've" → "'ve", " 're" → "'re".
std::string clean_up_tokenization(std::string text);

}  // namespace attnscope

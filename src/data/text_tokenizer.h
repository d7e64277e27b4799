// What every command needs from a tokenizer, whatever kind a model directory holds:
// attnscope's own SentencePiece models (data/tokenizer.h: the ids are SentencePiece's) or a
// Hugging Face Marian model's (data/marian_tokenizer.h: SentencePiece pieces looked up in
// vocab.json). translate, eval, attention, serve and align take this interface and never ask
// which kind they hold.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace attnscope {

class TextTokenizer {
 public:
  virtual ~TextTokenizer() = default;

  // Text → ids, without eos (the caller appends the model's eos id).
  virtual std::vector<int32_t> encode(const std::string& text) const = 0;
  // Ids → text; the special ids of this kind of tokenizer are left out.
  virtual std::string decode(const std::vector<int32_t>& ids) const = 0;
  // The piece of one id ("▁este", "</s>"); throws attnscope::Error for an id outside the
  // vocabulary.
  virtual std::string piece(int32_t id) const = 0;
  std::vector<std::string> pieces(const std::vector<int32_t>& ids) const;
  virtual int vocab_size() const = 0;
  // The file it was read from, for messages.
  virtual const std::string& path() const = 0;

 protected:
  TextTokenizer() = default;
  TextTokenizer(const TextTokenizer&) = default;
  TextTokenizer(TextTokenizer&&) noexcept = default;
  TextTokenizer& operator=(const TextTokenizer&) = default;
  TextTokenizer& operator=(TextTokenizer&&) noexcept = default;
};

// The tokenizers of a model (src and tgt point to one object when the sides share one).
struct TokenizerPair {
  std::shared_ptr<const TextTokenizer> src, tgt;
};

}  // namespace attnscope

// attnscope's own SentencePiece tokenizers (Debian's libsentencepiece), trained from the
// training data through the library or loaded from a .model file; the ids are SentencePiece's.
// Special ids match ModelConfig: pad 0, bos 1, eos 2, unk 3.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "data/text_tokenizer.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace attnscope {

struct TokenizerOptions {
  int vocab_size = 8000;
  std::string model_type = "unigram";  // "unigram" | "bpe"
  float character_coverage = 1.0f;
  int64_t input_sentence_size = 2000000;  // sentences sampled for training
  uint64_t seed = 0;
  int num_threads = 2;
  bool split_digits = false;  // every digit its own piece (numbers, dates)
};

class Tokenizer : public TextTokenizer {
 public:
  static constexpr int kPadId = 0, kBosId = 1, kEosId = 2, kUnkId = 3;

  // Trains on `sentences` and writes `model_path` (a SentencePiece .model). When the text
  // cannot support vocab_size pieces the vocabulary is made smaller and a line says so.
  static Tokenizer train(const std::vector<std::string>& sentences, const std::string& model_path,
                         const TokenizerOptions& opt);
  // Loads a .model file; throws attnscope::Error naming the file when it is not one.
  static Tokenizer load(const std::string& model_path);
  // The same from a .model file's bytes (another rank's tokenizer); `name` stands for the file
  // in messages.
  static Tokenizer from_bytes(const std::string& model_bytes, const std::string& name);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer() override;

  std::vector<int32_t> encode(const std::string& text) const override;  // no bos/eos added
  std::string decode(const std::vector<int32_t>& ids) const override;   // pad/bos/eos skipped
  std::string piece(int32_t id) const override;                         // "▁este", "</s>", …
  int vocab_size() const override;
  const std::string& path() const override { return path_; }

 private:
  Tokenizer();
  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
  std::string path_;
};

}  // namespace attnscope

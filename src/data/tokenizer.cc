// SentencePiece tokenizers through the library's C++ API (libsentencepiece 0.1.97).
//
// Training notes:
//  - Sentences go to the trainer through a SentenceIterator (no temp file). When there are more
//    than input_sentence_size of them, a sample is drawn here with attnscope's Rng(seed) and
//    the trainer sees exactly that sample in corpus order (its own sampler is switched off:
//    it draws from a process-wide, thread-local generator, so the result would depend on what
//    trained before in the same thread). Same sentences + options → byte-identical .model.
//  - The model comes back as a serialized proto and is written here to model_path (through a
//    temporary file and a rename, parent directories created). No .vocab file is written:
//    `pieces()` / `piece()` give the same information.
//  - hard_vocab_limit=false: a small corpus yields fewer pieces than asked for; a line on
//    stderr says so and vocab_size() returns the real size (use it, not the option, for the
//    embedding tables). Too small a vocab_size (fewer than the required characters + 4 special
//    pieces) is an error from the trainer, passed on as attnscope::Error.
//  - The library's logging is silenced (minloglevel=2: errors only). The setting is global to
//    the process, as is the library's random seed, so train tokenizers from one thread at a time.
//  - Normalisation is SentencePiece's default nmt_nfkc: decode(encode(s)) is s after NFKC and
//    whitespace folding (runs of spaces become one, leading/trailing spaces go), not always s.
#include "data/tokenizer.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <unordered_map>
#include <utility>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/rng.h"
#include "data/spm_model_check.h"

namespace attnscope {

namespace fs = std::filesystem;

namespace {

// Feeds the chosen sentences to the trainer without copying them.
class VectorIterator : public sentencepiece::SentenceIterator {
 public:
  VectorIterator(const std::vector<std::string>& sentences, const std::vector<size_t>& order)
      : sentences_(sentences), order_(order) {}
  bool done() const override { return pos_ >= order_.size(); }
  void Next() override { ++pos_; }
  const std::string& value() const override { return sentences_[order_[pos_]]; }
  sentencepiece::util::Status status() const override { return {}; }

 private:
  const std::vector<std::string>& sentences_;
  const std::vector<size_t>& order_;
  size_t pos_ = 0;
};

// Indices of the training sentences: the non-empty ones, sampled down to `limit` (when > 0)
// with Rng(seed), in corpus order.
std::vector<size_t> choose_sentences(const std::vector<std::string>& sentences, int64_t limit,
                                     uint64_t seed) {
  std::vector<size_t> idx;
  idx.reserve(sentences.size());
  for (size_t i = 0; i < sentences.size(); ++i)
    if (!sentences[i].empty()) idx.push_back(i);
  if (limit > 0 && static_cast<int64_t>(idx.size()) > limit) {
    Rng rng(seed);
    const auto k = static_cast<size_t>(limit);
    for (size_t i = 0; i < k; ++i) {  // partial Fisher-Yates: idx[0..k) is a uniform sample
      const size_t j = i + static_cast<size_t>(rng.below(idx.size() - i));
      std::swap(idx[i], idx[j]);
    }
    idx.resize(k);
    std::sort(idx.begin(), idx.end());
  }
  return idx;
}

// A .model file's bytes (SentencePiece models are megabytes; a file over 1 GiB is no model).
std::string read_model_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  ATTN_CHECK(in.is_open(), "cannot open tokenizer model {}", path);
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  ATTN_CHECK(ec || size <= (uintmax_t{1} << 30),
             "{} is {} bytes: too large for a SentencePiece model", path, size);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ATTN_CHECK(!in.bad(), "cannot read tokenizer model {}", path);
  return bytes;
}

std::string format_float(float v) {
  return fmt::format("{}", v);
}

// The model file, atomically (core/atomic_file.h), its folder created if needed.
void write_model_file(const std::string& path, const std::string& bytes) {
  const fs::path target(path);
  if (target.has_parent_path()) {
    std::error_code ec;
    fs::create_directories(target.parent_path(), ec);
    ATTN_CHECK(!ec, "cannot write tokenizer model {}: cannot create {}: {}", path,
               target.parent_path().string(), ec.message());
  }
  write_file_atomically(path, bytes);
}

// The special ids of a loaded model must be attnscope's (pad 0, bos 1, eos 2, unk 3).
void check_special_ids(const sentencepiece::SentencePieceProcessor& sp, const std::string& path) {
  const int n = sp.GetPieceSize();
  ATTN_CHECK(n > Tokenizer::kUnkId, "{}: tokenizer model has only {} pieces", path, n);
  const std::pair<const char*, std::pair<int, int>> ids[] = {
      {"pad", {sp.pad_id(), Tokenizer::kPadId}},
      {"bos", {sp.bos_id(), Tokenizer::kBosId}},
      {"eos", {sp.eos_id(), Tokenizer::kEosId}},
      {"unk", {sp.unk_id(), Tokenizer::kUnkId}}};
  for (const auto& [name, got_want] : ids)
    ATTN_CHECK(got_want.first == got_want.second,
               "{}: tokenizer model has {}_id {}, attnscope needs {} (train with pad 0, bos 1, "
               "eos 2, unk 3)",
               path, name, got_want.first, got_want.second);
}

}  // namespace

Tokenizer::Tokenizer() : sp_(std::make_unique<sentencepiece::SentencePieceProcessor>()) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::train(const std::vector<std::string>& sentences, const std::string& model_path,
                           const TokenizerOptions& opt) {
  ATTN_CHECK(opt.model_type == "unigram" || opt.model_type == "bpe",
             "tokenizer model_type must be \"unigram\" or \"bpe\" (got \"{}\")", opt.model_type);
  ATTN_CHECK(opt.vocab_size > kUnkId + 1, "tokenizer vocab_size must be > {} (got {})", kUnkId + 1,
             opt.vocab_size);
  ATTN_CHECK(opt.character_coverage > 0.0f && opt.character_coverage <= 1.0f,
             "tokenizer character_coverage must be in (0, 1] (got {})", opt.character_coverage);
  ATTN_CHECK(opt.num_threads >= 1, "tokenizer num_threads must be >= 1 (got {})", opt.num_threads);
  ATTN_CHECK(!model_path.empty(), "tokenizer model path is empty");

  const std::vector<size_t> order = choose_sentences(sentences, opt.input_sentence_size, opt.seed);
  ATTN_CHECK(!order.empty(), "cannot train tokenizer {}: no non-empty training sentence",
             model_path);

  const std::unordered_map<std::string, std::string> args = {
      {"model_type", opt.model_type},
      {"vocab_size", std::to_string(opt.vocab_size)},
      {"hard_vocab_limit", "false"},
      {"character_coverage", format_float(opt.character_coverage)},
      {"input_sentence_size", "0"},  // sampled above
      {"shuffle_input_sentence", "false"},
      {"num_threads", std::to_string(opt.num_threads)},
      {"pad_id", std::to_string(kPadId)},
      {"bos_id", std::to_string(kBosId)},
      {"eos_id", std::to_string(kEosId)},
      {"unk_id", std::to_string(kUnkId)},
      {"minloglevel", "2"},
      {"split_digits", opt.split_digits ? "true" : "false"},
  };
  sentencepiece::SetRandomGeneratorSeed(static_cast<unsigned int>(opt.seed ^ (opt.seed >> 32)));
  VectorIterator it(sentences, order);
  std::string proto;
  const auto status = sentencepiece::SentencePieceTrainer::Train(args, &it, &proto);
  if (!status.ok())
    fail("cannot train tokenizer {} ({} {} pieces on {} sentences): {}", model_path, opt.model_type,
         opt.vocab_size, order.size(), status.message());

  Tokenizer tok;
  const auto loaded = tok.sp_->LoadFromSerializedProto(proto);
  ATTN_CHECK(loaded.ok(), "trained tokenizer {} does not load: {}", model_path, loaded.message());
  check_special_ids(*tok.sp_, model_path);
  write_model_file(model_path, proto);
  tok.path_ = model_path;
  if (tok.vocab_size() < opt.vocab_size)
    fmt::print(stderr,
               "tokenizer {}: {} pieces instead of the {} asked for (the training text supports "
               "no more)\n",
               model_path, tok.vocab_size(), opt.vocab_size);
  return tok;
}

Tokenizer Tokenizer::load(const std::string& model_path) {
  std::error_code ec;
  ATTN_CHECK(fs::exists(model_path, ec), "tokenizer model {} not found", model_path);
  ATTN_CHECK(fs::is_regular_file(model_path, ec), "tokenizer model {} is not a file", model_path);
  // Read and checked here first (data/spm_model_check.h): the library trusts what it loads.
  const std::string bytes = read_model_file(model_path);
  check_spm_model(bytes, model_path);
  Tokenizer tok;
  const auto status = tok.sp_->LoadFromSerializedProto(bytes);
  ATTN_CHECK(status.ok(), "{} is not a SentencePiece model: {}", model_path, status.message());
  check_special_ids(*tok.sp_, model_path);
  tok.path_ = model_path;
  return tok;
}

Tokenizer Tokenizer::from_bytes(const std::string& model_bytes, const std::string& name) {
  Tokenizer tok;
  const auto status = tok.sp_->LoadFromSerializedProto(model_bytes);
  ATTN_CHECK(status.ok(), "{} is not a SentencePiece model: {}", name, status.message());
  check_special_ids(*tok.sp_, name);
  tok.path_ = name;
  return tok;
}

std::vector<int32_t> Tokenizer::encode(const std::string& text) const {
  std::vector<int> ids;
  const auto status = sp_->Encode(text, &ids);
  ATTN_CHECK(status.ok(), "tokenizer {}: cannot encode text: {}", path_, status.message());
  return std::vector<int32_t>(ids.begin(), ids.end());
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids) const {
  const int n = vocab_size();
  std::vector<int> kept;
  kept.reserve(ids.size());
  for (const int32_t id : ids) {
    ATTN_CHECK(id >= 0 && id < n, "tokenizer {}: token id {} is outside the vocabulary [0, {})",
               path_, id, n);
    if (id != kPadId && id != kBosId && id != kEosId) kept.push_back(id);
  }
  std::string text;
  const auto status = sp_->Decode(kept, &text);
  ATTN_CHECK(status.ok(), "tokenizer {}: cannot decode: {}", path_, status.message());
  return text;
}

std::string Tokenizer::piece(int32_t id) const {
  const int n = vocab_size();
  ATTN_CHECK(id >= 0 && id < n, "tokenizer {}: token id {} is outside the vocabulary [0, {})",
             path_, id, n);
  return sp_->IdToPiece(id);
}

int Tokenizer::vocab_size() const {
  return sp_->GetPieceSize();
}

}  // namespace attnscope

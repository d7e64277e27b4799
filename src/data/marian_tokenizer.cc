#include "data/marian_tokenizer.h"

#include <sentencepiece_processor.h>

#include <algorithm>
#include <filesystem>
#include <utility>

#include "core/error.h"
#include "core/python_text.h"

namespace attnscope {

namespace {

const std::string kWordStart = "\xE2\x96\x81";  // ▁, SentencePiece's space

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
}

}  // namespace

MarianTokenizer::MarianTokenizer()
    : sp_(std::make_unique<sentencepiece::SentencePieceProcessor>()) {}
MarianTokenizer::MarianTokenizer(MarianTokenizer&&) noexcept = default;
MarianTokenizer& MarianTokenizer::operator=(MarianTokenizer&&) noexcept = default;
MarianTokenizer::~MarianTokenizer() = default;

MarianTokenizer MarianTokenizer::load(const std::string& spm_path, MarianVocab vocab,
                                      const MarianTokenizerOptions& opt) {
  std::error_code ec;
  ATTN_CHECK(std::filesystem::is_regular_file(spm_path, ec),
             "{} is missing (a Marian model "
             "directory holds source.spm and target.spm)",
             spm_path);
  MarianTokenizer tok;
  const auto status = tok.sp_->Load(spm_path);
  ATTN_CHECK(status.ok(), "{} is not a SentencePiece model: {}", spm_path, status.message());
  tok.spm_path_ = spm_path;
  tok.opt_ = opt;
  const auto id_of = [&](const std::string& token, const char* what) {
    const int32_t id = vocab.find(token);
    ATTN_CHECK(id >= 0, "{}: the {} token \"{}\" is not in the vocabulary", vocab.path, what,
               token);
    return id;
  };
  tok.eos_id_ = id_of(opt.eos_token, "eos");
  tok.unk_id_ = id_of(opt.unk_token, "unk");
  tok.pad_id_ = id_of(opt.pad_token, "pad");
  ATTN_CHECK(tok.eos_id_ != tok.unk_id_ && tok.eos_id_ != tok.pad_id_ && tok.unk_id_ != tok.pad_id_,
             "{}: the eos, unk and pad tokens must be three different tokens (\"{}\", \"{}\", "
             "\"{}\")",
             vocab.path, opt.eos_token, opt.unk_token, opt.pad_token);
  tok.specials_ = {opt.eos_token, opt.unk_token, opt.pad_token};
  // The longest first: where one special token starts another, the text holds the longer.
  std::stable_sort(tok.specials_.begin(), tok.specials_.end(),
                   [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  tok.vocab_ = std::move(vocab);
  return tok;
}

void MarianTokenizer::tokenize_chunk(const std::string& chunk,
                                     std::vector<std::string>& out) const {
  std::string_view rest = chunk;
  // remove_language_code (4.54+): ">>xx<<" only at the very start, up to the first "<<".
  if (rest.starts_with(">>")) {
    const size_t end = rest.find("<<");
    if (end != std::string_view::npos) {
      out.emplace_back(rest.substr(0, end + 2));
      rest.remove_prefix(end + 2);
    }
  }
  std::vector<std::string> pieces;
  const auto status = sp_->Encode(std::string(rest), &pieces);
  ATTN_CHECK(status.ok(), "{}: cannot encode text: {}", spm_path_, status.message());
  out.insert(out.end(), std::make_move_iterator(pieces.begin()),
             std::make_move_iterator(pieces.end()));
}

std::vector<std::string> MarianTokenizer::tokenize(const std::string& text) const {
  // The special tokens written in the text are cut out first (PreTrainedTokenizer.tokenize's
  // trie); each stretch of text between them is tokenized on its own.
  std::vector<std::string> out;
  std::string chunk;
  size_t i = 0;
  while (i < text.size()) {
    const std::string* hit = nullptr;
    for (const std::string& s : specials_)
      if (text.compare(i, s.size(), s) == 0) {
        hit = &s;
        break;
      }
    if (hit == nullptr) {
      chunk += text[i++];
      continue;
    }
    if (!chunk.empty()) tokenize_chunk(chunk, out);
    chunk.clear();
    out.push_back(*hit);
    i += hit->size();
  }
  if (!chunk.empty()) tokenize_chunk(chunk, out);
  return out;
}

std::vector<int32_t> MarianTokenizer::encode(const std::string& text) const {
  std::vector<int32_t> ids;
  for (const std::string& p : tokenize(text)) {
    const int32_t id = vocab_.find(p);
    ids.push_back(id >= 0 ? id : unk_id_);  // looked up by its string; absent: <unk>
  }
  return ids;
}

std::string MarianTokenizer::piece(int32_t id) const {
  ATTN_CHECK(id >= 0 && id < vocab_.size(), "{}: token id {} is outside the vocabulary [0, {})",
             vocab_.path, id, vocab_.size());
  return vocab_.pieces[static_cast<size_t>(id)];
}

std::string MarianTokenizer::decode(const std::vector<int32_t>& ids) const {
  std::vector<std::string> pieces;
  pieces.reserve(ids.size());
  for (const int32_t id : ids) {
    if (id == eos_id_ || id == unk_id_ || id == pad_id_) continue;
    pieces.push_back(piece(id));
  }
  std::string text;
  const auto status = sp_->Decode(pieces, &text);
  ATTN_CHECK(status.ok(), "{}: cannot decode: {}", spm_path_, status.message());
  replace_all(text, kWordStart, " ");  // pieces SentencePiece copied through keep their ▁
  text = python_strip(text);
  return opt_.clean_up_tokenization_spaces ? clean_up_tokenization(std::move(text)) : text;
}

std::string clean_up_tokenization(std::string text) {
  static const std::pair<const char*, const char*> kRules[] = {
      {" .", "."},     {" ?", "?"},   {" !", "!"},   {" ,", ","},     {" ' ", "'"},
      {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  for (const auto& [from, to] : kRules) replace_all(text, from, to);
  return text;
}

}  // namespace attnscope

#include "io/marian_dir.h"

#include <filesystem>

#include "core/error.h"
#include "io/config_json.h"
#include "io/marian_config_reader.h"
#include "io/marian_weights.h"
#include "io/model_dir.h"
#include "io/safetensors.h"

namespace attnscope {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// The weights file, or a message that says what the directory holds instead.
std::string weights_path(const std::string& dir) {
  const fs::path p = fs::path(dir) / kWeightsFile;
  std::error_code ec;
  if (fs::is_regular_file(p, ec)) return p.string();
  if (fs::exists(fs::path(dir) / "model.safetensors.index.json", ec))
    fail(
        "{}: the weights are split over several files (model.safetensors.index.json); "
        "attnscope reads one model.safetensors",
        dir);
  for (const char* other :
       {"pytorch_model.bin", "tf_model.h5", "flax_model.msgpack", "rust_model.ot"})
    if (fs::exists(fs::path(dir) / other, ec))
      fail(
          "{} is missing: the directory has {} instead, which attnscope does not read (a "
          "pytorch_model.bin converts to model.safetensors with the recipe in "
          "docs/pretrained.md)",
          p.string(), other);
  fail("{} is missing: a Hugging Face Marian directory holds config.json and model.safetensors",
       p.string());
}

// A special token as tokenizer_config.json or special_tokens_map.json writes it: a string, or an
// AddedToken object {"content": …}; empty when absent.
std::string token_text(const JsonFields& f, const char* key) {
  if (!f.has(key)) return "";
  const json& v = f.json().at(key);
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v.at("content").is_string())
    return v.at("content").get<std::string>();
  f.refuse(key, "it must be a token (a string, or an object with \"content\")");
}

struct TokenizerSettings {
  MarianTokenizerOptions options;
  bool separate_vocabs = false;
  const json* added_tokens = nullptr;  // tokenizer_config.json's added_tokens_decoder
  std::string config_path;
};

TokenizerSettings read_tokenizer_settings(const std::string& dir, json& tokenizer_config,
                                          json& special_map) {
  TokenizerSettings s;
  s.config_path = (fs::path(dir) / "tokenizer_config.json").string();
  const std::string map_path = (fs::path(dir) / "special_tokens_map.json").string();
  tokenizer_config = fs::exists(s.config_path) ? read_json_file(s.config_path) : json::object();
  special_map = fs::exists(map_path) ? read_json_file(map_path) : json::object();
  const JsonFields t(tokenizer_config, s.config_path), m(special_map, map_path);
  const std::string cls = t.string("tokenizer_class", "MarianTokenizer");
  if (cls != "MarianTokenizer")
    t.refuse("tokenizer_class", "attnscope reads Marian tokenizers (MarianTokenizer) only");
  if (t.has("sp_model_kwargs") && !t.json().at("sp_model_kwargs").empty())
    t.refuse("sp_model_kwargs",
             "SentencePiece options such as subword sampling make the pieces random; attnscope "
             "encodes with the model as shipped");
  if (t.boolean("split_special_tokens", false))
    t.refuse("split_special_tokens", "special tokens cut by SentencePiece are not supported");
  s.separate_vocabs = t.boolean("separate_vocabs", false);
  s.options.clean_up_tokenization_spaces = t.boolean("clean_up_tokenization_spaces", false);
  // Each special token: special_tokens_map.json and tokenizer_config.json must agree.
  const auto special = [&](const char* key, std::string& value) {
    const std::string a = token_text(t, key), b = token_text(m, key);
    if (!a.empty() && !b.empty() && a != b)
      fail("{}: \"{}\" is \"{}\" but {} says \"{}\"", s.config_path, key, a, map_path, b);
    if (!a.empty() || !b.empty()) value = a.empty() ? b : a;
  };
  special("eos_token", s.options.eos_token);
  special("unk_token", s.options.unk_token);
  special("pad_token", s.options.pad_token);
  if (t.has("added_tokens_decoder")) s.added_tokens = &t.json().at("added_tokens_decoder");
  return s;
}

// Added tokens may only be the three special tokens, each at its vocabulary id.
void check_added_tokens(const TokenizerSettings& s, const MarianTokenizer& tok) {
  if (s.added_tokens == nullptr) return;
  const json& added = *s.added_tokens;
  ATTN_CHECK(added.is_object(), "{}: \"added_tokens_decoder\" must be an object", s.config_path);
  for (const auto& [id_text, entry] : added.items()) {
    const std::string content =
        entry.is_object() && entry.contains("content") && entry.at("content").is_string()
            ? entry.at("content").get<std::string>()
            : "";
    const bool special = content == s.options.eos_token || content == s.options.unk_token ||
                         content == s.options.pad_token;
    const int32_t id = tok.vocab().find(content);
    ATTN_CHECK(special && std::to_string(id) == id_text,
               "{}: added token {} \"{}\": attnscope supports no added vocabulary beyond {}, {} "
               "and {} at their vocab.json ids",
               s.config_path, id_text, content, s.options.eos_token, s.options.unk_token,
               s.options.pad_token);
  }
}

}  // namespace

std::unique_ptr<Seq2SeqModel> load_marian_model(const std::string& dir) {
  MarianConfigRead read = read_marian_config_dir(dir);
  const std::string path = weights_path(dir);
  SafetensorsFile file = read_safetensors(path);
  MarianConfig& config = read.config;
  if (has_marian_position_tables(file)) {
    config.positions = Positions::kTable;
  } else if (!read.static_position_embeddings) {
    fail(
        "{}: \"static_position_embeddings\" is false, so the model was trained with learned "
        "positions, but {} holds no model.{{encoder,decoder}}.embed_positions.weight; Hugging "
        "Face would use fresh sinusoids instead, which these weights were not made for",
        (fs::path(dir) / "config.json").string(), path);
  }
  std::map<std::string, Tensor> weights = marian_weights(file, config, path);
  std::unique_ptr<Seq2SeqModel> model = config.make_model();
  load_params(*model, weights, path);
  return model;
}

MarianTokenizers load_marian_tokenizer_pair(const std::string& dir) {
  const MarianConfig config = read_marian_config_dir(dir).config;
  json tokenizer_config, special_map;
  const TokenizerSettings s = read_tokenizer_settings(dir, tokenizer_config, special_map);
  const std::string vocab_path = (fs::path(dir) / "vocab.json").string();
  const std::string target_vocab_path = (fs::path(dir) / "target_vocab.json").string();
  if (s.separate_vocabs)
    ATTN_CHECK(fs::exists(target_vocab_path), "{} is missing: {} says \"separate_vocabs\": true",
               target_vocab_path, s.config_path);
  const auto side = [&](const char* spm, const std::string& vocab_file) {
    MarianVocab vocab = read_marian_vocab(vocab_file);
    ATTN_CHECK(vocab.size() == config.src_vocab,
               "{}: {} pieces, but config.json's vocab_size is {}", vocab_file, vocab.size(),
               config.src_vocab);
    auto tok = std::make_shared<MarianTokenizer>(
        MarianTokenizer::load((fs::path(dir) / spm).string(), std::move(vocab), s.options));
    ATTN_CHECK(tok->eos_id() == config.eos_id,
               "{}: \"{}\" is id {}, but config.json's eos_token_id is {}", vocab_file,
               s.options.eos_token, tok->eos_id(), config.eos_id);
    ATTN_CHECK(tok->pad_id() == config.pad_id,
               "{}: \"{}\" is id {}, but config.json's pad_token_id is {}", vocab_file,
               s.options.pad_token, tok->pad_id(), config.pad_id);
    check_added_tokens(s, *tok);
    return tok;
  };
  MarianTokenizers out;
  out.src = side("source.spm", vocab_path);
  out.tgt = side("target.spm", s.separate_vocabs ? target_vocab_path : vocab_path);
  ATTN_CHECK(out.src->unk_id() == out.tgt->unk_id(),
             "{}: \"{}\" is id {} on the source side and {} on the target side", target_vocab_path,
             s.options.unk_token, out.src->unk_id(), out.tgt->unk_id());
  return out;
}

TokenizerPair load_marian_tokenizers(const std::string& dir) {
  MarianTokenizers t = load_marian_tokenizer_pair(dir);
  return {std::move(t.src), std::move(t.tgt)};
}

}  // namespace attnscope

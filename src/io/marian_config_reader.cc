#include "io/marian_config_reader.h"

#include <filesystem>
#include <limits>

#include "core/error.h"
#include "io/config_json.h"

namespace attnscope {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr int64_t kMaxDModel = 1 << 16;
constexpr int64_t kMaxLayers = 1024;
constexpr int64_t kMaxFfn = 1 << 20;
constexpr int64_t kMaxVocab = 1 << 24;
constexpr int64_t kMaxPositions = 1 << 20;
constexpr int64_t kMaxParams = int64_t{1} << 32;  // 16 GiB of fp32: far past any Marian model
constexpr int64_t kMaxBeams = 64;                 // beam_search's limit
constexpr int64_t kMaxLength = 1 << 20;
constexpr int64_t kId = std::numeric_limits<int32_t>::max();

// a·b + c, or -1 when it overflows or passes kMaxParams.
int64_t params_add(int64_t total, int64_t a, int64_t b) {
  int64_t prod = 0, sum = 0;
  if (total < 0 || __builtin_mul_overflow(a, b, &prod) || __builtin_add_overflow(total, prod, &sum))
    return -1;
  return sum > kMaxParams ? -1 : sum;
}

cpu::Activation activation_of(const JsonFields& f) {
  const std::string a = f.string("activation_function", "gelu");  // MarianConfig's default
  if (a == "swish" || a == "silu") return cpu::Activation::kSilu;
  if (a == "gelu") return cpu::Activation::kGelu;
  if (a == "gelu_new" || a == "gelu_pytorch_tanh") return cpu::Activation::kGeluTanh;
  if (a == "relu") return cpu::Activation::kRelu;
  f.refuse("activation_function",
           "attnscope computes \"swish\", \"silu\", \"gelu\", \"gelu_new\", "
           "\"gelu_pytorch_tanh\" and \"relu\" (every converted OPUS-MT model uses swish)");
}

// A key whose value must stay at `fine` (or be absent) for Marian's code to compute what the
// weights were made for.
void refuse_unless(const JsonFields& f, const char* key, bool fine_value, const std::string& why) {
  if (f.has(key) && f.boolean(key, fine_value) != fine_value) f.refuse(key, why);
}

// eos_token_id / forced_eos_token_id may be one id or a list of one; -1 when absent.
int32_t one_id(const JsonFields& f, const char* key, int64_t vocab) {
  if (!f.has(key)) return -1;
  const json& v = f.json().at(key);
  if (v.is_array()) {
    if (v.size() != 1 || !v[0].is_number_integer())
      f.refuse(key, "attnscope takes one token id here (several eos ids change the beam search)");
    const json one = v[0];
    JsonFields single(json{{key, one}}, f.file());
    return static_cast<int32_t>(single.integer(key, -1, 0, vocab - 1));
  }
  return static_cast<int32_t>(f.integer(key, -1, 0, vocab - 1));
}

}  // namespace

bool is_hugging_face_config(const json& j) {
  return j.is_object() && j.contains("model_type");
}

GenerationConfig read_generation_config(const JsonFields& f, int64_t vocab) {
  GenerationConfig g;
  // The settings attnscope does not run: each would change the output.
  if (f.boolean("do_sample", false))
    f.refuse("do_sample", "attnscope does not sample; greedy and beam search only");
  if (f.integer("num_beam_groups", 1, 1, kId) != 1)
    f.refuse("num_beam_groups", "group (diverse) beam search is not supported");
  for (const char* key :
       {"penalty_alpha", "constraints", "force_words_ids", "forced_bos_token_id",
        "forced_decoder_ids", "suppress_tokens", "begin_suppress_tokens", "sequence_bias",
        "exponential_decay_length_penalty", "max_time", "stop_strings", "dola_layers",
        "prompt_lookup_num_tokens", "watermarking_config"})
    if (f.has(key))
      f.refuse(key,
               "this decoding setting is not supported (only greedy and beam search with the "
               "settings of docs/pretrained.md)");
  if (f.number("repetition_penalty", 1.0) != 1.0)
    f.refuse("repetition_penalty", "repetition penalties are not supported");
  if (f.number("encoder_repetition_penalty", 1.0) != 1.0)
    f.refuse("encoder_repetition_penalty", "repetition penalties are not supported");
  if (f.has("guidance_scale") && f.number("guidance_scale", 1.0) != 1.0)
    f.refuse("guidance_scale", "classifier-free guidance is not supported");
  if (f.integer("no_repeat_ngram_size", 0, 0, kId) != 0)
    f.refuse("no_repeat_ngram_size", "n-gram blocking is not supported");
  if (f.integer("encoder_no_repeat_ngram_size", 0, 0, kId) != 0)
    f.refuse("encoder_no_repeat_ngram_size", "n-gram blocking is not supported");
  if (f.integer("min_length", 0, 0, kId) != 0)
    f.refuse("min_length", "a minimum length is not supported");
  if (f.integer("min_new_tokens", 0, 0, kId) != 0)
    f.refuse("min_new_tokens", "a minimum length is not supported");
  if (f.boolean("remove_invalid_values", false))
    f.refuse("remove_invalid_values", "it changes how banned tokens score; not supported");
  if (f.boolean("token_healing", false)) f.refuse("token_healing", "not supported");

  g.num_beams = f.integer("num_beams", 1, 1, kMaxBeams);
  g.max_length = f.integer("max_length", 20, 2, kMaxLength);
  g.max_new_tokens = f.integer("max_new_tokens", 0, 1, kMaxLength - 1);
  g.length_penalty = static_cast<float>(f.number("length_penalty", 1.0));
  if (f.has("early_stopping")) {
    const json& e = f.json().at("early_stopping");
    if (e.is_boolean())
      g.early_stopping = e.get<bool>() ? EarlyStopping::kTrue : EarlyStopping::kFalse;
    else if (e.is_string() && e.get<std::string>() == "never")
      g.early_stopping = EarlyStopping::kNever;
    else
      f.refuse("early_stopping", "it must be true, false or \"never\"");
  }
  g.num_return_sequences = f.integer("num_return_sequences", 1, 1, g.num_beams);
  g.eos_token_id = one_id(f, "eos_token_id", vocab);
  if (g.eos_token_id < 0)
    f.refuse("eos_token_id", "generation needs the id that ends a translation");
  g.forced_eos_token_id = one_id(f, "forced_eos_token_id", vocab);
  // decoder_start_token_id, else bos_token_id (GenerationMixin._prepare_special_tokens).
  const int64_t start = f.integer("decoder_start_token_id", -1, 0, vocab - 1);
  g.decoder_start_token_id =
      static_cast<int32_t>(start >= 0 ? start : f.integer("bos_token_id", -1, 0, vocab - 1));
  if (g.decoder_start_token_id < 0)
    f.refuse("decoder_start_token_id", "an encoder-decoder model needs the decoder's first token");
  if (f.has("bad_words_ids")) {
    const json& bad = f.json().at("bad_words_ids");
    if (!bad.is_array()) f.refuse("bad_words_ids", "it must be a list of token id lists");
    for (const json& seq : bad) {
      if (!seq.is_array() || seq.size() != 1 || !seq[0].is_number_integer())
        f.refuse("bad_words_ids",
                 "attnscope bans single tokens only ([[id], …]); sequences of several tokens are "
                 "not supported");
      const json one = seq[0];
      const auto id = static_cast<int32_t>(JsonFields(json{{"bad_words_ids", one}}, f.file())
                                               .integer("bad_words_ids", -1, 0, vocab - 1));
      // NoBadWordsLogitsProcessor drops an entry that is the eos id.
      if (id != g.eos_token_id) g.bad_token_ids.push_back(id);
    }
  }
  g.renormalize_logits = f.boolean("renormalize_logits", false);
  return g;
}

MarianConfigRead read_marian_config(const json& config, const std::string& config_path,
                                    const json* generation, const std::string& generation_path) {
  const JsonFields f(config, config_path);
  const std::string type = f.string("model_type", "");
  if (type != "marian")
    f.refuse("model_type",
             "attnscope reads Hugging Face Marian models (\"model_type\": \"marian\", the OPUS-MT "
             "models) only: other architectures (bart, mbart, pegasus, t5, m2m_100, fsmt, …) "
             "compute differently");
  if (!f.boolean("is_encoder_decoder", true))
    f.refuse("is_encoder_decoder",
             "a decoder-only (MarianForCausalLM) checkpoint; attnscope needs the encoder–decoder "
             "MarianMTModel");
  refuse_unless(f, "normalize_before", false,
                "Marian's code is post-norm only and ignores this key: weights made for pre-norm "
                "would be computed wrongly");
  refuse_unless(f, "normalize_embedding", false,
                "Marian has no layer norm on the embeddings; these weights expect one");
  refuse_unless(f, "layernorm_embedding", false,
                "Marian has no layer norm on the embeddings; these weights expect one");
  refuse_unless(f, "add_final_layer_norm", false,
                "Marian has no final layer norm; these weights expect one");
  refuse_unless(f, "add_bias_logits", false, "Marian ignores it; these weights expect it");
  refuse_unless(f, "tie_encoder_decoder", false,
                "tied encoder and decoder layers are not supported");
  if (f.has("pruned_heads") && !f.json().at("pruned_heads").empty())
    f.refuse("pruned_heads", "pruned attention heads are not supported");

  MarianConfig c;
  c.d_model = f.integer("d_model", 1024, 1, kMaxDModel);
  const int64_t enc_heads = f.integer("encoder_attention_heads", 16, 1, kMaxDModel);
  const int64_t dec_heads = f.integer("decoder_attention_heads", 16, 1, kMaxDModel);
  if (enc_heads != dec_heads)
    f.refuse("decoder_attention_heads",
             fmt::format("attnscope's Transformer has one head count for both stacks, and "
                         "encoder_attention_heads is {}",
                         enc_heads));
  if (c.d_model % enc_heads != 0)
    f.refuse("encoder_attention_heads",
             fmt::format("it must divide d_model ({}): each head gets d_model / heads dimensions",
                         c.d_model));
  c.heads = enc_heads;
  c.encoder_layers = f.integer("encoder_layers", 12, 1, kMaxLayers);
  c.decoder_layers = f.integer("decoder_layers", 12, 1, kMaxLayers);
  const int64_t enc_ffn = f.integer("encoder_ffn_dim", 4096, 1, kMaxFfn);
  const int64_t dec_ffn = f.integer("decoder_ffn_dim", 4096, 1, kMaxFfn);
  if (enc_ffn != dec_ffn)
    f.refuse("decoder_ffn_dim",
             fmt::format("attnscope's Transformer has one FFN width for both stacks, and "
                         "encoder_ffn_dim is {}",
                         enc_ffn));
  c.d_ff = enc_ffn;
  const int64_t vocab = f.integer("vocab_size", 58101, 3, kMaxVocab);
  const bool share = f.boolean("share_encoder_decoder_embeddings", true);
  if (!share && f.has("decoder_vocab_size") &&
      f.integer("decoder_vocab_size", vocab, 1, kMaxVocab) != vocab)
    f.refuse("decoder_vocab_size",
             fmt::format("it must equal vocab_size ({}) when share_encoder_decoder_embeddings is "
                         "false: Hugging Face builds the decoder's table with vocab_size rows and "
                         "cannot load another size",
                         vocab));
  c.src_vocab = c.tgt_vocab = vocab;
  c.max_len = f.integer("max_position_embeddings", 1024, 2, kMaxPositions);
  c.activation = activation_of(f);
  c.embed_scale = f.boolean("scale_embedding", false);
  c.share_embeddings = share;
  c.tie_output = f.boolean("tie_word_embeddings", true);

  // What makes this Transformer Marian's (docs/marian-semantics.md, section 3).
  c.norm = NormPlacement::kPost;
  c.final_norms = false;
  c.layer_norm_eps = 1e-5f;
  c.generator_bias = true;  // final_logits_bias
  c.positions = Positions::kSinusoidHalves;
  c.padding_mask = PaddingMask::kSourceTail;
  c.dropout = 0.0f;  // eval mode
  c.residual = true;
  c.scale_scores = true;

  // Special ids (MarianConfig's defaults when absent).
  c.pad_id = static_cast<int32_t>(f.integer("pad_token_id", 58100, 0, vocab - 1));
  c.eos_id = static_cast<int32_t>(f.integer("eos_token_id", 0, 0, vocab - 1));
  if (c.pad_id == c.eos_id)
    f.refuse("pad_token_id", fmt::format("it must differ from eos_token_id ({})", c.eos_id));
  c.unk_id = -1;  // the tokenizer's (vocab.json); the network never uses it

  // Sizes: every table and layer must fit before anything is allocated.
  const int64_t D = c.d_model, F = c.d_ff, V = vocab;
  int64_t params = 0;
  params = params_add(params, V * (share ? 1 : 2) + (c.tie_output ? 0 : V) + 2 * c.max_len, D);
  params = params_add(params, c.encoder_layers, 4 * D * D + 2 * D * F);
  params = params_add(params, c.decoder_layers, 8 * D * D + 2 * D * F);
  if (params < 0 || V * D > kMaxParams)
    fail(
        "{}: a model of d_model {}, {}+{} layers, FFN {}, vocabulary {} and {} positions is "
        "larger than attnscope loads ({} parameters)",
        config_path, D, c.encoder_layers, c.decoder_layers, F, V, c.max_len, kMaxParams);

  // Generation: generation_config.json, else config.json's generation keys.
  if (generation != nullptr) {
    c.generation = read_generation_config(JsonFields(*generation, generation_path), vocab);
  } else {
    c.generation = read_generation_config(f, vocab);
  }
  const GenerationConfig& g = c.generation;
  const std::string& gfile = generation != nullptr ? generation_path : config_path;
  if (g.eos_token_id != c.eos_id)
    fail("{}: eos_token_id {} differs from config.json's eos_token_id {}", gfile, g.eos_token_id,
         c.eos_id);
  if (g.decoder_start_token_id == c.eos_id)
    fail("{}: the decoder start token {} is the eos id", gfile, g.decoder_start_token_id);
  c.decoder_start_id = g.decoder_start_token_id;
  c.bos_id = g.decoder_start_token_id;  // Marian has no bos: the decoder start stands for it
  // max_length counts the start token; positions 0 … max_length − 2 are fed.
  if (g.effective_max_length() - 1 > c.max_len)
    fail("{}: max_length {} needs {} decoder positions, but max_position_embeddings is {}", gfile,
         g.effective_max_length(), g.effective_max_length() - 1, c.max_len);

  MarianConfigRead out;
  out.static_position_embeddings = f.boolean("static_position_embeddings", true);
  out.config = std::move(c);
  try {
    out.config.validate();
  } catch (const Error& e) {
    fail("{}: {}", config_path, e.what());
  }
  return out;
}

MarianConfigRead read_marian_config_dir(const std::string& dir) {
  const std::string config_path = (fs::path(dir) / "config.json").string();
  const std::string gen_path = (fs::path(dir) / kGenerationConfigFile).string();
  const json config = read_json_file(config_path);
  if (!fs::exists(gen_path)) return read_marian_config(config, config_path, nullptr, gen_path);
  const json generation = read_json_file(gen_path);
  return read_marian_config(config, config_path, &generation, gen_path);
}

std::unique_ptr<ArchConfig> read_marian_arch_config(const json& j, const std::string& source) {
  const fs::path gen_path = fs::path(source).parent_path() / kGenerationConfigFile;
  std::error_code ec;
  if (!fs::is_regular_file(source, ec) || !fs::exists(gen_path, ec))
    return std::make_unique<MarianConfig>(read_marian_config(j, source, nullptr, "").config);
  const json generation = read_json_file(gen_path.string());
  return std::make_unique<MarianConfig>(
      read_marian_config(j, source, &generation, gen_path.string()).config);
}

}  // namespace attnscope

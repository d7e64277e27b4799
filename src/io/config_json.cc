#include "io/config_json.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <set>
#include <sstream>
#include <utility>
#include <vector>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/json_error.h"

namespace attnscope {

namespace {

using json = nlohmann::json;

std::string brief(const json& v) {
  std::string s = v.dump(-1, ' ', false, json::error_handler_t::replace);
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

// The float a config holds, as the double with the shortest decimal form (1e-05, not
// 9.99999974737875e-06), so config.json stays readable and round-trips exactly.
double float_for_json(float f) {
  return std::stod(fmt::format("{}", f));
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

class Reader {
 public:
  explicit Reader(std::string source) : source_(std::move(source)) {}

  int64_t int64(const std::string& key, const json& v) const {
    ATTN_CHECK(v.is_number_integer(), "{}: \"{}\" must be an integer, got {}", source_, key,
               brief(v));
    ATTN_CHECK(!v.is_number_unsigned() ||
                   v.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()),
               "{}: \"{}\" is out of range, got {}", source_, key, brief(v));
    return v.get<int64_t>();
  }
  int32_t int32(const std::string& key, const json& v) const {
    const int64_t i = int64(key, v);
    ATTN_CHECK(i >= std::numeric_limits<int32_t>::min() && i <= std::numeric_limits<int32_t>::max(),
               "{}: \"{}\" must fit in 32 bits, got {}", source_, key, i);
    return static_cast<int32_t>(i);
  }
  float number(const std::string& key, const json& v) const {
    ATTN_CHECK(v.is_number(), "{}: \"{}\" must be a number, got {}", source_, key, brief(v));
    const double d = v.get<double>();
    ATTN_CHECK(std::isfinite(d) && std::fabs(d) <= std::numeric_limits<float>::max(),
               "{}: \"{}\" is out of range for fp32, got {}", source_, key, brief(v));
    return static_cast<float>(d);
  }
  bool boolean(const std::string& key, const json& v) const {
    ATTN_CHECK(v.is_boolean(), "{}: \"{}\" must be true or false, got {}", source_, key, brief(v));
    return v.get<bool>();
  }
  std::string string(const std::string& key, const json& v) const {
    ATTN_CHECK(v.is_string(), "{}: \"{}\" must be a string, got {}", source_, key, brief(v));
    return v.get<std::string>();
  }

 private:
  std::string source_;
};

template <typename C>
using SetterOf = std::function<void(C&, const Reader&, const std::string&, const json&)>;
template <typename C>
using SetterTable = std::vector<std::pair<std::string, SetterOf<C>>>;
using Setter = SetterOf<ModelConfig>;

const std::vector<std::pair<std::string, Setter>>& setters() {
  static const std::vector<std::pair<std::string, Setter>> table = [] {
    std::vector<std::pair<std::string, Setter>> t;
    auto i64 = [&t](const char* key, int64_t ModelConfig::*field) {
      t.emplace_back(key, [field](ModelConfig& c, const Reader& r, const std::string& k,
                                  const json& v) { c.*field = r.int64(k, v); });
    };
    auto i32 = [&t](const char* key, int32_t ModelConfig::*field) {
      t.emplace_back(key, [field](ModelConfig& c, const Reader& r, const std::string& k,
                                  const json& v) { c.*field = r.int32(k, v); });
    };
    auto f32 = [&t](const char* key, float ModelConfig::*field) {
      t.emplace_back(key, [field](ModelConfig& c, const Reader& r, const std::string& k,
                                  const json& v) { c.*field = r.number(k, v); });
    };
    auto flag = [&t](const char* key, bool ModelConfig::*field) {
      t.emplace_back(key, [field](ModelConfig& c, const Reader& r, const std::string& k,
                                  const json& v) { c.*field = r.boolean(k, v); });
    };
    t.emplace_back("arch", [](ModelConfig& c, const Reader& r, const std::string& k,
                              const json& v) { c.arch = r.string(k, v); });
    i64("d_model", &ModelConfig::d_model);
    i64("heads", &ModelConfig::heads);
    i64("encoder_layers", &ModelConfig::encoder_layers);
    i64("decoder_layers", &ModelConfig::decoder_layers);
    i64("d_ff", &ModelConfig::d_ff);
    i64("src_vocab", &ModelConfig::src_vocab);
    i64("tgt_vocab", &ModelConfig::tgt_vocab);
    t.emplace_back(
        "norm", [](ModelConfig& c, const Reader& r, const std::string& k, const json& v) {
          const std::string s = r.string(k, v);
          if (s == "post") {
            c.norm = NormPlacement::kPost;
          } else if (s == "pre") {
            c.norm = NormPlacement::kPre;
          } else {
            throw Error(fmt::format("\"{}\" must be \"post\" or \"pre\", got \"{}\"", k, s));
          }
        });
    t.emplace_back(
        "activation", [](ModelConfig& c, const Reader& r, const std::string& k, const json& v) {
          const std::string s = r.string(k, v);
          if (s == "relu") {
            c.activation = cpu::Activation::kRelu;
          } else if (s == "gelu") {
            c.activation = cpu::Activation::kGelu;
          } else {
            throw Error(fmt::format("\"{}\" must be \"relu\" or \"gelu\", got \"{}\"", k, s));
          }
        });
    i32("pad_id", &ModelConfig::pad_id);
    i32("bos_id", &ModelConfig::bos_id);
    i32("eos_id", &ModelConfig::eos_id);
    i32("unk_id", &ModelConfig::unk_id);
    i64("max_len", &ModelConfig::max_len);
    flag("embed_scale", &ModelConfig::embed_scale);
    f32("layer_norm_eps", &ModelConfig::layer_norm_eps);
    flag("final_norms", &ModelConfig::final_norms);
    flag("share_embeddings", &ModelConfig::share_embeddings);
    flag("tie_output", &ModelConfig::tie_output);
    flag("generator_bias", &ModelConfig::generator_bias);
    f32("dropout", &ModelConfig::dropout);
    flag("residual", &ModelConfig::residual);
    flag("scale_scores", &ModelConfig::scale_scores);
    return t;
  }();
  return table;
}

const SetterTable<RnnConfig>& rnn_setters() {
  static const SetterTable<RnnConfig> table = [] {
    SetterTable<RnnConfig> t;
    auto i64 = [&t](const char* key, int64_t RnnConfig::*field) {
      t.emplace_back(key, [field](RnnConfig& c, const Reader& r, const std::string& k,
                                  const json& v) { c.*field = r.int64(k, v); });
    };
    auto i32 = [&t](const char* key, int32_t RnnConfig::*field) {
      t.emplace_back(key, [field](RnnConfig& c, const Reader& r, const std::string& k,
                                  const json& v) { c.*field = r.int32(k, v); });
    };
    t.emplace_back("arch", [](RnnConfig& c, const Reader& r, const std::string& k, const json& v) {
      c.arch = r.string(k, v);
    });
    i64("embed_size", &RnnConfig::embed_size);
    i64("encoder_hidden", &RnnConfig::encoder_hidden);
    i64("decoder_hidden", &RnnConfig::decoder_hidden);
    i64("attention_size", &RnnConfig::attention_size);
    i64("src_vocab", &RnnConfig::src_vocab);
    i64("tgt_vocab", &RnnConfig::tgt_vocab);
    i32("pad_id", &RnnConfig::pad_id);
    i32("bos_id", &RnnConfig::bos_id);
    i32("eos_id", &RnnConfig::eos_id);
    i32("unk_id", &RnnConfig::unk_id);
    i64("max_len", &RnnConfig::max_len);
    return t;
  }();
  return table;
}

template <typename C>
C parse_config(const json& j, const std::string& source_name, const SetterTable<C>& table) {
  ATTN_CHECK(j.is_object(), "{}: the config must be a JSON object, got {}", source_name, brief(j));
  C c;
  const Reader reader(source_name);
  for (const auto& [key, value] : j.items()) {
    if (!key.empty() && key[0] == '_') continue;  // a comment
    const auto it = std::find_if(table.begin(), table.end(),
                                 [&key](const auto& entry) { return entry.first == key; });
    if (it == table.end()) {
      std::string hint;
      size_t best = 3;
      for (const auto& entry : table) {
        const size_t d = edit_distance(key, entry.first);
        if (d < best) {
          best = d;
          hint = fmt::format(" (did you mean \"{}\"?)", entry.first);
        }
      }
      if (hint.empty()) {
        std::string known;
        for (const auto& entry : table) known += (known.empty() ? "" : ", ") + entry.first;
        hint = fmt::format(" (known keys: {}; keys starting with \"_\" are comments)", known);
      }
      fail("{}: unknown key \"{}\"{}", source_name, key, hint);
    }
    try {
      it->second(c, reader, key, value);
    } catch (const Error& e) {
      const std::string what = e.what();
      if (what.rfind(source_name + ": ", 0) == 0) throw;
      throw Error(source_name + ": " + what);
    }
  }
  try {
    c.validate();
  } catch (const Error& e) {
    throw Error(source_name + ": " + e.what());
  }
  return c;
}

json read_json_file(const std::string& path);

}  // namespace

ModelConfig config_from_json(const json& j, const std::string& source_name) {
  return parse_config(j, source_name, setters());
}

RnnConfig rnn_config_from_json(const json& j, const std::string& source_name) {
  return parse_config(j, source_name, rnn_setters());
}

AnyModelConfig any_config_from_json(const json& j, const std::string& source_name) {
  if (j.is_object() && j.contains("arch") && j["arch"] == "rnn-attention")
    return rnn_config_from_json(j, source_name);
  return config_from_json(j, source_name);
}

json rnn_config_to_json(const RnnConfig& c) {
  json j;
  j["arch"] = c.arch;
  j["embed_size"] = c.embed_size;
  j["encoder_hidden"] = c.encoder_hidden;
  j["decoder_hidden"] = c.decoder_hidden;
  j["attention_size"] = c.attention_size;
  j["src_vocab"] = c.src_vocab;
  j["tgt_vocab"] = c.tgt_vocab;
  j["pad_id"] = c.pad_id;
  j["bos_id"] = c.bos_id;
  j["eos_id"] = c.eos_id;
  j["unk_id"] = c.unk_id;
  j["max_len"] = c.max_len;
  return j;
}

json config_to_json(const ModelConfig& c) {
  json j;
  j["arch"] = c.arch;
  j["d_model"] = c.d_model;
  j["heads"] = c.heads;
  j["encoder_layers"] = c.encoder_layers;
  j["decoder_layers"] = c.decoder_layers;
  j["d_ff"] = c.d_ff;
  j["src_vocab"] = c.src_vocab;
  j["tgt_vocab"] = c.tgt_vocab;
  j["norm"] = c.norm == NormPlacement::kPre ? "pre" : "post";
  j["activation"] = c.activation == cpu::Activation::kGelu ? "gelu" : "relu";
  j["pad_id"] = c.pad_id;
  j["bos_id"] = c.bos_id;
  j["eos_id"] = c.eos_id;
  j["unk_id"] = c.unk_id;
  j["max_len"] = c.max_len;
  j["embed_scale"] = c.embed_scale;
  j["layer_norm_eps"] = float_for_json(c.layer_norm_eps);
  j["final_norms"] = c.final_norms;
  j["share_embeddings"] = c.share_embeddings;
  j["tie_output"] = c.tie_output;
  j["generator_bias"] = c.generator_bias;
  j["dropout"] = float_for_json(c.dropout);
  j["residual"] = c.residual;
  j["scale_scores"] = c.scale_scores;
  return j;
}

ModelConfig read_config(const std::string& path) {
  return config_from_json(read_json_file(path), path);
}

AnyModelConfig read_any_config(const std::string& path) {
  return any_config_from_json(read_json_file(path), path);
}

namespace {
json read_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open config: {}", path, std::strerror(errno));
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) fail("{}: read error: {}", path, std::strerror(errno));
  const std::string text = buf.str();

  // Note the first duplicate top-level key: nlohmann would silently keep the last one.
  std::set<std::string> seen;
  std::string duplicate;
  json j;
  try {
    j = json::parse(text, [&](int depth, json::parse_event_t ev, json& parsed) {
      if (ev == json::parse_event_t::key && depth == 1 && duplicate.empty()) {
        std::string key = parsed.get<std::string>();
        if (!seen.insert(key).second) duplicate = std::move(key);
      }
      return true;
    });
  } catch (const json::parse_error& e) {
    fail("{}: not valid JSON: {}", path, json_error_text(e));
  } catch (const json::exception& e) {
    fail("{}: not valid JSON: {}", path, json_error_text(e));
  }
  ATTN_CHECK(duplicate.empty(), "{}: key \"{}\" appears twice", path, duplicate);
  return j;
}
}  // namespace

namespace {
template <typename C>
void write_validated(const std::string& path, const C& config, const json& j) {
  try {
    config.validate();
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
  write_file_atomically(path, j.dump(2) + "\n");
}
}  // namespace

void write_config(const std::string& path, const ModelConfig& config) {
  write_validated(path, config, config_to_json(config));
}

void write_rnn_config(const std::string& path, const RnnConfig& config) {
  write_validated(path, config, rnn_config_to_json(config));
}

}  // namespace attnscope

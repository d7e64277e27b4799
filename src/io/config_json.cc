#include "io/config_json.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <utility>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/json_error.h"
#include "io/architectures.h"

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

// "a" | "b" | "c" as a message says it: "a", "b" or "c".
std::string alternatives(const std::vector<std::string>& names) {
  std::string s;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i) s += i + 1 == names.size() ? " or " : ", ";
    s += "\"" + names[i] + "\"";
  }
  return s;
}

// JSON values checked against the type of the field they go into.
int64_t as_int64(const std::string& key, const json& v) {
  ATTN_CHECK(v.is_number_integer(), "\"{}\" must be an integer, got {}", key, brief(v));
  ATTN_CHECK(!v.is_number_unsigned() ||
                 v.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()),
             "\"{}\" is out of range, got {}", key, brief(v));
  return v.get<int64_t>();
}
int32_t as_int32(const std::string& key, const json& v) {
  const int64_t i = as_int64(key, v);
  ATTN_CHECK(i >= std::numeric_limits<int32_t>::min() && i <= std::numeric_limits<int32_t>::max(),
             "\"{}\" must fit in 32 bits, got {}", key, i);
  return static_cast<int32_t>(i);
}
float as_float(const std::string& key, const json& v) {
  ATTN_CHECK(v.is_number(), "\"{}\" must be a number, got {}", key, brief(v));
  const double d = v.get<double>();
  ATTN_CHECK(std::isfinite(d) && std::fabs(d) <= std::numeric_limits<float>::max(),
             "\"{}\" is out of range for fp32, got {}", key, brief(v));
  return static_cast<float>(d);
}
bool as_bool(const std::string& key, const json& v) {
  ATTN_CHECK(v.is_boolean(), "\"{}\" must be true or false, got {}", key, brief(v));
  return v.get<bool>();
}
std::string as_string(const std::string& key, const json& v) {
  ATTN_CHECK(v.is_string(), "\"{}\" must be a string, got {}", key, brief(v));
  return v.get<std::string>();
}

// Sets the one field named `key` from `value`.
class FieldReader : public ConfigFields {
 public:
  FieldReader(const std::string& key, const json& value) : key_(key), value_(value) {}
  bool found() const { return found_; }

  void field(const char* key, int64_t& v, IntRange) override {
    if (mine(key)) v = as_int64(key_, value_);
  }
  void field(const char* key, int32_t& v, IntRange) override {
    if (mine(key)) v = as_int32(key_, value_);
  }
  void field(const char* key, float& v, FloatRange) override {
    if (mine(key)) v = as_float(key_, value_);
  }
  void field(const char* key, bool& v) override {
    if (mine(key)) v = as_bool(key_, value_);
  }
  void one_of(const char* key, size_t& index, const std::vector<std::string>& names) override {
    if (!mine(key)) return;
    const std::string s = as_string(key_, value_);
    const auto it = std::find(names.begin(), names.end(), s);
    if (it == names.end()) fail("\"{}\" must be {}, got \"{}\"", key_, alternatives(names), s);
    index = static_cast<size_t>(it - names.begin());
  }

 private:
  bool mine(const char* key) {
    if (key_ != key) return false;
    found_ = true;
    return true;
  }
  const std::string& key_;
  const json& value_;
  bool found_ = false;
};

class JsonWriter : public ConfigFields {
 public:
  explicit JsonWriter(json& out) : out_(out) {}
  void field(const char* key, int64_t& v, IntRange) override { out_[key] = v; }
  void field(const char* key, int32_t& v, IntRange) override { out_[key] = v; }
  void field(const char* key, float& v, FloatRange) override { out_[key] = float_for_json(v); }
  void field(const char* key, bool& v) override { out_[key] = v; }
  void one_of(const char* key, size_t& index, const std::vector<std::string>& names) override {
    out_[key] = names.at(index);
  }

 private:
  json& out_;
};

class KeyLister : public ConfigFields {
 public:
  std::vector<std::string> keys{"arch"};
  void field(const char* key, int64_t&, IntRange) override { keys.emplace_back(key); }
  void field(const char* key, int32_t&, IntRange) override { keys.emplace_back(key); }
  void field(const char* key, float&, FloatRange) override { keys.emplace_back(key); }
  void field(const char* key, bool&) override { keys.emplace_back(key); }
  void one_of(const char* key, size_t&, const std::vector<std::string>&) override {
    keys.emplace_back(key);
  }
};

// The error of an unknown key: the closest known key, else all of them.
[[noreturn]] void unknown_key(const std::string& source_name, const std::string& key,
                              const std::vector<std::string>& known) {
  std::string hint;
  size_t best = 3;
  for (const std::string& k : known) {
    const size_t d = edit_distance(key, k);
    if (d < best) {
      best = d;
      hint = fmt::format(" (did you mean \"{}\"?)", k);
    }
  }
  if (hint.empty()) {
    std::string list;
    for (const std::string& k : known) list += (list.empty() ? "" : ", ") + k;
    hint = fmt::format(" (known keys: {}; keys starting with \"_\" are comments)", list);
  }
  fail("{}: unknown key \"{}\"{}", source_name, key, hint);
}

// Runs f, prefixing the message of an Error it throws with the source (once).
template <typename F>
void with_source(const std::string& source_name, F f) {
  try {
    f();
  } catch (const Error& e) {
    const std::string what = e.what();
    if (what.rfind(source_name + ": ", 0) == 0) throw;
    throw Error(source_name + ": " + what);
  }
}

}  // namespace

std::vector<std::string> config_keys(const ArchConfig& config) {
  KeyLister lister;
  config.clone()->visit_fields(lister);
  return lister.keys;
}

bool set_config_field(ArchConfig& config, const std::string& key, const json& value) {
  if (key == "arch") return false;
  FieldReader reader(key, value);
  config.visit_fields(reader);
  return reader.found();
}

void read_config_fields(const json& j, const std::string& source_name, ArchConfig& config) {
  ATTN_CHECK(j.is_object(), "{}: the config must be a JSON object, got {}", source_name, brief(j));
  const std::vector<std::string> known = config_keys(config);
  for (const auto& [key, value] : j.items()) {
    if (!key.empty() && key[0] == '_') continue;  // a comment
    if (std::find(known.begin(), known.end(), key) == known.end())
      unknown_key(source_name, key, known);
    with_source(source_name, [&, &k = key, &v = value] {
      if (k == "arch") {
        const std::string arch = as_string(k, v);
        ATTN_CHECK(arch == config.arch(), "arch: \"{}\" is not \"{}\"", arch, config.arch());
        return;
      }
      FieldReader reader(k, v);
      config.visit_fields(reader);
      ATTN_CHECK(reader.found(), "\"{}\" was listed but not read", k);
    });
  }
  with_source(source_name, [&] { config.validate(); });
}

std::unique_ptr<ArchConfig> config_from_json(const json& j, const std::string& source_name) {
  ATTN_CHECK(j.is_object(), "{}: the config must be a JSON object, got {}", source_name, brief(j));
  const Architecture* arch = nullptr;
  with_source(source_name, [&] { arch = &architecture_of(j); });
  if (arch->read != nullptr) return arch->read(j, source_name);
  std::unique_ptr<ArchConfig> config = arch->make_config();
  read_config_fields(j, source_name, *config);
  return config;
}

std::unique_ptr<ArchConfig> read_config(const std::string& path) {
  return config_from_json(read_json_file(path), path);
}

json config_to_json(const ArchConfig& config) {
  json j;
  j["arch"] = config.arch();
  JsonWriter writer(j);
  config.clone()->visit_fields(writer);
  return j;
}

void write_config(const std::string& path, const ArchConfig& config) {
  const Architecture* arch = find_architecture(config.arch());
  ATTN_CHECK(arch == nullptr || arch->load_model == nullptr,
             "{}: a {} model's config is the one of its own directory ({}); attnscope does not "
             "write one",
             path, config.arch(), arch != nullptr ? arch->description : "");
  with_source(path, [&] { config.validate(); });
  write_file_atomically(path, config_to_json(config).dump(2) + "\n");
}

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
  } catch (const json::exception& e) {
    fail("{}: not valid JSON: {}", path, json_error_text(e));
  }
  ATTN_CHECK(duplicate.empty(), "{}: key \"{}\" appears twice", path, duplicate);
  return j;
}

}  // namespace attnscope

// The fields of a JSON file written by another program (Hugging Face's config.json,
// generation_config.json, tokenizer_config.json), read one by one with checks: the type, the
// range, and a message that names the file and the key when either is wrong. A key that is
// absent or null takes the fallback, as Hugging Face's classes take their defaults.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace attnscope {

class JsonFields {
 public:
  // Throws attnscope::Error when j is not an object.
  JsonFields(const nlohmann::json& j, std::string file);

  const std::string& file() const { return file_; }
  const nlohmann::json& json() const { return j_; }
  // Present and not null.
  bool has(const char* key) const;

  int64_t integer(const char* key, int64_t fallback, int64_t lo, int64_t hi) const;
  std::optional<int64_t> optional_integer(const char* key, int64_t lo, int64_t hi) const;
  bool boolean(const char* key, bool fallback) const;
  double number(const char* key, double fallback) const;  // finite
  std::string string(const char* key, const std::string& fallback) const;

  // "<file>: <key> is <value>: <why>", as an attnscope::Error.
  [[noreturn]] void refuse(const char* key, const std::string& why) const;
  // The value of key as it reads in a message (shortened JSON).
  std::string value_text(const char* key) const;

 private:
  const nlohmann::json& j_;
  std::string file_;
};

}  // namespace attnscope

#include "io/json_fields.h"

#include <cmath>
#include <limits>

#include "core/error.h"

namespace attnscope {

namespace {

std::string brief(const nlohmann::json& v) {
  std::string s = v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

}  // namespace

JsonFields::JsonFields(const nlohmann::json& j, std::string file) : j_(j), file_(std::move(file)) {
  ATTN_CHECK(j_.is_object(), "{}: must be a JSON object, got {}", file_, brief(j_));
}

bool JsonFields::has(const char* key) const {
  const auto it = j_.find(key);
  return it != j_.end() && !it->is_null();
}

std::string JsonFields::value_text(const char* key) const {
  const auto it = j_.find(key);
  return it == j_.end() ? "absent" : brief(*it);
}

void JsonFields::refuse(const char* key, const std::string& why) const {
  fail("{}: \"{}\" is {}: {}", file_, key, value_text(key), why);
}

std::optional<int64_t> JsonFields::optional_integer(const char* key, int64_t lo, int64_t hi) const {
  if (!has(key)) return std::nullopt;
  const nlohmann::json& v = j_.at(key);
  if (!v.is_number_integer()) refuse(key, "it must be an integer");
  if (v.is_number_unsigned() &&
      v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    refuse(key, fmt::format("it must lie in [{}, {}]", lo, hi));
  const int64_t x = v.get<int64_t>();
  if (x < lo || x > hi) refuse(key, fmt::format("it must lie in [{}, {}]", lo, hi));
  return x;
}

int64_t JsonFields::integer(const char* key, int64_t fallback, int64_t lo, int64_t hi) const {
  return optional_integer(key, lo, hi).value_or(fallback);
}

bool JsonFields::boolean(const char* key, bool fallback) const {
  if (!has(key)) return fallback;
  const nlohmann::json& v = j_.at(key);
  if (!v.is_boolean()) refuse(key, "it must be true or false");
  return v.get<bool>();
}

double JsonFields::number(const char* key, double fallback) const {
  if (!has(key)) return fallback;
  const nlohmann::json& v = j_.at(key);
  if (!v.is_number()) refuse(key, "it must be a number");
  const double x = v.get<double>();
  if (!std::isfinite(x) || std::fabs(x) > std::numeric_limits<float>::max())
    refuse(key, "it must be a finite number");
  return x;
}

std::string JsonFields::string(const char* key, const std::string& fallback) const {
  if (!has(key)) return fallback;
  const nlohmann::json& v = j_.at(key);
  if (!v.is_string()) refuse(key, "it must be a string");
  return v.get<std::string>();
}

}  // namespace attnscope

#include "app/model_presets.h"

#include <algorithm>
#include <filesystem>

#include "core/error.h"
#include "io/architectures.h"
#include "io/config_json.h"

namespace attnscope::app {

namespace {

std::string joined(const std::vector<std::string>& names) {
  std::string s;
  for (const std::string& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

bool is_preset_of(const Architecture& a, const std::string& name) {
  return std::find(a.preset_names.begin(), a.preset_names.end(), name) != a.preset_names.end();
}

}  // namespace

std::vector<std::string> trainable_architectures() {
  std::vector<std::string> names;
  for (const Architecture& a : architectures())
    if (a.preset != nullptr) names.push_back(a.name);
  return names;
}

std::string resolve_arch(const std::string& arch, const std::string& config) {
  if (!arch.empty()) {
    const std::vector<std::string> trainable = trainable_architectures();
    ATTN_CHECK(std::find(trainable.begin(), trainable.end(), arch) != trainable.end(),
               "--arch {}: not an architecture that can be trained here ({})", arch,
               joined(trainable));
    return arch;
  }
  const Architecture& fallback = architectures().front();
  if (!is_preset_of(fallback, config) && std::filesystem::exists(config))
    return read_config(config)->arch();
  return fallback.name;
}

std::unique_ptr<ArchConfig> model_preset(const std::string& arch, const std::string& name) {
  const Architecture* a = find_architecture(arch);
  ATTN_CHECK(a != nullptr && a->preset != nullptr, "--arch {}: not an architecture ({})", arch,
             joined(trainable_architectures()));
  if (is_preset_of(*a, name)) return a->preset(name);
  ATTN_CHECK(std::filesystem::exists(name), "--config {}: not a preset ({}) nor a config.json file",
             name, joined(a->preset_names));
  std::unique_ptr<ArchConfig> c = read_config(name);
  ATTN_CHECK(c->arch() == arch, "--config {}: a config of arch {}, but --arch is {}", name,
             c->arch(), arch);
  return c;
}

}  // namespace attnscope::app

#include "io/model_dir.h"

#include <cmath>
#include <filesystem>
#include <set>
#include <vector>

#include "core/error.h"
#include "io/architectures.h"
#include "io/config_json.h"
#include "io/safetensors.h"

namespace attnscope {

namespace fs = std::filesystem;

namespace {

std::string checked_config_path(const std::string& dir) {
  ATTN_CHECK(fs::is_directory(dir), "model directory {} does not exist", dir);
  const std::string config_path = (fs::path(dir) / kConfigFile).string();
  ATTN_CHECK(fs::exists(config_path), "{} is missing: a model directory needs {} and {}",
             config_path, kConfigFile, kWeightsFile);
  return config_path;
}

// The architecture that reads DIR whole (Architecture::load_model), or nullptr for attnscope's
// own layout. Only a directory with a config.json can be another program's.
const Architecture* foreign_layout(const std::string& dir) {
  const fs::path config_path = fs::path(dir) / kConfigFile;
  std::error_code ec;
  if (!fs::is_regular_file(config_path, ec)) return nullptr;
  const nlohmann::json j = read_json_file(config_path.string());
  for (const Architecture& a : architectures())
    if (a.load_model != nullptr && a.recognizes != nullptr && a.recognizes(j)) return &a;
  return nullptr;
}

}  // namespace

void check_finite(const std::string& file, const std::string& name, const Tensor& t) {
  const float* v = t.data();
  const int64_t n = t.numel();
  int64_t i = 0;
  while (i < n && std::isfinite(v[i])) ++i;
  if (i == n) return;
  int64_t count = 0;
  for (int64_t j = i; j < n; ++j) count += !std::isfinite(v[j]);
  fail(
      "{}: tensor \"{}\" holds {} at index {} ({} of its {} values are not finite): the file is "
      "corrupt or comes from a run that diverged",
      file, name, v[i], i, count, n);
}

std::unique_ptr<Seq2SeqModel> load_model(const std::string& dir) {
  const std::string config_path = checked_config_path(dir);
  if (const Architecture* a = foreign_layout(dir)) return a->load_model(dir);
  auto model = read_config(config_path)->make_model();
  load_weights(*model, (fs::path(dir) / kWeightsFile).string());
  return model;
}

void load_weights(Seq2SeqModel& model, const std::string& path) {
  SafetensorsFile file = read_safetensors(path);
  load_params(model, file.tensors, path);
}

void load_params(Seq2SeqModel& model, std::map<std::string, Tensor>& tensors,
                 const std::string& source) {
  std::set<std::string> used;
  model.visit_params([&](Param& p) {
    auto it = tensors.find(p.name);
    ATTN_CHECK(it != tensors.end(), "{}: tensor \"{}\" is missing (expected shape {})", source,
               p.name, p.value.shape_str());
    ATTN_CHECK(it->second.shape() == p.value.shape(),
               "{}: tensor \"{}\" has shape {}, the config needs {}", source, p.name,
               it->second.shape_str(), p.value.shape_str());
    check_finite(source, p.name, it->second);
    p.value = std::move(it->second);
    used.insert(p.name);
  });
  for (const auto& [name, t] : tensors)
    if (!used.count(name)) model.check_extra_tensor(source, name, t);
}

TokenizerPair load_tokenizers(const std::string& dir) {
  if (const Architecture* a = foreign_layout(dir)) return a->load_tokenizers(dir);
  const fs::path shared = fs::path(dir) / kSharedTokenizer;
  if (fs::exists(shared)) {
    auto tok = std::make_shared<Tokenizer>(Tokenizer::load(shared.string()));
    return {tok, tok};
  }
  const fs::path src = fs::path(dir) / kSourceTokenizer, tgt = fs::path(dir) / kTargetTokenizer;
  ATTN_CHECK(fs::exists(src) && fs::exists(tgt),
             "{} has no tokenizer: it needs {} or both {} and {} (a model trained by `attnscope "
             "train` has them)",
             dir, kSharedTokenizer, kSourceTokenizer, kTargetTokenizer);
  return {std::make_shared<Tokenizer>(Tokenizer::load(src.string())),
          std::make_shared<Tokenizer>(Tokenizer::load(tgt.string()))};
}

void save_model(Seq2SeqModel& model, const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  ATTN_CHECK(!ec, "cannot create model directory {}: {}", dir, ec.message());
  const std::string config_path = (fs::path(dir) / kConfigFile).string();
  write_config(config_path, model.config());
  std::vector<std::pair<std::string, const Tensor*>> tensors;
  model.visit_params([&](Param& p) { tensors.emplace_back(p.name, &p.value); });
  write_safetensors((fs::path(dir) / kWeightsFile).string(), tensors,
                    {{"format", "pt"}, {"producer", "attnscope"}});
}

}  // namespace attnscope

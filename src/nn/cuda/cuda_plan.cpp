// The device Transformer's plan and what it refuses (cuda_plan.h, cuda_transformer.h).
#include "nn/cuda/cuda_plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "core/error.h"
#include "kernels/cuda/cuda_check.h"
#include "nn/cuda/cuda_transformer.h"

namespace attnscope {

namespace cuda_model {

const std::vector<std::string> kWiredConfigKeys = {
    "d_model",        "heads",          "encoder_layers",
    "decoder_layers", "d_ff",           "src_vocab",
    "tgt_vocab",      "norm",           "activation",
    "pad_id",         "bos_id",         "eos_id",
    "unk_id",         "max_len",        "embed_scale",
    "layer_norm_eps", "final_norms",    "share_embeddings",
    "tie_output",     "generator_bias", "dropout",
    "residual",       "scale_scores"};

Plan plan_of(const ModelConfig& c) {
  Plan p;
  p.d_model = c.d_model;
  p.heads = c.heads;
  p.d_head = c.d_head();
  p.d_ff = c.d_ff;
  p.encoder_layers = c.encoder_layers;
  p.decoder_layers = c.decoder_layers;
  p.src_vocab = c.src_vocab;
  p.tgt_vocab = c.tgt_vocab;
  p.max_len = c.max_len;
  p.pre_norm = c.norm == NormPlacement::kPre;
  p.residual = c.residual;
  p.final_norms = c.final_norms;
  p.share_embeddings = c.share_embeddings;
  p.tie_output = c.tie_output;
  p.generator_bias = c.generator_bias;
  p.embed_scale = c.embed_scale ? std::sqrt(static_cast<float>(c.d_model)) : 1.0f;
  p.score_scale = c.scale_scores ? 1.0f / std::sqrt(static_cast<float>(c.d_head())) : 1.0f;
  p.layer_norm_eps = c.layer_norm_eps;
  p.pad_id = c.pad_id;
  switch (c.activation) {
    case cpu::Activation::kRelu:
      p.activation = cuda::DeviceActivation::kRelu;
      break;
    case cpu::Activation::kGelu:
      p.activation = cuda::DeviceActivation::kGeluErf;  // the CPU's GELU is the erf form
      break;
    default:
      fail("--device cuda: activation #{} of this config is not implemented on the GPU yet",
           static_cast<int>(c.activation));
  }
  // Bos (and the decoder's other special ids) are beam search's business, the same on both.
  ATTN_CHECK(p.d_head <= 256,
             "--device cuda: heads of {} dimensions (d_model {} / {} heads) are wider than the "
             "GPU attention's 256",
             p.d_head, p.d_model, p.heads);
  return p;
}

namespace {

// Each config.json key with its value as text.
class FieldValues : public ConfigFields {
 public:
  std::map<std::string, std::string> values;
  void field(const char* key, int64_t& v, IntRange) override { values[key] = std::to_string(v); }
  void field(const char* key, int32_t& v, IntRange) override { values[key] = std::to_string(v); }
  void field(const char* key, float& v, FloatRange) override { values[key] = fmt::format("{}", v); }
  void field(const char* key, bool& v) override { values[key] = v ? "true" : "false"; }
  void one_of(const char* key, size_t& index, const std::vector<std::string>& names) override {
    values[key] = index < names.size() ? names[index] : "?";
  }
};

std::map<std::string, std::string> values_of(const ArchConfig& cfg) {
  FieldValues f;
  cfg.clone()->visit_fields(f);  // visit_fields reads and writes: visit a copy
  return f.values;
}

}  // namespace

}  // namespace cuda_model

bool cuda_device_usable(std::string* why) {
  if (!cuda::device_available(why)) return false;
  try {
    const cuda::DeviceInfo& d = cuda::current_device_info();
    if (d.cc_major < 9) {
      if (why)
        *why = fmt::format(
            "the GPU {} has compute capability {}.{}; attnscope's CUDA kernels are built for 9.0 "
            "(Hopper) and later",
            d.name, d.cc_major, d.cc_minor);
      return false;
    }
  } catch (const Error& e) {
    if (why) *why = e.what();
    return false;
  }
  return true;
}

void check_cuda_supported(const Seq2SeqModel& model) {
  const auto* cfg = dynamic_cast<const ModelConfig*>(&model.config());
  ATTN_CHECK(
      cfg != nullptr,
      "--device cuda runs arch \"transformer\" only; this model is \"{}\" (use --device cpu)",
      model.info().arch);
  const auto now = cuda_model::values_of(*cfg);
  const auto defaults = cuda_model::values_of(ModelConfig{});
  for (const auto& [key, value] : now) {
    const auto& wired = cuda_model::kWiredConfigKeys;
    if (std::find(wired.begin(), wired.end(), key) != wired.end()) continue;
    const auto def = defaults.find(key);
    ATTN_CHECK(def != defaults.end() && def->second == value,
               "--device cuda: config.json's \"{}\": {} is not implemented on the GPU yet (use "
               "--device cpu)",
               key, value);
  }
  cuda_model::plan_of(*cfg);  // refuses the values it does not implement
}

}  // namespace attnscope

// A Hugging Face Marian config.json on any bytes (split at the first NUL: the part after it, when
// present, is generation_config.json): an Error naming the file, or a config that passed every
// check — and, when small, builds a model that runs a forward pass.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "core/error.h"
#include "fuzz_util.h"
#include "io/marian_config_reader.h"
#include "nn/seq2seq_model.h"

using namespace attnscope;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::init_limits();
  return 0;
}

namespace {
bool parse(const std::string& text, nlohmann::json& out) {
  out = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  return !out.is_discarded();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  const size_t nul = bytes.find('\0');
  nlohmann::json config, generation;
  if (!parse(bytes.substr(0, nul), config)) return 0;
  const bool has_generation = nul != std::string::npos;
  if (has_generation && !parse(bytes.substr(nul + 1), generation)) return 0;
  MarianConfigRead read;
  try {
    read = read_marian_config(config, "config.json", has_generation ? &generation : nullptr,
                              "generation_config.json");
  } catch (const Error&) {
    return 0;
  }
  const MarianConfig& c = read.config;
  if (c.d_model % c.heads != 0) fuzz::broken("heads do not divide d_model");
  if (c.eos_id == c.pad_id) fuzz::broken("eos is the padding");
  if (c.parameter_count() > 200000) return 0;
  try {
    std::unique_ptr<Seq2SeqModel> model = c.make_model();
    model->init_weights(1);
    const ModelInfo info = model->info();
    TokenBatch src{1, 2, {static_cast<int32_t>(info.src_vocab - 1), info.eos_id}};
    TokenBatch tgt{1, 1, {info.decoder_start_id}};
    const Tensor& logits = model->forward(src, tgt, ForwardOptions{});
    if (logits.numel() != info.tgt_vocab) fuzz::broken("logits shape");
  } catch (const Error&) {
  }
  return 0;
}

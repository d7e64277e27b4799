// config.json on any bytes: an Error, or a config that writes back to the same JSON, builds a model
// within the memory cap (or is refused by it) and, when small, runs a forward pass.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "fuzz_util.h"
#include "io/config_json.h"
#include "nn/seq2seq_model.h"

using namespace attnscope;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::init_limits();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fuzz::MemFile file({reinterpret_cast<const char*>(data), size});
  std::unique_ptr<ArchConfig> config;
  try {
    config = read_config(file.path());
  } catch (const Error&) {
    return 0;
  }
  const nlohmann::json j = config_to_json(*config);
  try {
    if (config_to_json(*config_from_json(j, "written")) != j) fuzz::broken("round trip");
  } catch (const Error& e) {
    fuzz::broken(std::string("a written config does not read back: ") + e.what());
  }
  // Building and running a model costs time in proportion to its size: only small ones, so the
  // fuzzer keeps its speed (the memory cap itself is tested by the unit tests).
  if (config->parameter_count() > 200000) return 0;
  try {
    std::unique_ptr<Seq2SeqModel> model = config->make_model();
    model->init_weights(1);
    const ModelInfo info = model->info();
    TokenBatch src{1, std::min<int64_t>(3, info.max_len), {}},
        tgt{1, std::min<int64_t>(2, info.max_len), {}};
    for (int64_t i = 0; i < src.cols; ++i)
      src.ids.push_back(static_cast<int32_t>(i % info.src_vocab));
    tgt.ids.push_back(info.bos_id);
    if (tgt.cols > 1) tgt.ids.push_back(static_cast<int32_t>(info.tgt_vocab - 1));
    const Tensor& logits = model->forward(src, tgt, ForwardOptions{});
    if (logits.numel() != tgt.cols * info.tgt_vocab) fuzz::broken("logits shape");
  } catch (const Error&) {
  }
  return 0;
}

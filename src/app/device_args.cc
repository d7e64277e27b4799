#include "app/device_args.h"

#include "io/model_dir.h"

namespace attnscope::app {

void add_device_options(CLI::App* cmd, DeviceArgs& d) {
  cmd->add_option("--device", d.device,
                  "Where the model computes: cpu, or cuda (an NVIDIA GPU, Hopper or later; "
                  "needs a build with -DATTNSCOPE_CUDA=ON)")
      ->capture_default_str()
      ->check(CLI::IsMember({"cpu", "cuda"}));
  cmd->add_option("--precision", d.precision,
                  "Weights of the products: on the CPU fp32 (the default), or bf16 or int8 for "
                  "the decoder's steps and the output layer (bf16: AVX512-BF16 dot products, "
                  "int8: per-channel weights and per-row activations, AVX512-VNNI, where the CPU "
                  "has them; fp32 accumulation); with --device cuda bf16 (the default) or fp32")
      ->check(CLI::IsMember({"fp32", "bf16", "int8"}));
}

DeviceOptions device_options(const DeviceArgs& d) {
  DeviceOptions o;
  o.device = parse_device(d.device);
  if (!d.precision.empty()) o.precision = parse_precision(d.precision);
  check_device_options(o);
  return o;
}

std::unique_ptr<Seq2SeqModel> load_model_on(const std::string& dir, const DeviceArgs& d) {
  const DeviceOptions o = device_options(d);
  return to_device(load_model(dir), o);
}

}  // namespace attnscope::app

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
                  "With --device cuda: bf16 (the default: bf16 weights, fp32 accumulation) or "
                  "fp32 (the CPU's results up to rounding)")
      ->check(CLI::IsMember({"bf16", "fp32"}));
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

#include "app/device_args.h"

#include "core/error.h"
#include "io/model_dir.h"
#include "nn/head_mask.h"

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

void add_mask_heads_option(CLI::App* cmd, std::string& mask_heads) {
  cmd->add_option("--mask-heads", mask_heads,
                  "Switch attention heads off (gate 0 on the head's output, before W_O): "
                  "kind:layer:head,... with kind encoder_self, decoder_self or cross and * for "
                  "every layer or head, e.g. cross:1:2,encoder_self:0:*")
      ->check(CLI::Validator(
          [](std::string& input) -> std::string {
            try {
              parse_head_masks(input, "--mask-heads");
            } catch (const Error& e) {
              // CLI11 puts the flag's name in front itself.
              const std::string prefix = "--mask-heads: ", what = e.what();
              return what.rfind(prefix, 0) == 0 ? what.substr(prefix.size()) : what;
            }
            return std::string();
          },
          "KIND:LAYER:HEAD,..."));
}

void apply_mask_heads(Seq2SeqModel& model, const std::string& spec) {
  if (spec.empty()) return;
  apply_head_masks(model, parse_head_masks(spec, "--mask-heads"), "--mask-heads");
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
  auto model = to_device(load_model(dir), o);
  apply_mask_heads(*model, d.mask_heads);
  return model;
}

}  // namespace attnscope::app

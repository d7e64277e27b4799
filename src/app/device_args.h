// `--device cpu|cuda` and `--precision bf16|fp32`, shared by translate, eval, attention, serve,
// forward and bench: where the model computes (nn/device.h). `--mask-heads kind:layer:head,...`
// (nn/head_mask.h), shared by every command that runs a model: heads switched off.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>

#include "nn/device.h"
#include "nn/seq2seq_model.h"

namespace attnscope::app {

struct DeviceArgs {
  std::string device = "cpu";
  std::string precision;   // empty: the device's default (cpu fp32, cuda bf16)
  std::string mask_heads;  // empty: every head as trained
};

void add_device_options(CLI::App* cmd, DeviceArgs& d);
// --mask-heads into d.mask_heads, its syntax checked while the command line is parsed.
void add_mask_heads_option(CLI::App* cmd, std::string& mask_heads);

// The --mask-heads of `spec` applied to the model (nothing when empty); a kind, layer or head
// the model does not have, or a model without head gates, is an attnscope::Error naming the flag.
void apply_mask_heads(Seq2SeqModel& model, const std::string& spec);

// The options, checked (a combination that cannot work, CUDA missing from the build or the
// machine): call before any other work, so a bad flag costs nothing.
DeviceOptions device_options(const DeviceArgs& d);

// load_model(dir) placed on the device, with d.mask_heads applied.
std::unique_ptr<Seq2SeqModel> load_model_on(const std::string& dir, const DeviceArgs& d);

}  // namespace attnscope::app

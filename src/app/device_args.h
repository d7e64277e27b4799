// `--device cpu|cuda` and `--precision fp32|bf16|int8`, shared by translate, eval, attention,
// serve, forward and bench: where the model computes (nn/device.h).
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>

#include "nn/device.h"
#include "nn/seq2seq_model.h"

namespace attnscope::app {

struct DeviceArgs {
  std::string device = "cpu";
  std::string precision;  // empty: the device's default (cpu fp32, cuda bf16)
};

void add_device_options(CLI::App* cmd, DeviceArgs& d);

// The options, checked (a combination that cannot work, CUDA missing from the build or the
// machine): call before any other work, so a bad flag costs nothing.
DeviceOptions device_options(const DeviceArgs& d);

// load_model(dir) placed on the device.
std::unique_ptr<Seq2SeqModel> load_model_on(const std::string& dir, const DeviceArgs& d);

}  // namespace attnscope::app

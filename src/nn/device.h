// Where a model computes: on the CPU (the engine of nn/, fp32; on request bf16 or int8 weights for
// the decode steps' products, kernels/cpu/quantized_linear.h), or on an NVIDIA GPU (nn/cuda/:
// the same Transformer on the device, bf16 weights with fp32 accumulation by default, fp32 on
// request). The commands take `--device cpu|cuda` and `--precision fp32|bf16|int8` and call
// to_device() after load_model(): everything after that goes through the Seq2SeqModel interface
// and is the same on both.
//
// A build without CUDA (the default) still knows the names: `--device cuda` is an Error saying
// that attnscope was built without CUDA; a CUDA build on a machine without a usable GPU says
// what is missing (no driver, no device).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "nn/seq2seq_model.h"

namespace attnscope {

enum class Device { kCpu, kCuda };
enum class Precision { kF32, kBf16, kInt8 };

struct DeviceOptions {
  Device device = Device::kCpu;
  // Unset: the device's default (CPU fp32, CUDA bf16). On the CPU, bf16 and int8 apply to the
  // decode steps' weights (Seq2SeqModel::set_step_weights); CUDA has no int8.
  std::optional<Precision> precision;
};

// "cpu" | "cuda"; "bf16" | "fp32" | "int8". Throw attnscope::Error naming the choices for anything
// else.
Device parse_device(const std::string& s);
Precision parse_precision(const std::string& s);
const char* device_name(Device d);
const char* precision_name(Precision p);
// The CPU's format for the decode steps' weights at precision p.
cpu::WeightFormat step_weight_format(Precision p);

// Whether this attnscope was built with CUDA (-DATTNSCOPE_CUDA=ON).
bool built_with_cuda();

// Checks the options before any work (an impossible combination, CUDA missing from the build or
// the machine): throws attnscope::Error saying what is wrong.
void check_device_options(const DeviceOptions& o);

// The model to run: `model` itself on the CPU; on CUDA a model that owns `model` and computes
// with a copy of its parameters on the GPU (uploaded once, here). Refuses, before uploading
// anything, an architecture or config switch the device model does not implement.
std::unique_ptr<Seq2SeqModel> to_device(std::unique_ptr<Seq2SeqModel> model,
                                        const DeviceOptions& o);

}  // namespace attnscope

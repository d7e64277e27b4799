#include "nn/device.h"

#include "core/error.h"

// Set to 1 for this file by CMake when ATTNSCOPE_CUDA is ON.
#ifndef ATTNSCOPE_WITH_CUDA
#define ATTNSCOPE_WITH_CUDA 0
#endif

#if ATTNSCOPE_WITH_CUDA
#include "nn/cuda/cuda_transformer.h"
#endif

namespace attnscope {

Device parse_device(const std::string& s) {
  if (s == "cpu") return Device::kCpu;
  if (s == "cuda") return Device::kCuda;
  fail("unknown device \"{}\": use cpu or cuda", s);
}

Precision parse_precision(const std::string& s) {
  if (s == "bf16") return Precision::kBf16;
  if (s == "fp32") return Precision::kF32;
  if (s == "int8") return Precision::kInt8;
  fail("unknown precision \"{}\": use fp32, bf16 or int8", s);
}

const char* device_name(Device d) {
  return d == Device::kCuda ? "cuda" : "cpu";
}

const char* precision_name(Precision p) {
  switch (p) {
    case Precision::kBf16:
      return "bf16";
    case Precision::kInt8:
      return "int8";
    case Precision::kF32:
      break;
  }
  return "fp32";
}

cpu::WeightFormat step_weight_format(Precision p) {
  switch (p) {
    case Precision::kBf16:
      return cpu::WeightFormat::kBf16;
    case Precision::kInt8:
      return cpu::WeightFormat::kInt8;
    case Precision::kF32:
      break;
  }
  return cpu::WeightFormat::kF32;
}

bool built_with_cuda() {
  return ATTNSCOPE_WITH_CUDA != 0;
}

void check_device_options(const DeviceOptions& o) {
  if (o.device == Device::kCpu) return;  // fp32, bf16 and int8 all run on any CPU
  ATTN_CHECK(!o.precision || *o.precision != Precision::kInt8,
             "--precision int8 is for --device cpu: the CUDA model computes in bf16 or fp32");
#if ATTNSCOPE_WITH_CUDA
  std::string why;
  ATTN_CHECK(cuda_device_usable(&why), "--device cuda: no usable CUDA device here ({})", why);
#else
  fail(
      "--device cuda: attnscope was built without CUDA (configure with -DATTNSCOPE_CUDA=ON, see "
      "docs/cuda.md), or use --device cpu");
#endif
}

std::unique_ptr<Seq2SeqModel> to_device(std::unique_ptr<Seq2SeqModel> model,
                                        const DeviceOptions& o) {
  check_device_options(o);
  if (o.device == Device::kCpu) {
    if (o.precision) model->set_step_weights(step_weight_format(*o.precision));
    return model;
  }
#if ATTNSCOPE_WITH_CUDA
  return make_cuda_transformer(std::move(model), o.precision.value_or(Precision::kBf16));
#else
  return model;  // not reached: check_device_options refused
#endif
}

}  // namespace attnscope

// Error messages for failed CUDA runtime and cuBLASLt calls, and the device queries.
#include <fmt/format.h>

#include <cstring>
#include <map>
#include <mutex>

#include "core/error.h"
#include "kernels/cuda/cublaslt_library.h"
#include "kernels/cuda/cuda_check.h"

namespace attnscope::cuda {

namespace {

// "…/src/kernels/cuda/x.cu" → "kernels/cuda/x.cu": the part a reader finds in the repository.
const char* short_path(const char* file) {
  const char* best = file;
  for (const char* p = std::strstr(file, "/src/"); p != nullptr; p = std::strstr(p + 1, "/src/"))
    best = p + 5;
  return best;
}

// Errors after which the context is unusable: every later call fails with the same error.
bool is_sticky(cudaError_t err) {
  switch (err) {
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchFailure:
    case cudaErrorIllegalInstruction:
    case cudaErrorMisalignedAddress:
    case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc:
    case cudaErrorHardwareStackError:
    case cudaErrorAssert:
    case cudaErrorLaunchTimeout:
      return true;
    default:
      return false;
  }
}

}  // namespace

void throw_error(const std::string& msg) {
  throw Error(msg);
}

void throw_cuda_error(cudaError_t err, const char* call, const char* file, int line) {
  std::string msg =
      fmt::format("CUDA error: {} at {}:{} failed with {} ({})", call, short_path(file), line,
                  cudaGetErrorName(err), cudaGetErrorString(err));
  if (is_sticky(err))
    msg +=
        "; a kernel faulted earlier (possibly not this call): the CUDA context is unusable. "
        "compute-sanitizer --tool memcheck names the kernel";
  throw Error(msg);
}

void throw_cublas_error(cublasStatus_t status, const char* call, const char* file, int line) {
  std::string name = "status " + std::to_string(static_cast<int>(status)), text = "?";
  try {  // loaded already when the status came from the library; a test may pass one directly
    const CublasLt& lt = cublaslt();
    name = lt.GetStatusName(status);
    text = lt.GetStatusString(status);
  } catch (const Error&) {
  }
  throw Error(fmt::format("cuBLASLt error: {} at {}:{} failed with {} ({})", call, short_path(file),
                          line, name, text));
}

bool device_available(std::string* why) {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    if (why) *why = fmt::format("{} ({})", cudaGetErrorName(err), cudaGetErrorString(err));
    cudaGetLastError();  // clear it, so that it does not surface at a later check
    return false;
  }
  if (count == 0) {
    if (why) *why = "no CUDA device";
    return false;
  }
  return true;
}

const DeviceInfo& current_device_info() {
  static std::mutex mu;
  static std::map<int, DeviceInfo> cache;  // by device ordinal (map: references stay valid)
  int dev = 0;
  ATTN_CUDA_CHECK(cudaGetDevice(&dev));
  std::lock_guard<std::mutex> lock(mu);
  DeviceInfo& info = cache[dev];
  if (info.sm_count == 0) {
    cudaDeviceProp prop{};
    ATTN_CUDA_CHECK(cudaGetDeviceProperties(&prop, dev));
    info.device = dev;
    info.sm_count = prop.multiProcessorCount;
    info.cc_major = prop.major;
    info.cc_minor = prop.minor;
    info.max_shared_per_block_optin = prop.sharedMemPerBlockOptin;
    info.name = prop.name;
  }
  return info;
}

}  // namespace attnscope::cuda

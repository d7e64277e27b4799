// Error checks for the CUDA runtime and cuBLASLt: a failing call throws attnscope::Error with the
// call's text, the source file and line, and the runtime's own name and description of the error,
// e.g. "CUDA error: cudaMalloc(&p, bytes) at kernels/cuda/device_allocator.cu:88 failed with
// cudaErrorMemoryAllocation (out of memory)". A kernel launch is checked with
// ATTN_CUDA_CHECK_LAUNCH("kernel name") right after it (cudaGetLastError: bad configuration,
// too much shared memory, no kernel image for this GPU).
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <sstream>
#include <string>

namespace attnscope::cuda {

// Throws attnscope::Error(msg). The .cu files (compiled by nvcc, which cannot include fmt) check
// their arguments with ATTN_CUDA_REQUIRE below, which ends here.
[[noreturn]] void throw_error(const std::string& msg);

[[noreturn]] void throw_cuda_error(cudaError_t err, const char* call, const char* file, int line);
[[noreturn]] void throw_cublas_error(cublasStatus_t status, const char* call, const char* file,
                                     int line);

// True when a CUDA device can be used; otherwise false and *why says what is missing (no driver,
// no device, …). Never throws: tests and the CLI call it to decide whether to run or skip.
bool device_available(std::string* why = nullptr);

// Properties read once per device and cached (multiprocessor count, shared memory per block).
struct DeviceInfo {
  int device = 0;
  int sm_count = 0;
  int cc_major = 0, cc_minor = 0;
  size_t max_shared_per_block_optin = 0;
  std::string name;
};
const DeviceInfo& current_device_info();

}  // namespace attnscope::cuda

// ATTN_CUDA_REQUIRE(cond, "a " << x << " message"): throws attnscope::Error with the message when
// cond fails (an ostream expression, for code that nvcc compiles).
#define ATTN_CUDA_REQUIRE(cond, message)              \
  do {                                                \
    if (!(cond)) {                                    \
      std::ostringstream attn_os_;                    \
      attn_os_ << message;                            \
      ::attnscope::cuda::throw_error(attn_os_.str()); \
    }                                                 \
  } while (0)

#define ATTN_CUDA_CHECK(call)                                                         \
  do {                                                                                \
    const cudaError_t attn_cuda_err_ = (call);                                        \
    if (attn_cuda_err_ != cudaSuccess)                                                \
      ::attnscope::cuda::throw_cuda_error(attn_cuda_err_, #call, __FILE__, __LINE__); \
  } while (0)

// After a kernel launch: the launch's own error (configuration, missing image), not an
// asynchronous fault of an earlier kernel (those surface at the next synchronising call).
#define ATTN_CUDA_CHECK_LAUNCH(kernel_name)                                                   \
  do {                                                                                        \
    const cudaError_t attn_cuda_err_ = cudaGetLastError();                                    \
    if (attn_cuda_err_ != cudaSuccess)                                                        \
      ::attnscope::cuda::throw_cuda_error(attn_cuda_err_, "launch of " kernel_name, __FILE__, \
                                          __LINE__);                                          \
  } while (0)

#define ATTN_CUBLAS_CHECK(call)                                                          \
  do {                                                                                   \
    const cublasStatus_t attn_cublas_st_ = (call);                                       \
    if (attn_cublas_st_ != CUBLAS_STATUS_SUCCESS)                                        \
      ::attnscope::cuda::throw_cublas_error(attn_cublas_st_, #call, __FILE__, __LINE__); \
  } while (0)

// The error checks name the call, the file and the line, and the runtime's error; the device
// query never throws. These run on machines without a GPU too (the runtime then fails every
// call, which is what they check).
#include <gtest/gtest.h>

#include <string>

#include "core/error.h"
#include "kernels/cuda/cublaslt_library.h"
#include "kernels/cuda/cuda_check.h"

namespace attnscope::cuda {
namespace {

TEST(CudaCheck, FailedCallNamesCallFileAndLineAndError) {
  std::string msg;
  try {
    void* p = nullptr;
    // An impossible request: fails with or without a GPU (no driver, or out of memory).
    ATTN_CUDA_CHECK(cudaMalloc(&p, ~size_t{0}));
    cudaFree(p);
  } catch (const Error& e) {
    msg = e.what();
  }
  ASSERT_FALSE(msg.empty()) << "cudaMalloc of 2^64 − 1 bytes did not fail";
  EXPECT_NE(msg.find("cudaMalloc(&p, ~size_t{0})"), std::string::npos) << msg;
  EXPECT_NE(msg.find("cuda_check_test.cc:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("cudaError"), std::string::npos) << msg;
  cudaGetLastError();
}

TEST(CudaCheck, CublasStatusIsNamed) {
  std::string msg;
  try {
    ATTN_CUBLAS_CHECK(CUBLAS_STATUS_INVALID_VALUE);
  } catch (const Error& e) {
    msg = e.what();
  }
  EXPECT_NE(msg.find("CUBLAS_STATUS_INVALID_VALUE"), std::string::npos) << msg;
  EXPECT_NE(msg.find("cuda_check_test.cc:"), std::string::npos) << msg;
}

// cuBLASLt is loaded on first use (dlopen), with or without a GPU, and every entry point is there.
TEST(CudaCheck, CublasLtLoadsOnFirstUse) {
  const CublasLt& lt = cublaslt();
  for (const void* fn :
       {reinterpret_cast<const void*>(lt.Create), reinterpret_cast<const void*>(lt.Destroy),
        reinterpret_cast<const void*>(lt.GetStatusName),
        reinterpret_cast<const void*>(lt.GetStatusString), reinterpret_cast<const void*>(lt.Matmul),
        reinterpret_cast<const void*>(lt.MatmulAlgoGetHeuristic),
        reinterpret_cast<const void*>(lt.MatmulDescCreate),
        reinterpret_cast<const void*>(lt.MatmulDescDestroy),
        reinterpret_cast<const void*>(lt.MatmulDescSetAttribute),
        reinterpret_cast<const void*>(lt.MatmulPreferenceCreate),
        reinterpret_cast<const void*>(lt.MatmulPreferenceDestroy),
        reinterpret_cast<const void*>(lt.MatmulPreferenceSetAttribute),
        reinterpret_cast<const void*>(lt.MatrixLayoutCreate),
        reinterpret_cast<const void*>(lt.MatrixLayoutDestroy)})
    EXPECT_NE(fn, nullptr);
  EXPECT_STREQ(lt.GetStatusName(CUBLAS_STATUS_NOT_SUPPORTED), "CUBLAS_STATUS_NOT_SUPPORTED");
  EXPECT_EQ(&cublaslt(), &lt);  // loaded once
}

TEST(CudaCheck, DeviceAvailableSaysWhyNot) {
  std::string why;
  if (device_available(&why)) {  // a GPU: its properties were read
    const DeviceInfo& info = current_device_info();
    EXPECT_GT(info.sm_count, 0);
    EXPECT_FALSE(info.name.empty());
    EXPECT_GE(info.cc_major, 7);
    return;
  }
  EXPECT_FALSE(why.empty());
}

}  // namespace
}  // namespace attnscope::cuda

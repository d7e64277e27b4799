// cuBLASLt, loaded (dlopen) when the first matrix product needs it rather than linked: the library
// is half a gigabyte, and a process that links it spends a tenth of a second and 200 MB of
// memory relocating it at start — every CPU-only run of a CUDA build would pay that. The table
// holds the entry points gemm.cpp calls, with cuBLASLt's own signatures.
#pragma once

#include <cublasLt.h>

namespace attnscope::cuda {

struct CublasLt {
  decltype(&::cublasLtCreate) Create = nullptr;
  decltype(&::cublasLtDestroy) Destroy = nullptr;
  decltype(&::cublasLtGetStatusName) GetStatusName = nullptr;
  decltype(&::cublasLtGetStatusString) GetStatusString = nullptr;
  decltype(&::cublasLtMatmul) Matmul = nullptr;
  decltype(&::cublasLtMatmulAlgoGetHeuristic) MatmulAlgoGetHeuristic = nullptr;
  decltype(&::cublasLtMatmulDescCreate) MatmulDescCreate = nullptr;
  decltype(&::cublasLtMatmulDescDestroy) MatmulDescDestroy = nullptr;
  decltype(&::cublasLtMatmulDescSetAttribute) MatmulDescSetAttribute = nullptr;
  decltype(&::cublasLtMatmulPreferenceCreate) MatmulPreferenceCreate = nullptr;
  decltype(&::cublasLtMatmulPreferenceDestroy) MatmulPreferenceDestroy = nullptr;
  decltype(&::cublasLtMatmulPreferenceSetAttribute) MatmulPreferenceSetAttribute = nullptr;
  decltype(&::cublasLtMatrixLayoutCreate) MatrixLayoutCreate = nullptr;
  decltype(&::cublasLtMatrixLayoutDestroy) MatrixLayoutDestroy = nullptr;
};

// The library, loaded on first use (thread-safe): libcublasLt.so.<major of the toolkit built
// against> from the usual search path, else beside the CUDA runtime the process loaded, else
// /usr/local/cuda/lib64. Throws attnscope::Error saying where it looked and why it failed.
const CublasLt& cublaslt();

}  // namespace attnscope::cuda

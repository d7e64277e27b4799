// Loading cuBLASLt (cublaslt_library.h).
#include "kernels/cuda/cublaslt_library.h"

#include <cuda_runtime.h>
#include <dlfcn.h>
#include <fmt/format.h>

#include <mutex>
#include <string>
#include <vector>

#include "core/error.h"

namespace attnscope::cuda {

namespace {

// The folder of the shared object that holds `symbol` ("" when unknown).
std::string folder_of(const void* symbol) {
  Dl_info info{};
  if (dladdr(symbol, &info) == 0 || info.dli_fname == nullptr) return {};
  const std::string path = info.dli_fname;
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

template <typename F>
void resolve(void* lib, F& fn, const char* name, const std::string& from) {
  dlerror();
  fn = reinterpret_cast<F>(dlsym(lib, name));
  if (fn == nullptr) fail("cuBLASLt: {} has no symbol {} ({})", from, name, dlerror());
}

CublasLt load() {
  const std::string soname = fmt::format("libcublasLt.so.{}", CUBLAS_VER_MAJOR);
  std::vector<std::string> tries = {soname};
  const std::string runtime_dir = folder_of(reinterpret_cast<const void*>(&cudaGetDeviceCount));
  if (!runtime_dir.empty()) tries.push_back(runtime_dir + "/" + soname);
  tries.push_back("/usr/local/cuda/lib64/" + soname);
  std::string errors;
  void* lib = nullptr;
  std::string from;
  for (const std::string& path : tries) {
    lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (lib != nullptr) {
      from = path;
      break;
    }
    const char* why = dlerror();
    errors += fmt::format("{}{}: {}", errors.empty() ? "" : "; ", path, why ? why : "?");
  }
  ATTN_CHECK(lib != nullptr,
             "cuBLASLt could not be loaded ({}): the CUDA toolkit's cuBLAS {} must be installed "
             "(or its folder on LD_LIBRARY_PATH)",
             errors, CUBLAS_VER_MAJOR);
  CublasLt t;
  resolve(lib, t.Create, "cublasLtCreate", from);
  resolve(lib, t.Destroy, "cublasLtDestroy", from);
  resolve(lib, t.GetStatusName, "cublasLtGetStatusName", from);
  resolve(lib, t.GetStatusString, "cublasLtGetStatusString", from);
  resolve(lib, t.Matmul, "cublasLtMatmul", from);
  resolve(lib, t.MatmulAlgoGetHeuristic, "cublasLtMatmulAlgoGetHeuristic", from);
  resolve(lib, t.MatmulDescCreate, "cublasLtMatmulDescCreate", from);
  resolve(lib, t.MatmulDescDestroy, "cublasLtMatmulDescDestroy", from);
  resolve(lib, t.MatmulDescSetAttribute, "cublasLtMatmulDescSetAttribute", from);
  resolve(lib, t.MatmulPreferenceCreate, "cublasLtMatmulPreferenceCreate", from);
  resolve(lib, t.MatmulPreferenceDestroy, "cublasLtMatmulPreferenceDestroy", from);
  resolve(lib, t.MatmulPreferenceSetAttribute, "cublasLtMatmulPreferenceSetAttribute", from);
  resolve(lib, t.MatrixLayoutCreate, "cublasLtMatrixLayoutCreate", from);
  resolve(lib, t.MatrixLayoutDestroy, "cublasLtMatrixLayoutDestroy", from);
  return t;  // the library stays loaded for the life of the process
}

}  // namespace

const CublasLt& cublaslt() {
  static std::mutex mu;
  static CublasLt table;
  static bool loaded = false;
  std::lock_guard<std::mutex> lock(mu);
  if (!loaded) {
    table = load();  // throws, leaving `loaded` false, when it cannot: the next call tries again
    loaded = true;
  }
  return table;
}

}  // namespace attnscope::cuda

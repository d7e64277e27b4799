// read_safetensors on any bytes: an Error or a file whose every tensor holds as many values as its
// shape says (and whose bytes were all inside the file).
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "fuzz_util.h"
#include "io/safetensors.h"

using namespace attnscope;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::init_limits();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fuzz::MemFile file({reinterpret_cast<const char*>(data), size});
  try {
    const SafetensorsFile f = read_safetensors(file.path());
    int64_t total = 0;
    for (const auto& [name, t] : f.tensors) {
      if (t.numel() != shape_numel(t.shape())) fuzz::broken("tensor " + name + " numel");
      total += t.numel();
      volatile float sink = 0;
      for (int64_t i = 0; i < t.numel(); ++i) sink = sink + t[i];  // every value is readable
    }
    if (total * 2 > static_cast<int64_t>(size)) fuzz::broken("more values than bytes");
  } catch (const Error&) {
  }
  return 0;
}

// Which attnscope binary is running, for checking that every rank of a run runs the same one:
// the GNU build id the linker wrote into the executable (a hash of its contents: equal for
// copies of one build, different for any other build), or, when the executable has none, a
// fingerprint of its bytes.
#pragma once

#include <string>

namespace attnscope {

// "build-id 9547fcf7…" or "sha… of /proc/self/exe" style text; equal strings mean the same
// binary.
std::string binary_identity();

}  // namespace attnscope

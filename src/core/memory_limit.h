// The cap on the memory attnscope's tensors may take, so that a config.json or a flag asking for
// more than the machine has is a clear error before the work starts, not an allocation without
// end, a swap storm or the kernel's OOM killer.
//
// The cap is this machine's memory (the smaller of the physical memory and the cgroup's
// memory.max) unless the user sets it: ATTNSCOPE_MAX_MEMORY (e.g. "64G", "512M", "none") or the
// CLI's --max-memory, for a machine with swap or a model that is known to fit. It is checked
//   - before a model is built: its parameters (ArchConfig::make_model),
//   - before a command's work: what it plans (training: weights, gradients, Adam's moments and
//     the largest batch's activations; decoding: the largest batch's beams),
//   - at every tensor allocation: the live bytes of every tensor together (Tensor::resize), so
//     that no estimate can be wrong by enough to run the machine out of memory.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace attnscope {

// The cap in bytes, and where it comes from ("this machine's memory", "ATTNSCOPE_MAX_MEMORY",
// "--max-memory"). A bad ATTNSCOPE_MAX_MEMORY is an attnscope::Error naming it.
int64_t memory_limit();
std::string memory_limit_source();
// Sets the cap (a flag's value); kNoMemoryLimit removes it.
void set_memory_limit(int64_t bytes, std::string source);
inline constexpr int64_t kNoMemoryLimit = INT64_MAX;

// "8G", "1.5T", "512M", "300k", "1000000" (bytes; binary units K/M/G/T = 2^10…2^40, an optional
// trailing "B" or "iB"), or "none"/"unlimited" → kNoMemoryLimit. Throws naming `what`.
int64_t parse_memory_size(std::string_view text, std::string_view what);
// "22.9 GiB", "512 MiB", "980 bytes".
std::string format_bytes(int64_t bytes);

// Throws attnscope::Error "<what> needs <bytes>: more than the memory cap of … (<source>);
// <hint>; ATTNSCOPE_MAX_MEMORY or --max-memory change the cap" when bytes exceed the cap.
void check_memory_plan(std::string_view what, int64_t bytes, std::string_view hint = {});

// Live tensor bytes (every Tensor's storage), and the accounting Tensor does through it: reserve
// throws (naming `shape`) when the live total would pass the cap.
int64_t tensor_bytes_live();
void reserve_tensor_bytes(int64_t bytes, std::string_view shape);
void release_tensor_bytes(int64_t bytes);

}  // namespace attnscope

#include "core/memory_limit.h"

#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <string>

#include "core/error.h"

namespace attnscope {

namespace {

struct Limit {
  int64_t bytes = 0;
  std::string source;
};

// The smaller of the physical memory and a cgroup (v2 or v1) limit, when there is one.
int64_t machine_memory() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  int64_t bytes = pages > 0 && page > 0 ? static_cast<int64_t>(pages) * page : kNoMemoryLimit;
  for (const char* path :
       {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}) {
    std::ifstream in(path);
    std::string text;
    if (!(in >> text) || text.empty() || !std::isdigit(static_cast<unsigned char>(text[0])))
      continue;
    char* end = nullptr;
    const unsigned long long v = std::strtoull(text.c_str(), &end, 10);
    if (*end == '\0' && v > 0 && v < static_cast<unsigned long long>(bytes))
      bytes = static_cast<int64_t>(v);
  }
  return bytes;
}

std::mutex g_mutex;
bool g_set = false;
Limit g_limit;

Limit current() {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (!g_set) {
    const char* env = std::getenv("ATTNSCOPE_MAX_MEMORY");
    if (env != nullptr && *env != '\0') {
      g_limit = {parse_memory_size(env, "ATTNSCOPE_MAX_MEMORY"), "ATTNSCOPE_MAX_MEMORY"};
    } else {
      g_limit = {machine_memory(), "this machine's memory"};
    }
    g_set = true;
  }
  return g_limit;
}

std::atomic<int64_t> g_live{0};

}  // namespace

int64_t memory_limit() {
  return current().bytes;
}

std::string memory_limit_source() {
  return current().source;
}

void set_memory_limit(int64_t bytes, std::string source) {
  ATTN_CHECK(bytes > 0, "the memory cap must be positive, got {}", bytes);
  std::lock_guard<std::mutex> lock(g_mutex);
  g_limit = {bytes, std::move(source)};
  g_set = true;
}

int64_t parse_memory_size(std::string_view text, std::string_view what) {
  std::string s(text);
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (s == "none" || s == "unlimited") return kNoMemoryLimit;
  const auto bad = [&] {
    fail(
        "{}: \"{}\" is not a memory size (examples: 64G, 512M, 1.5T, 1000000 bytes, or none for "
        "no cap)",
        what, text);
  };
  if (s.empty() || !(std::isdigit(static_cast<unsigned char>(s[0])) || s[0] == '.')) bad();
  char* end = nullptr;
  const double number = std::strtod(s.c_str(), &end);
  std::string unit(end);
  if (unit.ends_with("ib"))
    unit.resize(unit.size() - 2);
  else if (unit.size() > 1 && unit.ends_with("b"))
    unit.pop_back();
  else if (unit == "b")
    unit.clear();
  double scale = 1;
  if (unit == "k")
    scale = 0x1p10;
  else if (unit == "m")
    scale = 0x1p20;
  else if (unit == "g")
    scale = 0x1p30;
  else if (unit == "t")
    scale = 0x1p40;
  else if (!unit.empty())
    bad();
  const double bytes = number * scale;
  if (!std::isfinite(bytes) || bytes < 1) bad();
  if (bytes >= 0x1p62) return kNoMemoryLimit;
  return static_cast<int64_t>(bytes);
}

std::string format_bytes(int64_t bytes) {
  if (bytes >= kNoMemoryLimit) return "no limit";
  const char* units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) return fmt::format("{} bytes", bytes);
  double v = static_cast<double>(bytes) / 1024;
  size_t u = 0;
  while (v >= 1024 && u + 1 < std::size(units)) {
    v /= 1024;
    ++u;
  }
  return v >= 100 ? fmt::format("{:.0f} {}", v, units[u]) : fmt::format("{:.1f} {}", v, units[u]);
}

void check_memory_plan(std::string_view what, int64_t bytes, std::string_view hint) {
  const Limit limit = current();
  if (bytes <= limit.bytes) return;
  fail(
      "{} needs {}: more than the memory cap of {} ({}){}{}; ATTNSCOPE_MAX_MEMORY=SIZE or "
      "--max-memory SIZE change the cap",
      what, format_bytes(bytes), format_bytes(limit.bytes), limit.source, hint.empty() ? "" : "; ",
      hint);
}

int64_t tensor_bytes_live() {
  return g_live.load(std::memory_order_relaxed);
}

void reserve_tensor_bytes(int64_t bytes, std::string_view shape) {
  const int64_t limit = memory_limit();
  const int64_t before = g_live.fetch_add(bytes, std::memory_order_relaxed);
  if (bytes > limit || before > limit - bytes) {
    g_live.fetch_sub(bytes, std::memory_order_relaxed);
    const Limit l = current();
    fail(
        "cannot allocate a tensor of shape {} ({}): tensors would take {}, more than the memory "
        "cap of {} ({}); ATTNSCOPE_MAX_MEMORY=SIZE or --max-memory SIZE change the cap",
        shape, format_bytes(bytes),
        format_bytes(before > kNoMemoryLimit - bytes ? kNoMemoryLimit : before + bytes),
        format_bytes(l.bytes), l.source);
  }
}

void release_tensor_bytes(int64_t bytes) {
  g_live.fetch_sub(bytes, std::memory_order_relaxed);
}

}  // namespace attnscope

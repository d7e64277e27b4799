#include "io/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "core/atomic_file.h"
#include "core/checked_math.h"
#include "core/error.h"
#include "core/json_error.h"

namespace attnscope {

static_assert(std::endian::native == std::endian::little,
              "safetensors I/O assumes a little-endian host");

namespace {

using json = nlohmann::json;

constexpr uint64_t kMaxHeaderBytes = 100ull * 1000 * 1000;  // the reference reader's limit

std::string errno_str(int e) {
  return std::strerror(e);
}

// A short rendering of a JSON value for error messages.
std::string brief(const json& v) {
  std::string s = v.dump(-1, ' ', false, json::error_handler_t::replace);
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

void read_exact(const std::string& path, int fd, void* dst, uint64_t bytes, uint64_t offset) {
  auto* p = static_cast<char*>(dst);
  while (bytes > 0) {
    const size_t chunk = static_cast<size_t>(std::min<uint64_t>(bytes, 1ull << 30));
    const ssize_t got = ::pread(fd, p, chunk, static_cast<off_t>(offset));
    if (got < 0) {
      if (errno == EINTR) continue;
      fail("{}: read error at byte {}: {}", path, offset, errno_str(errno));
    }
    if (got == 0) fail("{}: unexpected end of file at byte {} (was it truncated?)", path, offset);
    p += got;
    bytes -= static_cast<uint64_t>(got);
    offset += static_cast<uint64_t>(got);
  }
}

enum class DType { kF32, kF64, kF16, kBF16, kI64, kI32, kU8, kBool };

struct DTypeInfo {
  const char* name;
  DType dtype;
  uint64_t size;
};

constexpr DTypeInfo kDTypes[] = {
    {"F32", DType::kF32, 4},   {"F64", DType::kF64, 8},   {"F16", DType::kF16, 2},
    {"BF16", DType::kBF16, 2}, {"I64", DType::kI64, 8},   {"I32", DType::kI32, 4},
    {"U8", DType::kU8, 1},     {"BOOL", DType::kBool, 1},
};

const DTypeInfo* find_dtype(const std::string& name) {
  for (const auto& d : kDTypes)
    if (name == d.name) return &d;
  return nullptr;
}

struct Entry {
  std::string name;
  const DTypeInfo* dtype = nullptr;
  Shape shape;
  uint64_t begin = 0, end = 0;
};

float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0x1f) {  // inf / nan
    bits = sign | 0x7f800000u | (mant << 13);
  } else if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400u) == 0);
      mant &= 0x3ffu;
      bits = sign | (static_cast<uint32_t>(127 - 15 - e) << 23) | (mant << 13);
    }
  } else {
    bits = sign | ((exp + (127 - 15)) << 23) | (mant << 13);
  }
  return std::bit_cast<float>(bits);
}

// An integer converts to fp32 exactly when its magnitude has at most 24 significant bits.
bool int_fits_float(int64_t v) {
  const uint64_t a = v < 0 ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
  if (a == 0) return true;
  return (a >> std::countr_zero(a)) < (1ull << 24);
}

template <typename T>
T load(const unsigned char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

void convert(const std::string& path, const Entry& e, const std::vector<unsigned char>& raw,
             float* out, int64_t n) {
  const unsigned char* p = raw.data();
  switch (e.dtype->dtype) {
    case DType::kF32:
      std::memcpy(out, p, static_cast<size_t>(n) * 4);
      break;
    case DType::kF64:
      for (int64_t i = 0; i < n; ++i) {
        const double v = load<double>(p + 8 * i);
        if (std::isfinite(v) &&
            std::fabs(v) > static_cast<double>(std::numeric_limits<float>::max()))
          fail("{}: tensor \"{}\": F64 value {} at index {} does not fit in fp32", path, e.name, v,
               i);
        out[i] = static_cast<float>(v);
      }
      break;
    case DType::kF16:
      for (int64_t i = 0; i < n; ++i) out[i] = half_to_float(load<uint16_t>(p + 2 * i));
      break;
    case DType::kBF16:
      for (int64_t i = 0; i < n; ++i)
        out[i] = std::bit_cast<float>(static_cast<uint32_t>(load<uint16_t>(p + 2 * i)) << 16);
      break;
    case DType::kI64:
      for (int64_t i = 0; i < n; ++i) {
        const int64_t v = load<int64_t>(p + 8 * i);
        if (!int_fits_float(v))
          fail("{}: tensor \"{}\": I64 value {} at index {} is not exactly representable in fp32",
               path, e.name, v, i);
        out[i] = static_cast<float>(v);
      }
      break;
    case DType::kI32:
      for (int64_t i = 0; i < n; ++i) {
        const int32_t v = load<int32_t>(p + 4 * i);
        if (!int_fits_float(v))
          fail("{}: tensor \"{}\": I32 value {} at index {} is not exactly representable in fp32",
               path, e.name, v, i);
        out[i] = static_cast<float>(v);
      }
      break;
    case DType::kU8:
      for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(p[i]);
      break;
    case DType::kBool:
      for (int64_t i = 0; i < n; ++i) {
        if (p[i] > 1)
          fail("{}: tensor \"{}\": BOOL byte {} at index {} is neither 0 nor 1", path, e.name,
               static_cast<int>(p[i]), i);
        out[i] = static_cast<float>(p[i]);
      }
      break;
  }
}

// A non-negative JSON integer, or nullopt.
std::optional<uint64_t> json_uint(const json& v) {
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer()) {
    const int64_t i = v.get<int64_t>();
    if (i >= 0) return static_cast<uint64_t>(i);
  }
  return std::nullopt;
}

Entry parse_entry(const std::string& path, const std::string& name, const json& v,
                  uint64_t data_size) {
  Entry e;
  e.name = name;
  ATTN_CHECK(v.is_object(), "{}: tensor \"{}\": entry must be a JSON object, got {}", path, name,
             brief(v));

  const auto dt = v.find("dtype");
  ATTN_CHECK(dt != v.end(), "{}: tensor \"{}\": missing \"dtype\"", path, name);
  ATTN_CHECK(dt->is_string(), "{}: tensor \"{}\": \"dtype\" must be a string, got {}", path, name,
             brief(*dt));
  e.dtype = find_dtype(dt->get<std::string>());
  ATTN_CHECK(e.dtype != nullptr,
             "{}: tensor \"{}\": unknown dtype \"{}\" (supported: F32, F64, F16, BF16, I64, I32, "
             "U8, BOOL)",
             path, name, dt->get<std::string>());

  const auto sh = v.find("shape");
  ATTN_CHECK(sh != v.end(), "{}: tensor \"{}\": missing \"shape\"", path, name);
  ATTN_CHECK(sh->is_array(),
             "{}: tensor \"{}\": \"shape\" must be a list of non-negative integers, got {}", path,
             name, brief(*sh));
  for (const json& d : *sh) {
    const auto u = json_uint(d);
    ATTN_CHECK(u.has_value() && *u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()),
               "{}: tensor \"{}\": \"shape\" must be a list of non-negative integers, got {}", path,
               name, brief(*sh));
    e.shape.push_back(static_cast<int64_t>(*u));
  }
  // The element count, checked even when a dimension is 0: [0, 2^40, 2^40] is no tensor either.
  int64_t numel = 0;
  ATTN_CHECK(checked_numel(e.shape, numel),
             "{}: tensor \"{}\": shape {} has too many elements (the product of its non-zero "
             "dimensions exceeds {})",
             path, name, shape_str(e.shape), kMaxElements);

  const auto off = v.find("data_offsets");
  ATTN_CHECK(off != v.end(), "{}: tensor \"{}\": missing \"data_offsets\"", path, name);
  ATTN_CHECK(off->is_array() && off->size() == 2 && json_uint((*off)[0]) && json_uint((*off)[1]),
             "{}: tensor \"{}\": \"data_offsets\" must be two non-negative integers [begin, end], "
             "got {}",
             path, name, brief(*off));
  e.begin = *json_uint((*off)[0]);
  e.end = *json_uint((*off)[1]);
  ATTN_CHECK(e.begin <= e.end, "{}: tensor \"{}\": data_offsets [{}, {}] has begin > end", path,
             name, e.begin, e.end);
  ATTN_CHECK(e.end <= data_size,
             "{}: tensor \"{}\": data_offsets [{}, {}] run past the end of the data buffer ({} "
             "bytes; is the file truncated?)",
             path, name, e.begin, e.end, data_size);

  // numel ≤ kMaxElements, so numel · (≤ 8 bytes) cannot overflow.
  const uint64_t bytes = static_cast<uint64_t>(numel) * e.dtype->size;
  ATTN_CHECK(bytes == e.end - e.begin,
             "{}: tensor \"{}\": data_offsets [{}, {}] span {} bytes but {} {} needs {}", path,
             name, e.begin, e.end, e.end - e.begin, e.dtype->name, shape_str(e.shape), bytes);
  return e;
}

}  // namespace

SafetensorsFile read_safetensors(const std::string& path) {
  struct stat st {};
  const int raw_fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (raw_fd < 0) fail("{}: cannot open safetensors file: {}", path, errno_str(errno));
  Fd fd(raw_fd);
  if (::fstat(fd.get(), &st) != 0) fail("{}: cannot stat: {}", path, errno_str(errno));
  ATTN_CHECK(S_ISREG(st.st_mode), "{}: not a regular file", path);
  const auto file_size = static_cast<uint64_t>(st.st_size);
  ATTN_CHECK(file_size >= 8,
             "{}: file is {} bytes, too short for a safetensors file (the header length alone is "
             "8 bytes)",
             path, file_size);

  unsigned char len_bytes[8];
  read_exact(path, fd.get(), len_bytes, 8, 0);
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | len_bytes[i];
  ATTN_CHECK(header_len <= kMaxHeaderBytes,
             "{}: header length {} is absurd (limit {} bytes); not a safetensors file?", path,
             header_len, kMaxHeaderBytes);
  ATTN_CHECK(header_len <= file_size - 8,
             "{}: header length {} is larger than the file ({} bytes after the length prefix)",
             path, header_len, file_size - 8);
  const uint64_t data_start = 8 + header_len;
  const uint64_t data_size = file_size - data_start;

  std::string header(static_cast<size_t>(header_len), '\0');
  read_exact(path, fd.get(), header.data(), header_len, 8);

  // Parse, noting the first duplicate key of any object (nlohmann would keep the last silently).
  std::vector<std::set<std::string>> open_objects;
  std::string duplicate;
  int duplicate_depth = 0;
  json j;
  try {
    j = json::parse(header, [&](int depth, json::parse_event_t ev, json& parsed) {
      if (ev == json::parse_event_t::object_start) {
        open_objects.emplace_back();
      } else if (ev == json::parse_event_t::object_end) {
        if (!open_objects.empty()) open_objects.pop_back();
      } else if (ev == json::parse_event_t::key && !open_objects.empty() && duplicate.empty()) {
        const std::string key = parsed.get<std::string>();
        if (!open_objects.back().insert(key).second) {
          duplicate = key;
          duplicate_depth = depth;
        }
      }
      return true;
    });
  } catch (const json::exception& e) {
    fail("{}: header is not valid JSON: {}", path, json_error_text(e));
  }
  ATTN_CHECK(j.is_object(), "{}: header must be a JSON object, got {}", path, brief(j));
  ATTN_CHECK(duplicate.empty(), "{}: duplicate {} \"{}\" in the header", path,
             duplicate_depth <= 1 ? "tensor name" : "key", duplicate);

  SafetensorsFile out;
  std::vector<Entry> entries;
  for (const auto& [name, v] : j.items()) {
    if (name == "__metadata__") {
      ATTN_CHECK(v.is_object(), "{}: \"__metadata__\" must be an object of strings, got {}", path,
                 brief(v));
      for (const auto& [k, mv] : v.items()) {
        ATTN_CHECK(mv.is_string(), "{}: metadata \"{}\" must be a string, got {}", path, k,
                   brief(mv));
        out.metadata[k] = mv.get<std::string>();
      }
      continue;
    }
    entries.push_back(parse_entry(path, name, v, data_size));
  }

  // No two tensors may share bytes.
  std::vector<const Entry*> by_offset;
  for (const auto& e : entries)
    if (e.end > e.begin) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(), [](const Entry* a, const Entry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const Entry& a = *by_offset[i - 1];
    const Entry& b = *by_offset[i];
    ATTN_CHECK(b.begin >= a.end,
               "{}: tensors \"{}\" (bytes [{}, {})) and \"{}\" (bytes [{}, {})) overlap", path,
               a.name, a.begin, a.end, b.name, b.begin, b.end);
  }

  std::vector<unsigned char> raw;
  for (const auto& e : entries) {
    Tensor t(e.shape);
    const uint64_t bytes = e.end - e.begin;
    if (bytes > 0) {
      if (e.dtype->dtype == DType::kF32) {
        read_exact(path, fd.get(), t.data(), bytes, data_start + e.begin);
      } else {
        raw.resize(static_cast<size_t>(bytes));
        read_exact(path, fd.get(), raw.data(), bytes, data_start + e.begin);
        convert(path, e, raw, t.data(), t.numel());
      }
    }
    out.tensors.emplace(e.name, std::move(t));
    out.dtypes.emplace(e.name, e.dtype->name);
  }
  return out;
}

void write_safetensors(const std::string& path,
                       const std::vector<std::pair<std::string, const Tensor*>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::string header = "{";
  try {
    if (!metadata.empty()) header += "\"__metadata__\":" + json(metadata).dump();
    std::set<std::string> seen;
    uint64_t offset = 0;
    for (const auto& [name, t] : tensors) {
      ATTN_CHECK(!name.empty(), "{}: cannot write a tensor with an empty name", path);
      ATTN_CHECK(name != "__metadata__", "{}: \"__metadata__\" is reserved, not a tensor name",
                 path);
      ATTN_CHECK(seen.insert(name).second, "{}: tensor \"{}\" given twice", path, name);
      ATTN_CHECK(t != nullptr, "{}: tensor \"{}\" is null", path, name);
      ATTN_CHECK(t->numel() == shape_numel(t->shape()),
                 "{}: tensor \"{}\" has no storage (default-constructed)", path, name);
      const uint64_t bytes = static_cast<uint64_t>(t->numel()) * 4;
      if (header.size() > 1) header += ',';
      header += json(name).dump();
      header += ":{\"dtype\":\"F32\",\"shape\":[";
      for (size_t i = 0; i < t->shape().size(); ++i) {
        if (i) header += ',';
        header += std::to_string(t->shape()[i]);
      }
      header += "],\"data_offsets\":[" + std::to_string(offset) + "," +
                std::to_string(offset + bytes) + "]}";
      offset += bytes;
    }
  } catch (const json::exception& e) {  // e.g. a name that is not valid UTF-8
    fail("{}: cannot encode the header: {}", path, json_error_text(e));
  }
  header += '}';
  header.append((8 - header.size() % 8) % 8, ' ');

  unsigned char len_bytes[8];
  uint64_t n = header.size();
  for (auto& b : len_bytes) {
    b = static_cast<unsigned char>(n & 0xff);
    n >>= 8;
  }
  AtomicFileWriter w(path);
  w.write(len_bytes, 8);
  w.write(header.data(), header.size());
  for (const auto& [name, t] : tensors)
    w.write(t->data(), static_cast<size_t>(t->numel()) * sizeof(float));
  w.commit();
}

}  // namespace attnscope

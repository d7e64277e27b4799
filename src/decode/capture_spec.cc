#include "decode/capture_spec.h"

#include <algorithm>
#include <charconv>
#include <sstream>

#include "core/error.h"

namespace attnscope {

bool CaptureSpec::wants(AttentionKind k) const {
  return std::find(kinds.begin(), kinds.end(), k) != kinds.end();
}

bool CaptureSpec::wants_layer(int64_t l) const {
  return layers.empty() || std::find(layers.begin(), layers.end(), l) != layers.end();
}

std::vector<int64_t> CaptureSpec::head_indices(int64_t H) const {
  std::vector<int64_t> out;
  if (heads.empty()) {
    for (int64_t h = 0; h < H; ++h) out.push_back(h);
    return out;
  }
  for (int64_t h : heads) {
    ATTN_CHECK(h >= 0 && h < H, "head {} does not exist: the model has {} heads (0–{})", h, H,
               H - 1);
    out.push_back(h);
  }
  return out;
}

CaptureReduction parse_reduction(const std::string& s) {
  if (s == "none") return CaptureReduction::kNone;
  if (s == "mean") return CaptureReduction::kMeanHeads;
  if (s == "max") return CaptureReduction::kMaxHeads;
  if (s == "last") return CaptureReduction::kLastRow;
  fail("unknown reduction \"{}\" (none, mean, max, last)", s);
}

const char* reduction_name(CaptureReduction r) {
  switch (r) {
    case CaptureReduction::kNone:
      return "none";
    case CaptureReduction::kMeanHeads:
      return "mean";
    case CaptureReduction::kMaxHeads:
      return "max";
    case CaptureReduction::kLastRow:
      return "last";
  }
  return "none";
}

namespace {
std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}
}  // namespace

std::vector<AttentionKind> parse_kinds(const std::string& s) {
  std::vector<AttentionKind> out;
  for (const auto& item : split_commas(s)) {
    auto k = attention_kind_from_name(item);
    ATTN_CHECK(k.has_value(), "unknown attention kind \"{}\" (encoder_self, decoder_self, cross)",
               item);
    out.push_back(*k);
  }
  ATTN_CHECK(!out.empty(), "no attention kind given");
  return out;
}

std::vector<int64_t> parse_indices(const std::string& s, const char* what) {
  std::vector<int64_t> out;
  for (const auto& item : split_commas(s)) {
    int64_t v = 0;
    const auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
    ATTN_CHECK(ec == std::errc() && end == item.data() + item.size() && v >= 0,
               "{}: \"{}\" is not an index (expected numbers like 0,2)", what, item);
    out.push_back(v);
  }
  return out;
}

}  // namespace attnscope

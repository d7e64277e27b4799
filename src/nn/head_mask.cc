#include "nn/head_mask.h"

#include <charconv>
#include <map>
#include <utility>

#include "core/error.h"

namespace attnscope {

namespace {

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    const size_t at = s.find(sep, start);
    out.push_back(
        s.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) return out;
    start = at + 1;
  }
}

// A non-negative integer or `*` (-1).
int64_t parse_index(std::string_view s, std::string_view what, std::string_view item,
                    std::string_view flag) {
  if (s == "*") return -1;
  int64_t v = -1;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  ATTN_CHECK(!s.empty() && ec == std::errc() && end == s.data() + s.size() && v >= 0,
             "{}: \"{}\": the {} \"{}\" is not a non-negative integer or *", flag, item, what, s);
  return v;
}

}  // namespace

std::vector<HeadMask> parse_head_masks(std::string_view spec, std::string_view flag) {
  std::vector<HeadMask> out;
  for (std::string_view item : split(spec, ',')) {
    ATTN_CHECK(!item.empty(), "{}: an empty item in \"{}\" (expected kind:layer:head,...)", flag,
               spec);
    const auto parts = split(item, ':');
    ATTN_CHECK(parts.size() == 3,
               "{}: \"{}\" is not kind:layer:head (e.g. cross:1:2 or encoder_self:0:*)", flag,
               item);
    const auto kind = attention_kind_from_name(parts[0]);
    ATTN_CHECK(kind.has_value(),
               "{}: \"{}\": unknown attention kind \"{}\" (encoder_self, decoder_self or cross)",
               flag, item, parts[0]);
    out.push_back({*kind, parse_index(parts[1], "layer", item, flag),
                   parse_index(parts[2], "head", item, flag)});
  }
  return out;
}

std::string head_mask_name(const HeadMask& m) {
  const auto index = [](int64_t i) { return i < 0 ? std::string("*") : std::to_string(i); };
  return std::string(attention_kind_name(m.kind)) + ":" + index(m.layer) + ":" + index(m.head);
}

void apply_head_masks(Seq2SeqModel& model, const std::vector<HeadMask>& masks,
                      std::string_view flag) {
  if (masks.empty()) return;
  const ModelInfo info = model.info();
  if (!info.head_gates) {
    try {
      model.head_gates(masks.front().kind, 0);  // the architecture's own reason
    } catch (const Error& e) {
      fail("{}: {}", flag, e.what());
    }
    fail("{}: this model has no head gates", flag);
  }
  // Every item checked before any gate changes: a bad one leaves the model as it was.
  std::map<std::pair<AttentionKind, int64_t>, std::vector<float>> gates;
  for (const HeadMask& m : masks) {
    const int64_t layers = model.num_layers(m.kind);
    ATTN_CHECK(layers > 0, "{}: {}: the model has no {} attention", flag, head_mask_name(m),
               attention_kind_name(m.kind));
    ATTN_CHECK(m.layer < layers, "{}: {}: no layer {} (the model's {} attention has layers 0–{})",
               flag, head_mask_name(m), m.layer, attention_kind_name(m.kind), layers - 1);
    ATTN_CHECK(m.head < info.heads, "{}: {}: no head {} (the model has heads 0–{})", flag,
               head_mask_name(m), m.head, info.heads - 1);
    for (int64_t l = m.layer < 0 ? 0 : m.layer; l < (m.layer < 0 ? layers : m.layer + 1); ++l) {
      auto& g = gates[{m.kind, l}];
      if (g.empty()) g = model.head_gates(m.kind, l);
      for (int64_t h = m.head < 0 ? 0 : m.head; h < (m.head < 0 ? info.heads : m.head + 1); ++h)
        g[static_cast<size_t>(h)] = 0.0f;
    }
  }
  for (auto& [where, g] : gates) model.set_head_gates(where.first, where.second, std::move(g));
}

}  // namespace attnscope

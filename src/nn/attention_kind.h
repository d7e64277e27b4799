// The three kinds of attention in an encoder–decoder Transformer.
#pragma once

#include <array>
#include <optional>
#include <string_view>

namespace attnscope {

enum class AttentionKind { kEncoderSelf, kDecoderSelf, kCross };

inline constexpr std::array<AttentionKind, 3> kAllAttentionKinds = {
    AttentionKind::kEncoderSelf, AttentionKind::kDecoderSelf, AttentionKind::kCross};

// "encoder_self", "decoder_self", "cross": the names used in every file attnscope writes.
constexpr std::string_view attention_kind_name(AttentionKind k) {
  switch (k) {
    case AttentionKind::kEncoderSelf:
      return "encoder_self";
    case AttentionKind::kDecoderSelf:
      return "decoder_self";
    case AttentionKind::kCross:
      return "cross";
  }
  return "?";
}

inline std::optional<AttentionKind> attention_kind_from_name(std::string_view s) {
  for (AttentionKind k : kAllAttentionKinds)
    if (attention_kind_name(k) == s) return k;
  return std::nullopt;
}

}  // namespace attnscope

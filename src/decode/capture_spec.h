// What attention to keep while decoding: which kinds, layers and heads, and an optional
// reduction — so the memory a capture takes grows with what is asked for, not with every map
// of every layer and head.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nn/attention_kind.h"

namespace attnscope {

enum class CaptureReduction {
  kNone,       // every selected head: [H, Tq, Tk]
  kMeanHeads,  // mean over the selected heads: [1, Tq, Tk]
  kMaxHeads,   // max over the selected heads: [1, Tq, Tk]
  kLastRow,    // only the last query row of each selected head: [H, 1, Tk]
};

// The default spec keeps everything: every kind, layer and head, no reduction.
struct CaptureSpec {
  std::vector<AttentionKind> kinds = {AttentionKind::kEncoderSelf, AttentionKind::kDecoderSelf,
                                      AttentionKind::kCross};
  std::vector<int64_t> layers;  // empty: all
  std::vector<int64_t> heads;   // empty: all
  CaptureReduction reduction = CaptureReduction::kNone;

  bool wants(AttentionKind k) const;
  bool wants_layer(int64_t l) const;
  // The selected head indices among H (throws attnscope::Error for one ≥ H).
  std::vector<int64_t> head_indices(int64_t H) const;
};

// "none" | "mean" | "max" | "last"; throws attnscope::Error for anything else.
CaptureReduction parse_reduction(const std::string& s);
// The name parse_reduction reads: "none", "mean", "max" or "last".
const char* reduction_name(CaptureReduction r);
// "encoder_self,cross" → kinds; "0,2" → indices. Errors name the bad item.
std::vector<AttentionKind> parse_kinds(const std::string& s);
std::vector<int64_t> parse_indices(const std::string& s, const char* what);

}  // namespace attnscope

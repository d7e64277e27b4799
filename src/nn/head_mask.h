// Switching attention heads off (`--mask-heads cross:1:2,encoder_self:0:*`): each item names a
// kind (attention_kind_name: encoder_self, decoder_self, cross), a layer and a head, `*` for
// every layer or head. A masked head's gate is 0 (MultiHeadAttention: its output is zeroed
// before W_O), so the model runs as if the head were pruned.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "nn/attention_kind.h"
#include "nn/seq2seq_model.h"

namespace attnscope {

struct HeadMask {
  AttentionKind kind = AttentionKind::kEncoderSelf;
  int64_t layer = -1;  // -1: every layer
  int64_t head = -1;   // -1: every head
};

// "kind:layer:head,..." → the items. Throws attnscope::Error naming `flag` and the bad item
// (unknown kind, a layer or head that is not a non-negative integer or `*`, an empty list).
std::vector<HeadMask> parse_head_masks(std::string_view spec, std::string_view flag);

// Sets gate 0 on every head the masks name (and 1 on the others of the layers they touch).
// Throws attnscope::Error naming `flag` when the model has no head gates (one head per
// attention, a model on a device) or a layer or head is out of the model's range — before any
// gate is changed.
void apply_head_masks(Seq2SeqModel& model, const std::vector<HeadMask>& masks,
                      std::string_view flag);

// "encoder_self:0:*"-style text of one item.
std::string head_mask_name(const HeadMask& m);

}  // namespace attnscope

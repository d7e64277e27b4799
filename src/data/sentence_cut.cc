#include "data/sentence_cut.h"

#include <algorithm>

namespace attnscope {

std::string_view text_for_tokens(std::string_view text, int64_t max_tokens) {
  const int64_t tokens = std::max<int64_t>(max_tokens, 1);
  const auto budget = static_cast<size_t>(std::min<int64_t>(tokens, INT64_MAX / kMaxBytesPerToken) *
                                          kMaxBytesPerToken);
  if (text.size() <= budget) return text;
  // The last space at or before the budget: the words before it are whole.
  const size_t space = text.find_last_of(" \t", budget);
  if (space != std::string_view::npos && space > 0) return text.substr(0, space);
  // One word longer than the budget: cut before the character the budget splits.
  size_t end = budget;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end);
}

}  // namespace attnscope

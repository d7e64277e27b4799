#include "data/text_tokenizer.h"

namespace attnscope {

std::vector<std::string> TextTokenizer::pieces(const std::vector<int32_t>& ids) const {
  std::vector<std::string> out;
  out.reserve(ids.size());
  for (const int32_t id : ids) out.push_back(piece(id));
  return out;
}

}  // namespace attnscope

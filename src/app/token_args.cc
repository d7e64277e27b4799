#include "app/token_args.h"

#include <algorithm>
#include <charconv>
#include <sstream>

#include "core/error.h"

namespace attnscope::app {

TokenBatch parse_token_rows(const std::vector<std::string>& rows, int32_t pad_id,
                            const std::string& what) {
  std::vector<std::vector<int32_t>> parsed;
  for (size_t r = 0; r < rows.size(); ++r) {
    std::istringstream in(rows[r]);
    std::vector<int32_t> ids;
    std::string word;
    while (in >> word) {
      int32_t id = 0;
      const auto [end, ec] = std::from_chars(word.data(), word.data() + word.size(), id);
      ATTN_CHECK(ec == std::errc() && end == word.data() + word.size(),
                 "{} #{}: \"{}\" is not a token id (expected integers separated by spaces)", what,
                 r + 1, word);
      ids.push_back(id);
    }
    ATTN_CHECK(!ids.empty(), "{} #{} is empty", what, r + 1);
    parsed.push_back(std::move(ids));
  }
  ATTN_CHECK(!parsed.empty(), "{} needs at least one sequence", what);
  TokenBatch b;
  b.rows = static_cast<int64_t>(parsed.size());
  for (const auto& ids : parsed)
    b.cols = std::max<int64_t>(b.cols, static_cast<int64_t>(ids.size()));
  b.ids.assign(static_cast<size_t>(b.rows * b.cols), pad_id);
  for (size_t r = 0; r < parsed.size(); ++r)
    std::copy(parsed[r].begin(), parsed[r].end(), b.ids.begin() + static_cast<int64_t>(r) * b.cols);
  return b;
}

}  // namespace attnscope::app

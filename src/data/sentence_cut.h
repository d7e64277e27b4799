// A sentence longer than a model can read is cut before it is tokenized, not after: tokenizing a
// 10 MB line to keep its first 255 tokens took minutes and more than a gigabyte.
//
// The cut keeps whole words: SentencePiece (and the tokenizers like it) never makes a piece
// across a space, so the tokens of the kept words are exactly the first tokens of the whole
// sentence. A piece covers at most kMaxBytesPerToken bytes (16 characters, SentencePiece's
// longest piece by default, of up to 4 bytes), so max_tokens · kMaxBytesPerToken bytes hold at
// least max_tokens tokens: the model sees the same first tokens it saw before the cut.
#pragma once

#include <cstdint>
#include <string_view>

namespace attnscope {

inline constexpr int64_t kMaxBytesPerToken = 64;

// `text` when it is at most max_tokens · kMaxBytesPerToken bytes long; else its beginning up to
// the last space within that many bytes (or, for one endless word, up to the last whole UTF-8
// character within them).
std::string_view text_for_tokens(std::string_view text, int64_t max_tokens);

}  // namespace attnscope

// A SentencePiece .model file is checked here before the library loads it: the library trusts
// the file, and a piece that is empty or starts with a NUL byte (found by the spm fuzz target)
// makes its trie builder throw an exception that ends the process. The file is a protobuf
// ModelProto; this reads its wire format (every length checked against the bytes there are) and
// the pieces in it.
#pragma once

#include <string>
#include <string_view>

namespace attnscope {

// Throws attnscope::Error naming `source` when `bytes` is not a well-formed ModelProto with at
// least one piece, or when a piece is empty, holds a NUL byte or is not valid UTF-8.
void check_spm_model(std::string_view bytes, const std::string& source);

}  // namespace attnscope

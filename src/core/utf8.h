// UTF-8 to code points and back, for text that is drawn or escaped character by character.
#pragma once

#include <string>
#include <string_view>

namespace attnscope {

// Decodes UTF-8; each malformed byte (also overlong forms, surrogates, values past U+10FFFF)
// becomes U+FFFD.
std::u32string decode_utf8(std::string_view s);
// Encodes code points; a surrogate or a value past U+10FFFF becomes U+FFFD.
std::string encode_utf8(std::u32string_view s);

}  // namespace attnscope

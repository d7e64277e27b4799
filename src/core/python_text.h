// Text the way Python sees it: BLEU and chrF (as sacreBLEU) and the Marian tokenizer (as Hugging
// Face's) must split and strip exactly as Python's str.split()/str.strip() do, which treat more
// than ASCII as whitespace.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace attnscope {

// Decodes the UTF-8 code point at s[i] into *cp and returns its length in bytes; a byte that
// does not start a valid sequence stands for itself (length 1).
size_t decode_utf8(std::string_view s, size_t i, char32_t* cp);

// Python's str.isspace(): what str.split() and str.rstrip() treat as whitespace.
bool is_python_space(char32_t c);

// Python's str.strip(): s without the is_python_space code points at either end.
std::string python_strip(std::string_view s);

}  // namespace attnscope

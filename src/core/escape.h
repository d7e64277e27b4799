// Text made safe for the places attnscope writes it into: HTML and SVG (XML) markup, and JSON
// inside an HTML <script> element. Tokens are user data ("</script>", "<s>", "&", "▁ção",
// malformed bytes): every page and picture escapes them here, once.
#pragma once

#include <string>
#include <string_view>

namespace attnscope {

// For text and attribute values in HTML and in XML (SVG): & < > " ' become &amp; &lt; &gt;
// &quot; &#39; (references both languages read). The result is one line of valid UTF-8: a tab
// becomes a space; malformed UTF-8, other control characters (newlines too) and the
// non-characters U+FFFE/U+FFFF become U+FFFD.
std::string escape_html(std::string_view text);

// Makes JSON text safe inside an HTML <script> element: '<', '>' and '&' (which valid JSON has
// only inside strings) become \u003c, \u003e, \u0026; U+2028/U+2029 become \u2028/\u2029.
std::string escape_json_for_script(std::string_view json);

}  // namespace attnscope

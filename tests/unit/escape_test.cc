// core/escape.h (markup and script escaping) and core/json_error.h (how JSON errors read).
#include "core/escape.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "core/json_error.h"

namespace attnscope {
namespace {

TEST(EscapeHtml, TheFiveMarkupCharactersBecomeReferences) {
  EXPECT_EQ(escape_html(R"(<a href="x">'&'</a>)"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  EXPECT_EQ(escape_html("</script><s>"), "&lt;/script&gt;&lt;s&gt;");
  // An entity in the input is text, not markup: its & is escaped too.
  EXPECT_EQ(escape_html("&amp;"), "&amp;amp;");
}

TEST(EscapeHtml, TextOutsideMarkupIsUnchanged) {
  EXPECT_EQ(escape_html(""), "");
  EXPECT_EQ(escape_html("▁ção é 😀 1993-10-12"), "▁ção é 😀 1993-10-12");
}

TEST(EscapeHtml, OutputIsOneLineOfValidUtf8) {
  EXPECT_EQ(escape_html("a\tb"), "a b");
  EXPECT_EQ(escape_html("a\nb\rc"),
            "a\xEF\xBF\xBD"
            "b\xEF\xBF\xBD"
            "c");  // U+FFFD
  EXPECT_EQ(escape_html(std::string("x\0y", 3)), "x\xEF\xBF\xBDy");
  EXPECT_EQ(escape_html("\x7F"), "\xEF\xBF\xBD");
  EXPECT_EQ(escape_html("bad\xFF"), "bad\xEF\xBF\xBD");    // a malformed byte
  EXPECT_EQ(escape_html("\xC3"), "\xEF\xBF\xBD");          // a truncated sequence
  EXPECT_EQ(escape_html("\xEF\xBF\xBE"), "\xEF\xBF\xBD");  // U+FFFE, not a character
}

TEST(EscapeJsonForScript, NothingCanCloseTheScriptElement) {
  EXPECT_EQ(escape_json_for_script(R"({"a":"</script><!--&"})"),
            R"({"a":"\u003c/script\u003e\u003c!--\u0026"})");
  EXPECT_EQ(escape_json_for_script("\"\xE2\x80\xA8\xE2\x80\xA9\""), "\"\\u2028\\u2029\"");
  EXPECT_EQ(escape_json_for_script("\"\xE2\x80\x94\""), "\"\xE2\x80\x94\"");  // an em dash stays
  // The escaped text is still the same JSON.
  const std::string json = R"({"tokens":["</script>","a&b","<s>"]})";
  EXPECT_EQ(nlohmann::json::parse(escape_json_for_script(json)), nlohmann::json::parse(json));
}

TEST(JsonErrorText, DropsTheLibraryPrefixKeepsLineAndReason) {
  try {
    const auto j = nlohmann::json::parse("{\n  \"a\": 1,,\n}");
    FAIL() << "no parse error: " << j;
  } catch (const nlohmann::json::exception& e) {
    const std::string text = json_error_text(e);
    EXPECT_EQ(text.find("[json.exception"), std::string::npos) << text;
    EXPECT_EQ(text.rfind("parse error at line 2", 0), 0u) << text;
  }
  try {
    const auto j = nlohmann::json::object().at("step");
    FAIL() << "no error: " << j;
  } catch (const nlohmann::json::exception& e) {
    EXPECT_EQ(json_error_text(e), "key 'step' not found");
  }
  // Any other exception reads as it is.
  EXPECT_EQ(json_error_text(std::runtime_error("[not json] x")), "[not json] x");
}

}  // namespace
}  // namespace attnscope

// The attention viewer page: self-contained (no URL to fetch anything from), the payload embedded
// so that JSON.parse gets it back exactly, and "</script>" in a token unable to end the script.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <string>

#include "core/error.h"
#include "inspect/html_viewer.h"

namespace attnscope {
namespace {

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + what.size())) ++n;
  return n;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The text between <script type="application/json" id="attnscope-data"> and </script>.
std::string data_block(const std::string& page) {
  const std::string open = R"(<script type="application/json" id="attnscope-data">)";
  const size_t a = page.find(open);
  if (a == std::string::npos) return "";
  const size_t b = page.find("</script>", a + open.size());
  if (b == std::string::npos) return "";
  return page.substr(a + open.size(), b - a - open.size());
}

nlohmann::json payload(const std::vector<std::string>& src, const std::vector<std::string>& tgt) {
  auto maps = [](size_t q, size_t k) {
    nlohmann::json layer = nlohmann::json::array();
    for (int h = 0; h < 2; ++h) {
      nlohmann::json head = nlohmann::json::array();
      for (size_t i = 0; i < q; ++i) {
        nlohmann::json row = nlohmann::json::array();
        for (size_t j = 0; j < k; ++j) row.push_back(1.0 / static_cast<double>(k));
        head.push_back(row);
      }
      layer.push_back(head);
    }
    return nlohmann::json::array({layer});
  };
  return {{"source", "a b"},
          {"translation", "x y"},
          {"source_tokens", src},
          {"target_tokens", tgt},
          {"weights",
           {{"encoder_self", maps(src.size(), src.size())},
            {"decoder_self", maps(tgt.size(), tgt.size())},
            {"cross", maps(tgt.size(), src.size())}}}};
}

TEST(HtmlViewer, IsOneSelfContainedPage) {
  const std::string page =
      attention_html(payload({"▁a", "▁b", "</s>"}, {"<s>", "▁x", "▁y"}).dump(), "demo");
  EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(page.find("</html>"), std::string::npos);
  // Nothing to fetch: no URL anywhere, no src= at all, no external stylesheet.
  const std::string l = lower(page);
  EXPECT_EQ(l.find("http://"), std::string::npos);
  EXPECT_EQ(l.find("https://"), std::string::npos);
  EXPECT_EQ(l.find("//cdn"), std::string::npos);
  EXPECT_FALSE(std::regex_search(l, std::regex(R"(<script[^>]*\ssrc\s*=)")));
  EXPECT_FALSE(std::regex_search(l, std::regex(R"(<link[^>]*rel\s*=\s*"?stylesheet)")));
  EXPECT_FALSE(std::regex_search(l, std::regex(R"(@import)")));
  const std::regex ref(R"((src|href)\s*=\s*"([^"]*)\")");
  for (std::sregex_iterator it(l.begin(), l.end(), ref), end; it != end; ++it)
    EXPECT_EQ((*it)[2].str().rfind("data:", 0), 0u) << "page refers to " << (*it)[0].str();
  // The style and the script are inline, and the template markers are all filled.
  EXPECT_NE(page.find("<style>"), std::string::npos);
  EXPECT_NE(page.find("createElementNS"), std::string::npos);
  EXPECT_EQ(page.find("{{CSS}}"), std::string::npos);
  EXPECT_EQ(page.find("{{JS}}"), std::string::npos);
  EXPECT_EQ(page.find("{{PAYLOAD}}"), std::string::npos);
  EXPECT_EQ(page.find("{{CONFIG}}"), std::string::npos);
  EXPECT_EQ(page.find("{{TITLE}}"), std::string::npos);
  EXPECT_NE(page.find("<title>demo</title>"), std::string::npos);
  // Exactly three scripts (config, data, code), each closed once.
  EXPECT_EQ(count(l, "<script"), 3u);
  EXPECT_EQ(count(l, "</script"), 3u);
}

TEST(HtmlViewer, EmbedsThePayloadExactly) {
  const nlohmann::json p = payload({"▁ter", "ça", "</s>"}, {"<s>", "▁1", "9"});
  const std::string page = attention_html(p.dump(), "t");
  const std::string block = data_block(page);
  ASSERT_FALSE(block.empty());
  // What the browser's JSON.parse will see is the payload itself.
  EXPECT_EQ(nlohmann::json::parse(block), p);
  EXPECT_NE(page.find("\"▁ter\""), std::string::npos);  // UTF-8 kept as it is
}

TEST(HtmlViewer, EscapesScriptEndInTokensAndTitle) {
  const std::vector<std::string> evil = {"</script>", "<!--", "</SCRIPT >", "a&b", "\xE2\x80\xA8"};
  const nlohmann::json p = payload(evil, {"<s>", "<script>alert(1)</script>"});
  const std::string page = attention_html(p.dump(), "</title><script>bad()</script>");
  // Still exactly three scripts: the tokens could not open or close one.
  const std::string l = lower(page);
  EXPECT_EQ(count(l, "<script"), 3u);
  EXPECT_EQ(count(l, "</script"), 3u);
  EXPECT_EQ(l.find("<!--", l.find("<body")), std::string::npos);
  EXPECT_NE(page.find("\\u003c/script\\u003e"), std::string::npos);
  EXPECT_NE(page.find("<title>&lt;/title&gt;&lt;script&gt;bad()&lt;/script&gt;</title>"),
            std::string::npos);
  EXPECT_EQ(nlohmann::json::parse(data_block(page)), p);
}

TEST(HtmlViewer, RejectsWhatIsNotAnAttentionPayload) {
  EXPECT_THROW(attention_html("{not json", "t"), Error);
  EXPECT_THROW(attention_html("[1, 2]", "t"), Error);
  EXPECT_THROW(attention_html(R"({"source_tokens": [], "target_tokens": []})", "t"), Error);
  try {
    attention_html(R"({"source_tokens": [], "weights": {}})", "t");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("target_tokens"), std::string::npos) << e.what();
  }
}

TEST(HtmlViewer, LivePageHasTheFormAndNoPayload) {
  const std::string page = attention_live_html("live", 500, 8);
  EXPECT_EQ(data_block(page), "null");
  EXPECT_NE(page.find(R"("max_chars":500)"), std::string::npos);
  EXPECT_NE(page.find(R"("mode":"live")"), std::string::npos);
  EXPECT_NE(page.find("id=\"live-text\""), std::string::npos);
  const std::string l = lower(page);
  EXPECT_EQ(l.find("http://"), std::string::npos);
  EXPECT_EQ(l.find("https://"), std::string::npos);
}

}  // namespace
}  // namespace attnscope

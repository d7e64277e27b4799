// The serve API as a function of the request (app/serve_api.h): every client mistake is a 4xx
// with a message that shows what was sent, never a 5xx; and request_extent (app/http_server.h),
// which decides when a request has fully arrived and which ones are answered at once.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "app/http_server.h"
#include "app/serve_api.h"

namespace attnscope {
namespace {

using app::HttpReply;
using app::ServeLimits;

std::string error_of(const app::HttpReply& r) {
  const auto j = nlohmann::json::parse(r.body, nullptr, false);
  return j.is_object() && j.contains("error") ? j["error"].get<std::string>() : "(no error)";
}

// parse_translate_request's answer to a body: the error reply it throws, or 200.
HttpReply parse(const std::string& body, ServeLimits limits = {}) {
  try {
    app::parse_translate_request(body, limits);
  } catch (HttpReply& r) {
    return r;
  }
  return HttpReply{};
}

TEST(ServeApiRequests, ClientMistakesAre4xxNamingWhatWasSent) {
  struct Case {
    std::string body;
    int status;
    std::string says;
  };
  const std::vector<Case> cases = {
      {R"({"text": "x", "beam": 1e400})", 400, "malformed JSON: number overflow parsing '1e400'"},
      {R"({"text": "x", "beam": 18446744073709551615})", 400,
       "\"beam\" is 18446744073709551615; it must be an integer from 1 to 8"},
      {R"({"text": "x", "beam": 99999999999999999999999})", 400,
       "\"beam\" is 9.999999999999999e+22"},
      {R"({"text": "x", "beam": -3})", 400, "\"beam\" is -3;"},
      {R"({"text": "x", "beam": 2.0})", 400, "\"beam\" is 2.0;"},
      {R"({"text": "x", "beam": true})", 400, "\"beam\" is true;"},
      {R"({"text": "x", "beam": null})", 400, "\"beam\" is null;"},
      {R"({"text": ["x"]})", 400, "\"text\" must be a string, got [\"x\"]"},
      {R"({"text": "x", "bean": 2})", 400, "unknown key \"bean\""},
      {R"({"text": "\u0000\u0007\n"})", 400, "\"text\" is empty"},
      {R"({"text": "x"} trailing)", 400, "malformed JSON"},
      {std::string(20, '[') + std::string(20, ']'), 400, "expected a JSON object"},
      {"{\"text\": \"\xC3\x28\"}", 400, "not valid UTF-8"},
      {R"({"text": "\udc00"})", 400, "malformed JSON"},
      {std::string(17 * 1024, ' '), 413, "larger than 16384 bytes"},
  };
  for (const Case& c : cases) {
    const HttpReply r = parse(c.body);
    EXPECT_EQ(r.status, c.status) << c.body.substr(0, 60) << " → " << r.body;
    EXPECT_NE(error_of(r).find(c.says), std::string::npos)
        << c.body.substr(0, 60) << " → " << error_of(r);
  }
  EXPECT_EQ(parse(R"({"text": "o gato", "beam": 8})").status, 200);
  ServeLimits small;
  small.max_chars = 3;
  EXPECT_EQ(error_of(parse(R"({"text": "\u00e9\u00e9\u00e9\u00e9"})", small)),
            "\"text\" has 4 characters; this server accepts at most 3");
  const auto r = app::parse_translate_request("{\"text\": \"a\\tb\\nc\"}", ServeLimits{});
  EXPECT_EQ(r.text, "a b c");
  EXPECT_FALSE(r.decode.beam.has_value());  // not sent: the model's default
  EXPECT_FALSE(r.decode.max_new_tokens.has_value());
  const auto m = app::parse_translate_request(R"({"text": "x", "beam": 3, "max_new_tokens": 7})",
                                              ServeLimits{});
  EXPECT_EQ(m.decode.beam, 3);
  EXPECT_EQ(m.decode.max_new_tokens, 7);
  for (const char* bad :
       {R"({"text": "x", "max_new_tokens": 0})", R"({"text": "x", "max_new_tokens": 1e400})",
        R"({"text": "x", "max_new_tokens": "5"})"})
    EXPECT_EQ(parse(bad).status, 400) << bad;
}

TEST(ServeApiRoutes, EveryPathAndMethodGetsAJsonAnswer) {
  ServeLimits limits;
  app::ServeApi api(std::string(ATTNSCOPE_TEST_DATA) + "/tiny_dates_model", limits);
  EXPECT_EQ(api.handle("GET", "/", "").status, 200);
  EXPECT_EQ(api.handle("HEAD", "/", "").status, 200);
  const HttpReply health = api.handle("GET", "/api/health", "");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(nlohmann::json::parse(health.body)["max_beam"], 8);
  const HttpReply t = api.handle("POST", "/api/translate", R"({"text": "9 de outubro de 1993"})");
  ASSERT_EQ(t.status, 200) << t.body;
  EXPECT_EQ(nlohmann::json::parse(t.body)["translation"], "1993-10-09");
  // A value the model refuses (more tokens than its positions) is the client's mistake: 400.
  const HttpReply long_ask =
      api.handle("POST", "/api/translate", R"({"text": "9 de outubro", "max_new_tokens": 100000})");
  EXPECT_EQ(long_ask.status, 400) << long_ask.body;
  HttpReply r = api.handle("GET", "/api/translate", "");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(error_of(r), "\"GET\" \"/api/translate\" is not allowed here");
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].second, "POST");
  r = api.handle("DELETE", "/api/health", "");
  EXPECT_EQ(r.status, 405);
  r = api.handle("GET", "/no/such\xFF", "");
  EXPECT_EQ(r.status, 404);
  EXPECT_TRUE(nlohmann::json::accept(r.body)) << r.body;  // the client's bytes, escaped
  EXPECT_EQ(api.error_reply(413, "POST", "/api/translate").status, 413);
  EXPECT_EQ(error_of(api.error_reply(400, "", "")), "the request is not valid HTTP");
}

TEST(HttpServerRequests, ExtentIsKnownOnlyOnceTheRequestArrived) {
  using app::request_extent;
  const size_t kMax = 1024;
  const std::string head = "POST /api/translate HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n";
  EXPECT_EQ(request_extent("GET / HTTP/1.1\r\nHost: x\r\n", kMax, kMax).end, 0u);  // headers go on
  EXPECT_EQ(request_extent("GET / HTTP/1.1\r\nHost: x\r\n\r\n", kMax, kMax).end, 27u);
  EXPECT_EQ(request_extent("GET / HTTP/1.0\n\n", kMax, kMax).end, 16u);  // bare newlines
  EXPECT_EQ(request_extent(head + "abc", kMax, kMax).end, 0u);  // the body is not all there
  EXPECT_EQ(request_extent(head + "abcde", kMax, kMax).end, head.size() + 5);
  EXPECT_EQ(request_extent(head + "abcdeGET", kMax, kMax).end, head.size() + 5);  // pipelined
  // Answered at once: a length that is no number (400), a chunked body (411), headers too large
  // (431); a body announced over the limit ends the request with its headers (httplib answers
  // 413 without reading it).
  EXPECT_EQ(request_extent("POST / HTTP/1.1\r\nContent-Length: -5\r\n\r\n", kMax, kMax).status,
            400);
  EXPECT_EQ(
      request_extent("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", kMax, kMax).status,
      411);
  EXPECT_EQ(request_extent("GET / HTTP/1.1\r\nX: " + std::string(2000, 'a'), kMax, kMax).status,
            431);
  const std::string big = "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n";
  app::RequestExtent x = request_extent(big, kMax, kMax);
  EXPECT_EQ(x.end, big.size());
  EXPECT_TRUE(x.skip_body);
  const std::string over = "POST / HTTP/1.1\r\ncontent-length:  2000 \r\n\r\n";
  x = request_extent(over, kMax, kMax);
  EXPECT_EQ(x.end, over.size());
  EXPECT_TRUE(x.skip_body);
}

}  // namespace
}  // namespace attnscope

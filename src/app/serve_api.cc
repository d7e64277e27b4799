#include "app/serve_api.h"

#include <fmt/core.h>
#include <httplib.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/json_error.h"
#include "data/corpus.h"
#include "decode/generation.h"
#include "decode/translate.h"
#include "inspect/attention_export.h"
#include "inspect/html_viewer.h"

namespace attnscope::app {

namespace {

HttpReply json_reply(int status, const nlohmann::json& body) {
  HttpReply r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  return r;
}

HttpReply error(int status, const std::string& message) {
  return json_reply(status, {{"error", message}});
}

// A JSON value as the client wrote it (numbers keep their digits), cut for a message.
std::string shown(const nlohmann::json& v) {
  std::string s = v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (s.size() > 40) s = s.substr(0, 37) + "...";
  return s;
}

size_t count_code_points(std::string_view s) {
  size_t n = 0;
  for (const char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

std::string_view reason(int status) {
  switch (status) {
    case 400:
      return "the request is not valid HTTP";
    case 404:
      return "no such page";
    case 405:
      return "method not allowed";
    case 413:
      return "the request is too large";
    case 414:
      return "the request line is too long";
    case 431:
      return "the request headers are too large";
    default:
      return "HTTP error";
  }
}

}  // namespace

TranslateRequest parse_translate_request(std::string_view body, const ServeLimits& limits) {
  if (body.size() > limits.max_body_bytes)
    throw error(413,
                fmt::format("the request body is larger than {} bytes", limits.max_body_bytes));
  if (!is_valid_utf8(std::string(body))) throw error(400, "the request body is not valid UTF-8");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(body);
  } catch (const nlohmann::json::exception& e) {
    // Syntax errors, and numbers a double cannot hold ("beam": 1e400): the client's either way.
    throw error(400, fmt::format("malformed JSON: {}", json_error_text(e)));
  }
  if (!j.is_object())
    throw error(400, R"(expected a JSON object such as {"text": "...", "beam": 1})");
  for (const auto& item : j.items())
    if (item.key() != "text" && item.key() != "beam" && item.key() != "max_new_tokens")
      throw error(
          400,
          fmt::format(R"(unknown key {}: the request takes "text", "beam" and "max_new_tokens")",
                      shown(nlohmann::json(item.key()))));
  if (!j.contains("text")) throw error(400, R"(missing "text": the sentence to translate)");
  const nlohmann::json& t = j["text"];
  if (!t.is_string()) throw error(400, fmt::format(R"("text" must be a string, got {})", shown(t)));
  TranslateRequest r;
  r.text = t.get<std::string>();
  if (!is_valid_utf8(r.text)) throw error(400, R"("text" is not valid UTF-8)");
  // One sentence: line breaks, tabs and other control characters are spaces.
  for (char& c : r.text)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = ' ';
  if (r.text.find_first_not_of(' ') == std::string::npos)
    throw error(400, R"("text" is empty: give a sentence to translate)");
  const size_t chars = count_code_points(r.text);
  if (chars > static_cast<size_t>(limits.max_chars))
    throw error(400, fmt::format(R"("text" has {} characters; this server accepts at most {})",
                                 chars, limits.max_chars));
  // An integer from 1 to hi, as JSON holds it (unsigned above 2^63, a double for 1e400 or 2.5).
  const auto integer_in = [](const nlohmann::json& v, int64_t hi) {
    return (v.is_number_unsigned() && v.get<uint64_t>() >= 1 &&
            v.get<uint64_t>() <= static_cast<uint64_t>(hi)) ||
           (v.is_number_integer() && !v.is_number_unsigned() && v.get<int64_t>() >= 1 &&
            v.get<int64_t>() <= hi);
  };
  if (j.contains("beam")) {
    const nlohmann::json& b = j["beam"];
    if (!integer_in(b, limits.max_beam))
      throw error(400, fmt::format(R"("beam" is {}; it must be an integer from 1 to {})", shown(b),
                                   limits.max_beam));
    r.decode.beam = b.get<int64_t>();
  }
  if (j.contains("max_new_tokens")) {
    const nlohmann::json& m = j["max_new_tokens"];
    constexpr int64_t kMostTokens = int64_t{1} << 20;  // the model's positions decide below
    if (!integer_in(m, kMostTokens))
      throw error(
          400, fmt::format(R"("max_new_tokens" is {}; it must be a positive integer)", shown(m)));
    r.decode.max_new_tokens = m.get<int64_t>();
  }
  return r;
}

ServeApi::ServeApi(const std::string& model_dir, ServeLimits limits, const DeviceArgs& device)
    : model_dir_(model_dir), limits_(limits) {
  ATTN_CHECK(limits_.max_chars >= 1 && limits_.max_beam >= 1 && limits_.max_body_bytes >= 1,
             "serve: the limits must be positive");
  model_ = load_model_on(model_dir, device);
  tok_ = load_tokenizers(model_dir);
  const std::string name = std::filesystem::path(model_dir).filename().string();
  page_ = attention_live_html("attnscope · " + (name.empty() ? model_dir : name), limits_.max_chars,
                              limits_.max_beam);
}

HttpReply ServeApi::health() const {
  const ModelInfo info = model_->info();
  nlohmann::json j = {{"status", "ok"},
                      {"model", model_dir_},
                      {"arch", info.arch},
                      {"encoder_layers", model_->num_layers(AttentionKind::kEncoderSelf)},
                      {"decoder_layers", model_->num_layers(AttentionKind::kCross)},
                      {"heads", info.heads},
                      {"max_chars", limits_.max_chars},
                      {"max_beam", limits_.max_beam},
                      {"device", info.device},
                      {"default_beam", decode_options_for(info, {}).beam}};
  if (info.d_model > 0) j["d_model"] = info.d_model;
  if (info.generation) j["generation"] = info.generation->summary();
  return json_reply(200, j);
}

HttpReply ServeApi::translate(std::string_view body) {
  TranslateRequest req;
  try {
    req = parse_translate_request(body, limits_);
  } catch (HttpReply& bad) {
    return std::move(bad);
  }
  TranslateOptions opt;
  const ModelInfo info = model_->info();
  req.decode.nbest = 1;
  try {  // what depends on the model: max_new_tokens within its positions, …
    opt.decode = decode_options_for(info, req.decode);
  } catch (const Error& e) {
    return error(400, e.what());
  }
  if (opt.decode.hf) {  // Hugging Face's rules refuse a source longer than the positions
    const size_t n = tok_.src->encode(req.text).size() + 1;
    if (static_cast<int64_t>(n) > info.max_len)
      return error(400, fmt::format(R"("text" is {} tokens with </s>; the model takes {})", n,
                                    info.max_len));
  }
  opt.decode.capture.emplace();
  opt.batch_sentences = 1;
  std::vector<Translation> out;
  try {
    std::lock_guard<std::mutex> lock(mu_);
    out = translate_sentences(*model_, *tok_.src, *tok_.tgt, {req.text}, opt);
  } catch (const Error& e) {
    return error(500, fmt::format("translation failed: {}", e.what()));
  }
  if (out.size() != 1) return error(500, "the model returned no translation");
  HttpReply r;
  r.body = attention_json(out.front());
  return r;
}

HttpReply ServeApi::handle(std::string_view method, std::string_view path, std::string_view body) {
  struct Route {
    std::string_view path, method;
  };
  static constexpr Route kRoutes[] = {
      {"/", "GET"}, {"/favicon.ico", "GET"}, {"/api/health", "GET"}, {"/api/translate", "POST"}};
  const bool head = method == "HEAD";
  const std::string_view as = head ? std::string_view("GET") : method;
  const Route* route = nullptr;
  for (const Route& r : kRoutes)
    if (r.path == path) route = &r;
  if (route == nullptr) return error_reply(404, method, path);
  if (route->method != as) {
    HttpReply r = error_reply(405, method, path);
    r.headers.emplace_back("Allow",
                           route->method == "GET" ? "GET, HEAD" : std::string(route->method));
    return r;
  }
  if (path == "/") {
    HttpReply r;
    r.content_type = "text/html; charset=utf-8";
    r.body = page_;
    r.headers.emplace_back("Cache-Control", "no-store");
    return r;
  }
  if (path == "/favicon.ico") {
    HttpReply r;
    r.status = 204;
    r.content_type.clear();
    return r;
  }
  if (path == "/api/health") return health();
  return translate(body);
}

HttpReply ServeApi::error_reply(int status, std::string_view method, std::string_view path) const {
  // Paths and methods are the client's bytes: shown through JSON's escaping, cut.
  const std::string where = fmt::format("{} {}", shown(nlohmann::json(std::string(method))),
                                        shown(nlohmann::json(std::string(path.substr(0, 200)))));
  switch (status) {
    case 404:
      return error(404, fmt::format("no such page: {}", where));
    case 405:
      return error(405, fmt::format("{} is not allowed here", where));
    case 413:
      return error(413,
                   fmt::format("the request body is larger than {} bytes", limits_.max_body_bytes));
    default:
      return error(status, std::string(reason(status)));
  }
}

void install_routes(httplib::Server& server, ServeApi& api) {
  const auto route = [&api](const httplib::Request& req, httplib::Response& res) {
    HttpReply r = api.handle(req.method, req.path, req.body);
    res.status = r.status;
    for (auto& [name, value] : r.headers) res.set_header(name, value);
    if (!r.content_type.empty()) res.set_content(std::move(r.body), r.content_type);
  };
  // Every method on every path: ServeApi decides (404, 405), so httplib's own answers never
  // reach a client without a JSON body.
  server.Get(".*", route);
  server.Post(".*", route);
  server.Put(".*", route);
  server.Patch(".*", route);
  server.Delete(".*", route);
  server.Options(".*", route);
  server.set_payload_max_length(api.limits().max_body_bytes);
  server.set_error_handler(httplib::Server::HandlerWithResponse(
      [&api](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        HttpReply r = api.error_reply(res.status, req.method, req.path);
        res.set_content(std::move(r.body), r.content_type);
        return httplib::Server::HandlerResponse::Handled;
      }));
  server.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string message = "internal error";
        try {
          std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          message = fmt::format("internal error: {}", e.what());
        } catch (...) {
        }
        const HttpReply r = error(500, message);
        res.status = 500;
        res.set_content(r.body, r.content_type);
      });
}

}  // namespace attnscope::app

// The HTTP API of `attnscope serve` as a function of the request, without sockets: the server
// (app/http_server.h) calls it, and so do the tests and the fuzz target (tests/fuzz/serve_fuzz.cc)
// directly.
//
//   GET  /                 the attention viewer with an input box (inspect/html_viewer.h)
//   GET  /api/health       {"status": "ok", the model's shape, the limits}
//   POST /api/translate    {"text": "…", "beam": 1…max_beam, "max_new_tokens": N} → the
//                          attention.json payload (beam and max_new_tokens optional: the
//                          model's defaults, its generation config for a Hugging Face model)
//
// A request the client got wrong is always answered 4xx with {"error": "…"} saying what is wrong
// (with the value it sent, as it sent it): malformed JSON or a number JSON cannot hold (400), a
// wrong type, a missing or unknown key, an empty or over-long text, a beam or max_new_tokens out
// of range, a source longer than a Hugging Face model's positions (400), a
// body over the limit (413), a path that does not exist (404), a method a path does not take (405).
// 5xx means the server failed; nothing a client sends can cause it.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "app/device_args.h"
#include "decode/generation.h"
#include "io/model_dir.h"
#include "nn/seq2seq_model.h"

namespace httplib {
class Server;
}

namespace attnscope::app {

struct ServeLimits {
  int64_t max_chars = 1000;           // longest "text", in characters (code points)
  int64_t max_beam = 8;               // largest "beam"
  size_t max_body_bytes = 16 * 1024;  // largest request body
};

struct HttpReply {
  int status = 200;
  std::string content_type = "application/json; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

class ServeApi {
 public:
  // Loads the model directory onto the device (a bad one is an attnscope::Error naming it).
  ServeApi(const std::string& model_dir, ServeLimits limits, const DeviceArgs& device = {});

  // The reply to one request. Thread-safe: the model runs one request at a time.
  HttpReply handle(std::string_view method, std::string_view path, std::string_view body);
  // The JSON error reply of a status the HTTP layer decided itself (413 before the body was
  // read, 400 for a request line it could not parse, …).
  HttpReply error_reply(int status, std::string_view method, std::string_view path) const;

  const ServeLimits& limits() const { return limits_; }

 private:
  HttpReply translate(std::string_view body);
  HttpReply health() const;

  std::string model_dir_;
  ServeLimits limits_;
  std::mutex mu_;  // the model keeps its activations inside: one request at a time
  std::unique_ptr<Seq2SeqModel> model_;
  TokenizerPair tok_;
  std::string page_;
};

// What a client sent to /api/translate, checked: the text (control characters as spaces), the
// beam and max_new_tokens when given. Throws HttpReply (a 4xx with its error body) for anything
// the client got wrong.
struct TranslateRequest {
  std::string text;
  DecodeRequest decode;  // beam, max_new_tokens: unset when not sent
};
TranslateRequest parse_translate_request(std::string_view body, const ServeLimits& limits);

// Routes every request `server` receives to api.handle, and gives the statuses httplib decides
// itself (413, 400, …) api.error_reply's JSON body.
void install_routes(httplib::Server& server, ServeApi& api);

}  // namespace attnscope::app

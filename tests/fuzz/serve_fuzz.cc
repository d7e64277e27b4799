// `attnscope serve` on any request bytes, without sockets: the raw bytes through httplib's request
// parsing and routing into ServeApi (as HttpServer runs them), or — input starting with 'J' — the
// rest as the body of POST /api/translate straight to ServeApi::handle. Whatever a client sends,
// the answer is never a 5xx (the model here can translate anything it is given), and
// request_extent, which decides when a request has arrived, stays inside the bytes it is given.
#include <httplib.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "app/http_server.h"
#include "app/serve_api.h"
#include "core/error.h"
#include "fuzz_util.h"

using namespace attnscope;

namespace {

class FuzzServer : public httplib::Server {
 public:
  using httplib::Server::process_request;
};

class MemoryStream : public httplib::Stream {
 public:
  explicit MemoryStream(std::string_view in) : in_(in) {}
  bool is_readable() const override { return pos_ < in_.size(); }
  bool is_writable() const override { return true; }
  ssize_t read(char* ptr, size_t size) override {
    const size_t n = std::min(size, in_.size() - pos_);
    std::memcpy(ptr, in_.data() + pos_, n);
    pos_ += n;
    return static_cast<ssize_t>(n);
  }
  ssize_t write(const char* ptr, size_t size) override {
    out.append(ptr, size);
    return static_cast<ssize_t>(size);
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = "127.0.0.1";
    port = 40000;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    ip = "127.0.0.1";
    port = 8080;
  }
  socket_t socket() const override { return -1; }
  std::string out;

 private:
  std::string_view in_;
  size_t pos_ = 0;
};

app::ServeApi* g_api = nullptr;
FuzzServer* g_server = nullptr;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::init_limits();
  app::ServeLimits limits;
  limits.max_chars = 200;
  g_api = new app::ServeApi(std::string(ATTNSCOPE_TEST_DATA) + "/tiny_dates_model", limits);
  g_server = new FuzzServer;
  app::install_routes(*g_server, *g_api);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  if (!in.empty() && in[0] == 'J') {
    const app::HttpReply r = g_api->handle("POST", "/api/translate", in.substr(1));
    if (r.status >= 500 || r.status < 200)
      fuzz::broken("status " + std::to_string(r.status) + ": " + r.body);
    return 0;
  }
  const std::string bytes(in);
  const app::RequestExtent x = app::request_extent(bytes, 16 * 1024, 16 * 1024);
  if (x.end > bytes.size()) fuzz::broken("request_extent past the input");
  MemoryStream stream(in);
  bool closed = false;
  g_server->process_request(stream, true, closed, nullptr);
  if (stream.out.rfind("HTTP/1.1 5", 0) == 0)
    fuzz::broken("a 5xx answer: " + stream.out.substr(0, 300));
  return 0;
}

// The HTTP server of `attnscope serve`: httplib's request parsing and routing, behind a loop of
// our own that a slow or hostile client cannot hold up.
//
// httplib alone gives each connection a worker thread that waits on the client, with a limit per
// read only: ten clients sending a byte every few seconds hold ten workers for as long as they
// like. Here one thread reads every connection's request into memory (poll, non-blocking), and
// only a request that has fully arrived goes to a worker, which parses, routes and answers it
// from memory. So
//   - a worker never waits for a client to send: slow clients hold no worker at all;
//   - a request (line, headers and body) must arrive within `request_timeout` in total, or it is
//     answered 408 and the connection closed; headers over `max_header_bytes` get 431, a body
//     announced over `max_body_bytes` gets 413 (from httplib, through the error handler) without
//     being read, a chunked body 411 (the API needs Content-Length);
//   - a kept-alive connection waits at most `keep_alive_timeout` for its next request and serves
//     at most `keep_alive_max` requests; writing an answer may take at most `write_timeout`;
//   - at most `max_connections` are read at once; more wait in the kernel's accept queue (the
//     system's full backlog, not httplib's 5), so a burst is queued, not refused.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <deque>
#include <mutex>
#include <string>

namespace attnscope::app {

struct HttpServerLimits {
  std::chrono::milliseconds request_timeout{5000};
  std::chrono::milliseconds keep_alive_timeout{2000};
  std::chrono::milliseconds write_timeout{10000};
  int keep_alive_max = 100;
  int workers = 8;
  size_t max_header_bytes = 16 * 1024;
  size_t max_body_bytes = 16 * 1024;
  size_t max_connections = 1024;
};

class HttpServer : private httplib::Server {
 public:
  explicit HttpServer(HttpServerLimits limits);
  ~HttpServer() override;
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Where handlers are registered (app/serve_api.h install_routes).
  httplib::Server& routes() { return *this; }

  // Binds and listens on host:port (0: any free port). Returns the port; throws
  // attnscope::Error naming the address when it cannot.
  int bind(const std::string& host, int port);
  // Serves until stop(); false when accepting failed for another reason than stop().
  bool run();
  // Stops accepting; run() returns once the requests being answered are done. Callable from any
  // thread, before or while run() runs.
  void stop();

  // A connection between requests: its socket and the bytes read but not yet answered.
  struct Connection {
    int fd = -1;
    std::string buffer;
    int served = 0;            // requests answered on it
    bool peer_closed = false;  // the client sent all it will (shut down its side): answer, close
  };

 private:
  void answer(Connection c);  // on a worker: one request, then the connection goes back or closes
  void give_back(Connection c);

  HttpServerLimits limits_;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};  // a byte here wakes the reading loop (stop, a connection back)
  std::atomic<bool> stopping_{false};
  std::mutex returned_mu_;
  std::deque<Connection> returned_;  // kept-alive connections back from the workers
};

// Where the request at the start of `buffer` ends: the byte after its body, 0 while it has not
// fully arrived, or an HTTP status to answer at once (400 a Content-Length that is not a
// number, 411 chunked, 431 headers too large) —
// as {end, status}. A body longer than max_body ends the request after its headers: httplib then
// answers 413 without reading it.
struct RequestExtent {
  size_t end = 0;
  int status = 0;
  bool skip_body = false;  // the body was not waited for: close the connection after answering
};
RequestExtent request_extent(const std::string& buffer, size_t max_header, size_t max_body);

}  // namespace attnscope::app

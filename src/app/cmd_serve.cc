// attnscope serve: a small HTTP server (cpp-httplib) around one model. GET / is the attention
// viewer with an input box; POST /api/translate {"text", "beam", "max_new_tokens"} answers the
// attention.json payload of that sentence (beam and max_new_tokens optional: the model's
// defaults); GET /api/health says the server is up. Loopback by default.
#include <fmt/core.h>
#include <httplib.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "app/commands.h"
#include "app/device_args.h"
#include "app/flag_checks.h"
#include "app/http_server.h"
#include "app/serve_api.h"
#include "app/stdout_check.h"
#include "core/error.h"

namespace attnscope::app {

namespace {

struct ServeArgs {
  std::string model;
  std::string host = "127.0.0.1";
  int port = 8080;
  int64_t max_chars = 1000;
  int threads = 8;
  DeviceArgs device;
  double request_timeout = 5;
};

bool is_loopback(const std::string& host) {
  return host == "127.0.0.1" || host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

int g_stop_pipe[2] = {-1, -1};
std::atomic<int> g_stop_count{0};
static_assert(std::atomic<int>::is_always_lock_free, "used in a signal handler");

extern "C" void on_stop_signal(int) {
  if (g_stop_count.fetch_add(1) > 0) _exit(130);
  const char c = 's';
  if (write(g_stop_pipe[1], &c, 1) < 0) {
  }
}

// Installs the SIGINT/SIGTERM handler for its lifetime (the previous actions come back after).
class StopSignals {
 public:
  StopSignals() {
    ATTN_CHECK(pipe(g_stop_pipe) == 0, "cannot create a pipe: {}", std::strerror(errno));
    g_stop_count = 0;
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;
  ~StopSignals() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
    close(g_stop_pipe[0]);
    close(g_stop_pipe[1]);
    g_stop_pipe[0] = g_stop_pipe[1] = -1;
  }
  // Blocks until a signal came (true) or wake() was called (false).
  bool wait() {
    char c = 0;
    ssize_t n;
    do {
      n = read(g_stop_pipe[0], &c, 1);
    } while (n < 0 && errno == EINTR);
    return n == 1 && c == 's';
  }
  void wake() {
    const char c = 'w';
    if (write(g_stop_pipe[1], &c, 1) < 0) {
    }
  }

 private:
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

std::string now_hms() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%H:%M:%S", &tm);
  return buf;
}

void run_serve(const ServeArgs& a) {
  ServeLimits limits;
  limits.max_chars = a.max_chars;
  ServeApi api(a.model, limits, a.device);

  HttpServerLimits http;
  http.workers = a.threads;
  http.request_timeout = std::chrono::milliseconds(static_cast<int64_t>(a.request_timeout * 1000));
  http.max_body_bytes = limits.max_body_bytes;
  HttpServer server(http);
  install_routes(server.routes(), api);
  server.routes().set_logger([](const httplib::Request& req, const httplib::Response& res) {
    if (req.path.rfind("/api/", 0) == 0)
      fmt::print(stderr, "{} {} {} {}\n", now_hms(), req.method, req.path, res.status);
  });
  const int port = server.bind(a.host, a.port);

  // Ctrl-C / SIGTERM: the handler only writes a byte to a pipe; a watcher thread reads it and
  // stops the server, outside the handler. (Blocking the signals and waiting for them in a
  // thread would miss them: OpenBLAS starts its threads, with the signals unblocked, when the
  // library is loaded.) A second Ctrl-C exits at once.
  StopSignals stop_signals;
  std::thread watcher([&] {
    if (!stop_signals.wait()) return;
    fmt::print(stderr, "\nattnscope serve: stopping\n");
    server.stop();
  });

  const bool v6 = a.host.find(':') != std::string::npos;
  fmt::print("attnscope serve: http://{}{}{}:{}/  (model {}, Ctrl-C to stop)\n", v6 ? "[" : "",
             a.host, v6 ? "]" : "", port, a.model);
  if (!is_loopback(a.host))
    fmt::print(stderr,
               "attnscope serve: warning: listening on {}, not loopback: anyone who can reach "
               "this machine can use the model\n",
               a.host);
  check_stdout("the server's address");
  std::fflush(stderr);

  const bool ok = server.run();
  stop_signals.wake();
  watcher.join();
  ATTN_CHECK(ok, "the server on {}:{} stopped: accepting a connection failed", a.host, port);
}

}  // namespace

void register_serve(CLI::App& app) {
  auto a = std::make_shared<ServeArgs>();
  CLI::App* cmd = app.add_subcommand(
      "serve",
      "Serve the attention viewer for a model: type a sentence in the browser, see its "
      "translation and every attention map. POST /api/translate {\"text\", \"beam\"} answers "
      "the attention.json payload.");
  cmd->add_option("--model", a->model, "Model directory")->required();
  cmd->add_option("--host", a->host, "Address to listen on (loopback by default)")
      ->capture_default_str();
  cmd->add_option("--port", a->port, "Port (0 = any free port; the URL is printed)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--max-chars", a->max_chars, "Longest sentence accepted, in characters")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  cmd->add_option("--threads", a->threads,
                  "Worker threads answering requests (the model runs one at a time; slow clients "
                  "hold none)")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  cmd->add_option("--request-timeout", a->request_timeout,
                  "Seconds a request may take to arrive, headers and body (else 408)")
      ->capture_default_str()
      ->check(finite_range(0.05, 3600.0));
  add_device_options(cmd, a->device);
  add_mask_heads_option(cmd, a->device.mask_heads);
  cmd->callback([a] { run_serve(*a); });
}

}  // namespace attnscope::app

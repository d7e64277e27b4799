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
#include "core/error.h"
#include "core/json_error.h"
#include "data/corpus.h"
#include "decode/generation.h"
#include "decode/translate.h"
#include "inspect/attention_export.h"
#include "inspect/html_viewer.h"
#include "io/model_dir.h"

namespace attnscope::app {

namespace {

constexpr int64_t kMaxBeam = 8;
constexpr size_t kMaxBodyBytes = 16 * 1024;

struct ServeArgs {
  std::string model;
  std::string host = "127.0.0.1";
  int port = 8080;
  int64_t max_chars = 1000;
  int threads = 8;
  DeviceArgs device;
};

// A request the client got wrong: answered with `status` and {"error": message}.
struct BadRequest {
  int status;
  std::string message;
};

void reply_json(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(body.dump() + "\n", "application/json; charset=utf-8");
}

void reply_error(httplib::Response& res, int status, const std::string& message) {
  reply_json(res, status, {{"error", message}});
}

size_t count_code_points(const std::string& s) {
  size_t n = 0;
  for (const char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

bool is_loopback(const std::string& host) {
  return host == "127.0.0.1" || host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

// The model and its tokenizers. A model keeps its activations inside, so one request at a time
// uses it (the kernels are parallel themselves).
class Translator {
 public:
  Translator(const std::string& dir, const DeviceArgs& device)
      : model_(load_model_on(dir, device)), tok_(load_tokenizers(dir)) {}

  // The architecture, as /api/health reports it.
  nlohmann::json shape() const {
    const ModelInfo info = model_->info();
    nlohmann::json j = {{"arch", info.arch},
                        {"encoder_layers", model_->num_layers(AttentionKind::kEncoderSelf)},
                        {"decoder_layers", model_->num_layers(AttentionKind::kCross)},
                        {"heads", info.heads},
                        {"device", info.device}};
    if (info.d_model > 0) j["d_model"] = info.d_model;
    j["default_beam"] = decode_options_for(info, {}).beam;
    if (info.generation) j["generation"] = info.generation->summary();
    return j;
  }

  // The options of one request, or BadRequest naming what is wrong with it.
  TranslateOptions options(DecodeRequest request) const {
    request.nbest = 1;
    TranslateOptions opt;
    try {
      opt.decode = decode_options_for(model_->info(), request);
    } catch (const Error& e) {
      throw BadRequest{400, e.what()};
    }
    opt.decode.capture.emplace();
    opt.batch_sentences = 1;
    return opt;
  }

  std::string attention_payload(const std::string& text, const DecodeRequest& request) {
    const TranslateOptions opt = options(request);
    if (opt.decode.hf) {  // Hugging Face's rules refuse a source longer than the positions
      const ModelInfo info = model_->info();
      const size_t n = tok_.src->encode(text).size() + 1;
      if (static_cast<int64_t>(n) > info.max_len)
        throw BadRequest{400, fmt::format(R"("text" is {} tokens with </s>; the model takes {})", n,
                                          info.max_len)};
    }
    std::lock_guard<std::mutex> lock(mu_);
    const auto out = translate_sentences(*model_, *tok_.src, *tok_.tgt, {text}, opt);
    ATTN_CHECK(out.size() == 1, "the model returned {} translations for one sentence", out.size());
    return attention_json(out.front());
  }

 private:
  std::mutex mu_;
  std::unique_ptr<Seq2SeqModel> model_;
  TokenizerPair tok_;
};

// {"text": "...", "beam": 1..8, "max_new_tokens": N} → (text, what it asks for), or BadRequest
// naming what is wrong.
std::pair<std::string, DecodeRequest> parse_translate_request(const std::string& body,
                                                              int64_t max_chars) {
  if (!is_valid_utf8(body)) throw BadRequest{400, "the request body is not valid UTF-8"};
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(body);
  } catch (const nlohmann::json::parse_error& e) {
    throw BadRequest{400, fmt::format("malformed JSON: {}", json_error_text(e))};
  }
  if (!j.is_object())
    throw BadRequest{400, R"(expected a JSON object such as {"text": "...", "beam": 1})"};
  if (!j.contains("text")) throw BadRequest{400, R"(missing "text": the sentence to translate)"};
  if (!j["text"].is_string()) throw BadRequest{400, R"("text" must be a string)"};
  std::string text = j["text"].get<std::string>();
  if (!is_valid_utf8(text)) throw BadRequest{400, R"("text" is not valid UTF-8)"};
  for (char& c : text)
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  if (text.find_first_not_of(' ') == std::string::npos)
    throw BadRequest{400, R"("text" is empty: give a sentence to translate)"};
  const size_t chars = count_code_points(text);
  if (chars > static_cast<size_t>(max_chars))
    throw BadRequest{400, fmt::format(R"("text" has {} characters; this server accepts at most {})",
                                      chars, max_chars)};
  DecodeRequest request;
  if (j.contains("beam")) {
    const auto& b = j["beam"];
    if (!b.is_number_integer())
      throw BadRequest{400, fmt::format(R"("beam" must be an integer from 1 to {})", kMaxBeam)};
    const int64_t beam = b.get<int64_t>();
    if (beam < 1 || beam > kMaxBeam)
      throw BadRequest{400,
                       fmt::format(R"("beam" is {}; it must be from 1 to {})", beam, kMaxBeam)};
    request.beam = beam;
  }
  if (j.contains("max_new_tokens")) {
    const auto& m = j["max_new_tokens"];
    if (!m.is_number_integer() || m.get<int64_t>() < 1)
      throw BadRequest{400, R"("max_new_tokens" must be a positive integer)"};
    request.max_new_tokens = m.get<int64_t>();
  }
  return {text, request};
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
  ATTN_CHECK(a.port >= 0 && a.port <= 65535, "--port {} is not a port (0 … 65535; 0 = any free)",
             a.port);
  ATTN_CHECK(a.max_chars >= 1, "--max-chars must be at least 1, not {}", a.max_chars);
  ATTN_CHECK(a.threads >= 1 && a.threads <= 256, "--threads must be from 1 to 256, not {}",
             a.threads);

  auto translator = std::make_shared<Translator>(a.model, a.device);
  const nlohmann::json shape = translator->shape();
  const std::string model_name = std::filesystem::path(a.model).filename().string().empty()
                                     ? a.model
                                     : std::filesystem::path(a.model).filename().string();
  const std::string page = attention_live_html("attnscope · " + model_name, a.max_chars, kMaxBeam);

  httplib::Server svr;
  const int threads = a.threads;
  svr.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  svr.set_payload_max_length(kMaxBodyBytes);
  // A browser keeps up to 6 connections open per host, each holding a worker while it idles:
  // a short keep-alive gives the workers back to other clients quickly.
  svr.set_keep_alive_timeout(1);
  svr.set_read_timeout(10, 0);
  svr.set_write_timeout(10, 0);

  // Every error status gets a JSON body: the ones httplib sets itself (404, 413 for a body
  // over the limit, …) arrive here with an empty body.
  svr.set_error_handler(
      httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        std::string message;
        switch (res.status) {
          case 404:
            message = fmt::format("no such page: {} {}", req.method, req.path);
            break;
          case 413:
            message = fmt::format("the request body is larger than {} bytes", kMaxBodyBytes);
            break;
          case 405:
            message = fmt::format("{} is not allowed on {}", req.method, req.path);
            break;
          default:
            message = fmt::format("HTTP {}", res.status);
        }
        reply_error(res, res.status, message);
        return httplib::Server::HandlerResponse::Handled;
      }));
  svr.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string message = "internal error";
        try {
          std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          message = e.what();
        } catch (...) {
        }
        reply_error(res, 500, message);
      });
  svr.set_logger([](const httplib::Request& req, const httplib::Response& res) {
    if (req.path.rfind("/api/", 0) == 0)
      fmt::print(stderr, "{} {} {} {}\n", now_hms(), req.method, req.path, res.status);
  });

  svr.Get("/", [&page](const httplib::Request&, httplib::Response& res) {
    res.set_content(page, "text/html; charset=utf-8");
    res.set_header("Cache-Control", "no-store");
  });
  svr.Get("/favicon.ico",
          [](const httplib::Request&, httplib::Response& res) { res.status = 204; });
  svr.Get("/api/health", [&shape, &a](const httplib::Request&, httplib::Response& res) {
    nlohmann::json j = shape;
    j["status"] = "ok";
    j["model"] = a.model;
    j["max_chars"] = a.max_chars;
    j["max_beam"] = kMaxBeam;
    reply_json(res, 200, j);
  });
  svr.Post("/api/translate", [translator, &a](const httplib::Request& req, httplib::Response& res) {
    try {
      const auto [text, request] = parse_translate_request(req.body, a.max_chars);
      res.set_content(translator->attention_payload(text, request),
                      "application/json; charset=utf-8");
    } catch (const BadRequest& e) {
      reply_error(res, e.status, e.message);
    } catch (const std::exception& e) {
      reply_error(res, 500, fmt::format("translation failed: {}", e.what()));
    }
  });

  // httplib listens with a backlog of 5, fixed when the library was built: when more clients
  // connect at once, the kernel drops their connection requests and they retry after 1, 3, 7 s,
  // so a burst of requests stalls for seconds or times out on a busy machine. So the listening
  // socket (the last one httplib configures before binding) listens again with the system's
  // limit; Linux updates the backlog of a socket that is already listening.
  int listen_fd = -1;
  svr.set_socket_options([&listen_fd](socket_t sock) {
    httplib::default_socket_options(sock);
    listen_fd = sock;
  });
  const int port = a.port == 0 ? svr.bind_to_any_port(a.host) : a.port;
  const bool bound = a.port == 0 ? port > 0 : svr.bind_to_port(a.host, a.port);
  ATTN_CHECK(bound && port > 0,
             "cannot listen on {}:{} (is the port in use, or the address not this machine's?)",
             a.host, a.port);
  ATTN_CHECK(::listen(listen_fd, SOMAXCONN) == 0, "cannot listen on {}:{}: {}", a.host, port,
             std::strerror(errno));

  // Ctrl-C / SIGTERM: the handler only writes a byte to a pipe; a watcher thread reads it and
  // stops the server, outside the handler. (Blocking the signals and waiting for them in a
  // thread would miss them: OpenBLAS starts its threads, with the signals unblocked, when the
  // library is loaded.) A second Ctrl-C exits at once.
  StopSignals stop_signals;
  std::atomic<bool> done{false};
  std::thread watcher([&] {
    if (!stop_signals.wait()) return;
    fmt::print(stderr, "\nattnscope serve: stopping\n");
    // stop() does nothing until listen has started: a signal may come just before.
    while (!done.load()) {
      if (svr.is_running()) {
        svr.stop();
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });

  const bool v6 = a.host.find(':') != std::string::npos;
  fmt::print("attnscope serve: http://{}{}{}:{}/  (model {}, Ctrl-C to stop)\n", v6 ? "[" : "",
             a.host, v6 ? "]" : "", port, a.model);
  if (!is_loopback(a.host))
    fmt::print(stderr,
               "attnscope serve: warning: listening on {}, not loopback: anyone who can reach "
               "this machine can use the model\n",
               a.host);
  std::fflush(stdout);
  std::fflush(stderr);

  const bool ok = svr.listen_after_bind();
  done = true;
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
      ->capture_default_str();
  cmd->add_option("--max-chars", a->max_chars, "Longest sentence accepted, in characters")
      ->capture_default_str();
  cmd->add_option("--threads", a->threads, "HTTP worker threads (the model runs one at a time)")
      ->capture_default_str();
  add_device_options(cmd, a->device);
  cmd->callback([a] { run_serve(*a); });
}

}  // namespace attnscope::app

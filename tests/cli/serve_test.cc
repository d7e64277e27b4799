// `attnscope serve` as a user (or a script) talks to it: the binary on a free loopback port with
// a tiny random model built here. Health, the page, translations with their attention (rows
// that sum to 1, the look-ahead mask), every kind of bad request answered 4xx with a JSON
// message, 20 requests at once (and 20 connections queued while the server is busy), and the
// process alive after all of it and stopping cleanly on Ctrl-C.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "data/tokenizer.h"
#include "io/model_dir.h"
#include "nn/transformer.h"

namespace attnscope {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Sentences for the tokenizer: a few words in many orders.
std::vector<std::string> sentences() {
  const std::vector<std::string> words = {"the", "cat", "sees", "a",   "dog",  "on", "red",
                                          "mat", "big", "runs", "and", "sits", "o",  "gato"};
  std::vector<std::string> out;
  uint32_t x = 12345;
  for (int s = 0; s < 300; ++s) {
    std::string line;
    const int n = 3 + s % 6;
    for (int i = 0; i < n; ++i) {
      x = x * 1664525u + 1013904223u;
      if (i) line += ' ';
      line += words[(x >> 16) % words.size()];
    }
    out.push_back(line);
  }
  return out;
}

// A random tiny model directory (config.json, model.safetensors, shared.spm), built once.
const std::string& tiny_model_dir() {
  static const std::string dir = [] {
    const fs::path d =
        fs::temp_directory_path() / ("attnscope_serve_test_" + std::to_string(getpid())) / "model";
    fs::create_directories(d);
    TokenizerOptions topt;
    topt.vocab_size = 40;
    topt.num_threads = 1;
    const Tokenizer tok = Tokenizer::train(sentences(), (d / "shared.spm").string(), topt);
    ModelConfig c;
    c.d_model = 16;
    c.heads = 2;
    c.encoder_layers = 2;
    c.decoder_layers = 2;
    c.d_ff = 32;
    c.src_vocab = c.tgt_vocab = tok.vocab_size();
    c.max_len = 48;
    c.dropout = 0;
    Transformer model(c);
    model.init_weights(7);
    save_model(model, d.string());
    return d.string();
  }();
  return dir;
}

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// The server binary as a child process, its output in a log file.
class ServerProcess {
 public:
  explicit ServerProcess(const std::string& model = tiny_model_dir(),
                         const std::vector<std::string>& extra = {}) {
    log_ = (fs::path(tiny_model_dir()).parent_path() /
            ("serve_" + std::to_string(counter_++) + ".log"))
               .string();
    std::vector<std::string> args = {ATTNSCOPE_BINARY, "serve",     "--model",   model,
                                     "--host",         "127.0.0.1", "--port",    "0",
                                     "--max-chars",    "200",       "--threads", "4"};
    args.insert(args.end(), extra.begin(), extra.end());
    pid_ = fork();
    if (pid_ == 0) {
      const int fd = open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd < 0) _exit(126);
      dup2(fd, 1);
      dup2(fd, 2);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    // Wait (at most 60 s) for the line with the URL.
    const std::regex url(R"(http://127\.0\.0\.1:(\d+)/)");
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    while (Clock::now() < deadline && alive()) {
      std::smatch m;
      const std::string out = slurp(log_);
      if (std::regex_search(out, m, url)) {
        port_ = std::stoi(m[1].str());
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;
  ~ServerProcess() {
    if (pid_ > 0 && alive()) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  std::string log() const { return slurp(log_); }

  bool alive() {
    if (exited_) return false;
    int status = 0;
    const pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == 0) return true;
    exited_ = true;
    exit_status_ = status;
    return false;
  }

  // Sends sig and waits (at most timeout) for the exit; the exit code, or -1.
  int stop(int sig, std::chrono::seconds timeout) {
    if (!alive()) return WIFEXITED(exit_status_) ? WEXITSTATUS(exit_status_) : -1;
    kill(pid_, sig);
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      if (!alive()) return WIFEXITED(exit_status_) ? WEXITSTATUS(exit_status_) : -1;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }

 private:
  static inline int counter_ = 0;
  std::string log_;
  pid_t pid_ = -1;
  int port_ = 0;
  bool exited_ = false;
  int exit_status_ = 0;
};

std::unique_ptr<httplib::Client> client(int port) {
  auto c = std::make_unique<httplib::Client>("127.0.0.1", port);
  c->set_connection_timeout(5, 0);
  c->set_read_timeout(60, 0);
  c->set_write_timeout(10, 0);
  return c;
}

httplib::Result post(int port, const std::string& body) {
  return client(port)->Post("/api/translate", body, "application/json");
}

// status code and the JSON "error" of a rejected request.
void expect_error(int port, const std::string& body, int status, const std::string& words) {
  const auto r = post(port, body);
  ASSERT_TRUE(r) << "no answer to " << body.substr(0, 80);
  EXPECT_EQ(r->status, status) << body.substr(0, 80) << " → " << r->body;
  const auto j = nlohmann::json::parse(r->body, nullptr, false);
  ASSERT_TRUE(j.is_object() && j.contains("error")) << r->body;
  EXPECT_NE(j["error"].get<std::string>().find(words), std::string::npos)
      << "error for " << body.substr(0, 80) << ": " << j["error"];
}

// The payload's shapes and that every row of every map is a distribution.
void check_payload(const nlohmann::json& p) {
  for (const char* key : {"source", "translation", "source_tokens", "target_tokens", "weights"})
    ASSERT_TRUE(p.contains(key)) << key;
  const size_t Ts = p["source_tokens"].size(), Tt = p["target_tokens"].size();
  ASSERT_GE(Ts, 2u);
  ASSERT_GE(Tt, 1u);
  EXPECT_EQ(p["source_tokens"].back(), "</s>");
  EXPECT_EQ(p["target_tokens"].front(), "<s>");
  struct Kind {
    const char* name;
    size_t q, k;
  };
  for (const Kind& kind :
       {Kind{"encoder_self", Ts, Ts}, Kind{"decoder_self", Tt, Tt}, Kind{"cross", Tt, Ts}}) {
    const auto& layers = p["weights"][kind.name];
    ASSERT_EQ(layers.size(), 2u) << kind.name;
    for (const auto& layer : layers) {
      ASSERT_EQ(layer.size(), 2u) << kind.name;  // heads
      for (const auto& head : layer) {
        ASSERT_EQ(head.size(), kind.q) << kind.name;
        for (size_t q = 0; q < kind.q; ++q) {
          ASSERT_EQ(head[q].size(), kind.k) << kind.name;
          double sum = 0;
          for (size_t k = 0; k < kind.k; ++k) {
            const double w = head[q][k].get<double>();
            EXPECT_GE(w, 0.0);
            if (std::string(kind.name) == "decoder_self" && k > q) {
              EXPECT_EQ(w, 0.0);
            }
            sum += w;
          }
          EXPECT_NEAR(sum, 1.0, 1e-4) << kind.name << " row " << q;
        }
      }
    }
  }
}

TEST(Serve, HealthAndPage) {
  ServerProcess server;
  ASSERT_GT(server.port(), 0) << server.log();
  auto c = client(server.port());
  auto r = c->Get("/api/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  const auto h = nlohmann::json::parse(r->body);
  EXPECT_EQ(h["status"], "ok");
  EXPECT_EQ(h["heads"], 2);
  EXPECT_EQ(h["device"], "cpu");
  r = c->Get("/");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->get_header_value("Content-Type").find("text/html"), std::string::npos);
  EXPECT_NE(r->body.find("id=\"live-text\""), std::string::npos);
  EXPECT_EQ(r->body.find("http://"), std::string::npos);
  r = c->Get("/no/such/page");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_TRUE(nlohmann::json::parse(r->body).contains("error"));
  EXPECT_NE(server.log().find("http://127.0.0.1:"), std::string::npos);
}

TEST(Serve, TranslateAnswersTheAttentionPayload) {
  ServerProcess server;
  ASSERT_GT(server.port(), 0) << server.log();
  for (int beam : {1, 4}) {
    const auto r =
        post(server.port(), nlohmann::json{{"text", "the cat sees a dog"}, {"beam", beam}}.dump());
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    EXPECT_NE(r->get_header_value("Content-Type").find("application/json"), std::string::npos);
    const auto p = nlohmann::json::parse(r->body);
    EXPECT_EQ(p["source"], "the cat sees a dog");
    check_payload(p);
  }
  // beam is optional; text with a newline and non-ASCII characters is fine.
  const auto r = post(server.port(), R"({"text": "o gato\nsees the café"})");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  check_payload(nlohmann::json::parse(r->body));
}

TEST(Serve, RejectsBadRequestsAndStaysUp) {
  ServerProcess server;
  const int port = server.port();
  ASSERT_GT(port, 0) << server.log();
  expect_error(port, R"({"text": "the cat)", 400, "malformed JSON");
  expect_error(port, "not json at all", 400, "malformed JSON");
  expect_error(port, "", 400, "malformed JSON");
  expect_error(port, R"(["the cat"])", 400, "JSON object");
  expect_error(port, R"({"beam": 2})", 400, "missing \"text\"");
  expect_error(port, R"({"text": 42})", 400, "must be a string");
  expect_error(port, R"({"text": "   "})", 400, "empty");
  expect_error(port, "{\"text\": \"the \xC3\x28 cat\"}", 400, "UTF-8");
  expect_error(port, "{\"text\": \"\xFF\xFE\"}", 400, "UTF-8");
  expect_error(port, R"({"text": "\ud800"})", 400, "malformed JSON");  // lone surrogate
  expect_error(port, R"({"text": "the cat", "beam": 0})", 400, "beam");
  expect_error(port, R"({"text": "the cat", "beam": 9})", 400, "beam");
  expect_error(port, R"({"text": "the cat", "beam": "2"})", 400, "beam");
  expect_error(port, R"({"text": "the cat", "beam": 2.5})", 400, "beam");
  // --max-chars 200: 201 characters are too many (counted as characters, not bytes).
  expect_error(port, nlohmann::json{{"text", std::string(201, 'a')}}.dump(), 400, "at most 200");
  std::string accents;
  for (int i = 0; i < 150; ++i) accents += "\xC3\xA9";  // 150 × "é": 300 bytes, 150 characters
  const auto ok = post(port, nlohmann::json{{"text", accents}}.dump());
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
  // A body over 16 KB is refused before it is read.
  expect_error(port, nlohmann::json{{"text", std::string(20000, 'a')}}.dump(), 413, "larger");
  // Still serving.
  const auto r = client(port)->Get("/api/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(server.alive()) << server.log();
}

TEST(Serve, TwentyConcurrentRequests) {
  ServerProcess server;
  const int port = server.port();
  ASSERT_GT(port, 0) << server.log();
  const std::vector<std::string> texts = {"the cat sees a dog", "a big red mat",
                                          "o gato runs and sits", "the dog"};
  std::vector<int> status(20, 0);
  std::vector<std::string> bodies(20);
  std::vector<std::thread> threads;
  for (int i = 0; i < 20; ++i) {
    threads.emplace_back([&, i] {
      const auto r =
          post(port, nlohmann::json{{"text", texts[i % texts.size()]}, {"beam", 1 + i % 3}}.dump());
      if (r) {
        status[i] = r->status;
        bodies[i] = r->body;
      } else {
        bodies[i] = "no answer: " + httplib::to_string(r.error());
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(status[i], 200) << "request " << i << ": " << bodies[i]
                              << "\nserver alive: " << server.alive() << ", its log:\n"
                              << server.log();
    const auto p = nlohmann::json::parse(bodies[i]);
    EXPECT_EQ(p["source"], texts[i % texts.size()]);
    check_payload(p);
  }
  // The model is shared under a lock: the same request gives the same answer whatever ran
  // beside it.
  for (int i = 12; i < 20; ++i) EXPECT_EQ(bodies[i], bodies[i - 12]) << i;
  const auto r = client(port)->Get("/api/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(server.alive()) << server.log();
}

// Clients that connect while the server cannot accept (here: stopped) wait in the kernel's queue
// and are answered once it can; none is turned away to retry seconds later. (httplib's own
// backlog of 5 dropped the rest: under load, 20 requests at once stalled for 1 s or more and,
// with three drops in a row, timed out.)
TEST(Serve, ConnectionsQueueWhileTheServerIsBusy) {
  ServerProcess server;
  const int port = server.port();
  ASSERT_GT(port, 0) << server.log();
  ASSERT_EQ(kill(server.pid(), SIGSTOP), 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::vector<pollfd> socks;
  for (int i = 0; i < 20; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    const int rc = connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
    ASSERT_TRUE(rc == 0 || errno == EINPROGRESS) << std::strerror(errno);
    socks.push_back({fd, POLLOUT, 0});
  }
  // The kernel completes each handshake itself while the queue has room; a dropped connection
  // request would be retried only after 1 s.
  int connected = 0;
  const auto deadline = Clock::now() + std::chrono::milliseconds(500);
  while (connected < 20 && Clock::now() < deadline) {
    connected = 0;
    poll(socks.data(), socks.size(), 50);
    for (const pollfd& p : socks) {
      int err = 1;
      socklen_t len = sizeof err;
      if ((p.revents & POLLOUT) && getsockopt(p.fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 &&
          err == 0)
        ++connected;
    }
  }
  EXPECT_EQ(connected, 20);
  ASSERT_EQ(kill(server.pid(), SIGCONT), 0);
  // Every queued connection is served.
  const std::string request =
      "GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  for (size_t i = 0; i < socks.size(); ++i) {
    const int fd = socks[i].fd;
    ASSERT_EQ(write(fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));
    std::string reply;
    char buf[4096];
    pollfd p{fd, POLLIN, 0};
    while (poll(&p, 1, 20000) > 0) {
      const ssize_t n = read(fd, buf, sizeof buf);
      if (n <= 0) break;
      reply.append(buf, static_cast<size_t>(n));
    }
    EXPECT_EQ(reply.rfind("HTTP/1.1 200", 0), 0u) << "connection " << i << ": " << reply;
    close(fd);
  }
  EXPECT_TRUE(server.alive()) << server.log();
}

TEST(Serve, CtrlCStopsCleanly) {
  ServerProcess server;
  ASSERT_GT(server.port(), 0) << server.log();
  const auto r = post(server.port(), R"({"text": "the cat"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(server.stop(SIGINT, std::chrono::seconds(20)), 0) << server.log();
  EXPECT_NE(server.log().find("stopping"), std::string::npos) << server.log();
}

TEST(Serve, BadArgumentsExitWithAMessage) {
  ServerProcess missing("/nonexistent/model");
  EXPECT_EQ(missing.port(), 0);
  EXPECT_EQ(missing.stop(SIGKILL, std::chrono::seconds(10)), 1) << missing.log();
  EXPECT_NE(missing.log().find("/nonexistent/model"), std::string::npos) << missing.log();
}

// A raw client on loopback: connect, send bytes (maybe not all of a request), read what comes.
class RawClient {
 public:
  explicit RawClient(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawClient() { close(fd_); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;
  bool connected() const { return connected_; }
  void read_whole_stream() { stop_at_reply_ = false; }
  void shutdown_write() { ::shutdown(fd_, SHUT_WR); }
  bool send_text(const std::string& s) {
    return ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size());
  }
  // What the server sends until it closes the connection, a whole reply (headers and
  // Content-Length bytes of body) arrived, or `ms` pass.
  std::string read_all(int ms) {
    std::string got;
    const auto complete = [&got] {
      const size_t end = got.find("\r\n\r\n");
      const size_t len = got.find("Content-Length: ");
      return end != std::string::npos && len != std::string::npos && len < end &&
             got.size() >= end + 4 + std::stoul(got.substr(len + 16));
    };
    const auto deadline = Clock::now() + std::chrono::milliseconds(ms);
    char buf[4096];
    while (Clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      const int left = static_cast<int>(
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
      if (poll(&p, 1, std::max(left, 1)) <= 0) break;
      const ssize_t n = read(fd_, buf, sizeof buf);
      if (n <= 0) break;
      got.append(buf, static_cast<size_t>(n));
      if (stop_at_reply_ && complete()) break;
    }
    return got;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  bool stop_at_reply_ = true;
};

int status_of(const std::string& reply) {
  return reply.rfind("HTTP/1.1 ", 0) == 0 ? std::atoi(reply.c_str() + 9) : -1;
}

// Whatever a client sends, the answer is a 4xx with a JSON error (or nothing, for a client that
// sends nothing), and the server stays up.
TEST(Serve, HostileRequestsAreAnswered4xx) {
  ServerProcess server;
  const int port = server.port();
  ASSERT_GT(port, 0) << server.log();
  struct Case {
    std::string bytes;
    int status;
  };
  const std::string post = "POST /api/translate HTTP/1.1\r\nHost: x\r\n";
  const std::vector<Case> cases = {
      {"\x16\x03\x01\x02\x05\x01\x05\x01\xfc\x03\x03\r\n\r\n", 400},  // TLS, not HTTP
      {"GET\r\n\r\n", 400},
      {"BREW /coffee HTTP/1.1\r\n\r\n", 400},
      {"GET /" + std::string(20000, 'a') + " HTTP/1.1\r\n\r\n", 431},
      {"GET / HTTP/1.1\r\nX-Long: " + std::string(20000, 'b') + "\r\n\r\n", 431},
      {post + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 411},
      {post + "Content-Length: 1000000000\r\n\r\n{\"text\":", 413},
      {post + "Content-Length: -5\r\n\r\n", 400},
      {post + "Content-Length: 11\r\n\r\n{\"text\": 4}", 400},
      {post + "Content-Length: 28\r\n\r\n{\"text\": \"x\", \"beam\": 1e400}", 400},
      {post + "Content-Length: 10\r\n\r\n\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8\xf7\xf6", 400},
      {"PUT /api/translate HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", 405},
      {"GET /../../etc/passwd HTTP/1.1\r\n\r\n", 404},
  };
  for (const Case& c : cases) {
    RawClient client(port);
    ASSERT_TRUE(client.connected());
    client.send_text(c.bytes);
    const std::string reply = client.read_all(10000);
    EXPECT_EQ(status_of(reply), c.status)
        << c.bytes.substr(0, 60) << "\n→ " << reply.substr(0, 300);
    const size_t body = reply.find("\r\n\r\n");
    ASSERT_NE(body, std::string::npos) << reply.substr(0, 300);
    const auto j = nlohmann::json::parse(reply.substr(body + 4), nullptr, false);
    EXPECT_TRUE(j.is_object() && j.contains("error")) << reply.substr(0, 300);
  }
  const auto r = client(port)->Get("/api/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(server.alive()) << server.log();
}

// Slow clients hold no worker: 30 connections (the server has 4 workers) that send half a
// request and stall, or trickle a byte at a time, do not keep a normal client from its answer;
// each slow one gets 408 when its request time (here 1 s) is up.
TEST(Serve, SlowClientsHoldNoWorker) {
  ServerProcess server(tiny_model_dir(), {"--request-timeout", "1"});
  const int port = server.port();
  ASSERT_GT(port, 0) << server.log();
  std::vector<std::unique_ptr<RawClient>> slow;
  for (int i = 0; i < 30; ++i) {
    slow.push_back(std::make_unique<RawClient>(port));
    ASSERT_TRUE(slow.back()->connected());
    slow.back()->send_text(i % 2 ? "POST /api/translate HTTP/1.1\r\nContent-Length: 40\r\n\r\n{\"te"
                                 : "GET /api/hea");
  }
  std::atomic<bool> trickling{true};
  std::thread trickle([&] {
    RawClient t(port);
    const std::string req = "GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n";
    for (size_t i = 0; i < req.size() && trickling; ++i) {
      t.send_text(req.substr(i, 1));
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  const auto start = Clock::now();
  const auto r = post(port, R"({"text": "the cat sees a dog"})");
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_LT(seconds, 0.9) << "a normal request waited behind slow clients";
  for (auto& c : slow) {
    const std::string reply = c->read_all(5000);
    EXPECT_EQ(status_of(reply), 408) << reply.substr(0, 200);
  }
  trickling = false;
  trickle.join();
  EXPECT_TRUE(server.alive()) << server.log();
}

// One connection, several requests (pipelined in one write): every one answered, in order.
TEST(Serve, KeepAliveAnswersPipelinedRequestsInOrder) {
  ServerProcess server;
  const int port = server.port();
  ASSERT_GT(port, 0) << server.log();
  RawClient c(port);
  ASSERT_TRUE(c.connected());
  const std::string body = R"({"text": "the cat"})";
  c.read_whole_stream();
  c.send_text(
      "GET /api/health HTTP/1.1\r\nHost: x\r\n\r\nPOST /api/translate HTTP/1.1\r\nHost: "
      "x\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body +
      "GET /nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  const std::string reply = c.read_all(10000);
  const size_t first = reply.find("HTTP/1.1 200"), second = reply.find("HTTP/1.1 200", first + 1),
               third = reply.find("HTTP/1.1 404");
  EXPECT_NE(first, std::string::npos) << reply.substr(0, 400);
  EXPECT_NE(second, std::string::npos) << reply.substr(0, 400);
  EXPECT_NE(third, std::string::npos) << reply.substr(0, 400);
  EXPECT_LT(second, third);
  EXPECT_NE(reply.find("\"translation\""), std::string::npos);
}

// A client that sends its request and shuts down its side (as `printf … | nc` does) still gets
// the answer.
TEST(Serve, AHalfClosedClientIsAnswered) {
  ServerProcess server;
  const int port = server.port();
  ASSERT_GT(port, 0) << server.log();
  RawClient c(port);
  ASSERT_TRUE(c.connected());
  c.send_text("GET /api/health HTTP/1.0\r\n\r\n");
  c.shutdown_write();
  const std::string reply = c.read_all(10000);
  EXPECT_EQ(status_of(reply), 200) << reply.substr(0, 300);
  RawClient empty(port);  // and one that sends nothing at all is closed at once
  empty.shutdown_write();
  EXPECT_EQ(empty.read_all(5000), "");
}

}  // namespace
}  // namespace attnscope

namespace attnscope {
namespace {

// A Hugging Face Marian directory served as downloaded: the model's own beam (num_beams 4 of its
// generation config) unless the request names one, max_new_tokens honoured, the translation and
// the maps of the golden files.
TEST(Serve, MarianDirectoryAnswersWhatHuggingFaceGenerates) {
  const std::string dir = std::string(ATTNSCOPE_TEST_DATA) + "/marian/shared_swish";
  ServerProcess server(dir + "/model");
  ASSERT_GT(server.port(), 0) << server.log();
  std::ifstream gin(dir + "/golden.json");
  const nlohmann::json golden = nlohmann::json::parse(gin);
  const nlohmann::json& c = golden["cases"][0];
  const auto health = client(server.port())->Get("/api/health");
  ASSERT_TRUE(health);
  const auto h = nlohmann::json::parse(health->body);
  EXPECT_EQ(h["arch"], "marian");
  EXPECT_EQ(h["default_beam"], 4);
  for (const auto& [body, run] :
       {std::pair<std::string, std::string>{R"({"text": "Onde fica a estação?"})", "beam"},
        {R"({"text": "Onde fica a estação?", "beam": 1})", "greedy"}}) {
    const auto r = post(server.port(), body);
    ASSERT_TRUE(r) << server.log();
    ASSERT_EQ(r->status, 200) << r->body;
    const auto p = nlohmann::json::parse(r->body);
    EXPECT_EQ(p["translation"], c["runs"][run]["hypotheses"][0]["text"]) << run;
    EXPECT_EQ(p["target_tokens"].front(), "<pad>");  // Marian's decoder start token
    EXPECT_EQ(p["weights"]["cross"].size(), 2u);
    EXPECT_EQ(p["weights"]["cross"][0].size(), 4u);  // every head
  }
  const auto r = post(server.port(), R"({"text": "Onde fica a estação?", "max_new_tokens": 1})");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(nlohmann::json::parse(r->body)["target_tokens"].size(), 1u);  // only </s> came out
  expect_error(server.port(), R"({"text": "x", "max_new_tokens": 0})", 400, "max_new_tokens");
  expect_error(server.port(), R"({"text": "x", "max_new_tokens": 500})", 400,
               "128 decoder positions");
  EXPECT_TRUE(server.alive());
}

}  // namespace
}  // namespace attnscope

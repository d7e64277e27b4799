#include "app/http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <string_view>
#include <thread>
#include <vector>

#include "core/error.h"

namespace attnscope::app {

namespace {

using Clock = std::chrono::steady_clock;

int ms_until(Clock::time_point t) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(t - Clock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(left, 0, 1 << 30));
}

bool iequals_prefix(std::string_view line, std::string_view name) {
  if (line.size() < name.size()) return false;
  for (size_t i = 0; i < name.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(line[i])) != name[i]) return false;
  return true;
}

std::string address_of(const sockaddr_storage& a, int& port) {
  char host[INET6_ADDRSTRLEN] = "";
  if (a.ss_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&a);
    inet_ntop(AF_INET, &v4->sin_addr, host, sizeof host);
    port = ntohs(v4->sin_port);
  } else if (a.ss_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&a);
    inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof host);
    port = ntohs(v6->sin6_port);
  }
  return host;
}

// Best effort, on a non-blocking socket: a short answer the reading loop gives itself.
void send_error(int fd, int status, std::string_view reason, std::string_view message) {
  const std::string body = "{\"error\": \"" + std::string(message) + "\"}\n";
  const std::string reply =
      "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) +
      "\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  [[maybe_unused]] const ssize_t n =
      ::send(fd, reply.data(), reply.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

// One request, already in memory, to httplib: reads come from the buffer, the answer goes to the
// socket, all of it within a deadline.
class RequestStream : public httplib::Stream {
 public:
  RequestStream(int fd, std::string_view request, Clock::time_point write_deadline)
      : fd_(fd), request_(request), deadline_(write_deadline) {}

  bool is_readable() const override { return pos_ < request_.size(); }
  bool is_writable() const override { return Clock::now() < deadline_; }
  ssize_t read(char* ptr, size_t size) override {
    const size_t n = std::min(size, request_.size() - pos_);
    std::memcpy(ptr, request_.data() + pos_, n);
    pos_ += n;
    return static_cast<ssize_t>(n);
  }
  ssize_t write(const char* ptr, size_t size) override {
    size_t done = 0;
    while (done < size) {
      const ssize_t k = ::send(fd_, ptr + done, size - done, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (k > 0) {
        done += static_cast<size_t>(k);
        continue;
      }
      if (k < 0 && errno == EINTR) continue;
      if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        pollfd p{fd_, POLLOUT, 0};
        const int ms = ms_until(deadline_);
        if (ms > 0 && ::poll(&p, 1, ms) > 0) continue;
      }
      return -1;  // the client does not read, went away, or took too long
    }
    return static_cast<ssize_t>(size);
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage a{};
    socklen_t len = sizeof a;
    port = 0;
    ip = ::getpeername(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0 ? address_of(a, port) : "";
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage a{};
    socklen_t len = sizeof a;
    port = 0;
    ip = ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0 ? address_of(a, port) : "";
  }
  socket_t socket() const override { return fd_; }

 private:
  int fd_;
  std::string_view request_;
  size_t pos_ = 0;
  Clock::time_point deadline_;
};

}  // namespace

RequestExtent request_extent(const std::string& buffer, size_t max_header, size_t max_body) {
  RequestExtent x;
  // The headers end at the first empty line ("\r\n" or "\n" right after a "\n").
  size_t header_end = std::string::npos;
  for (size_t nl = buffer.find('\n'); nl != std::string::npos; nl = buffer.find('\n', nl + 1)) {
    if (buffer.compare(nl + 1, 2, "\r\n") == 0) {
      header_end = nl + 3;
      break;
    }
    if (buffer.compare(nl + 1, 1, "\n") == 0) {
      header_end = nl + 2;
      break;
    }
    if (nl > max_header) break;
  }
  if (header_end == std::string::npos || header_end > max_header + 4) {
    if (buffer.size() > max_header) x.status = 431;
    return x;
  }
  uint64_t length = 0;
  bool bad_length = false;
  for (size_t pos = buffer.find('\n') + 1; pos < header_end;) {
    const size_t eol = buffer.find('\n', pos);
    const std::string_view line(buffer.data() + pos, eol - pos);
    pos = eol + 1;
    if (iequals_prefix(line, "transfer-encoding:")) {
      x.status = 411;
      return x;
    }
    if (iequals_prefix(line, "content-length:")) {
      std::string_view v = line.substr(15);
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
      while (!v.empty() && (v.back() == '\r' || v.back() == ' ' || v.back() == '\t'))
        v.remove_suffix(1);
      length = 0;
      bad_length = v.empty();
      for (const char c : v) {
        if (c < '0' || c > '9') bad_length = true;
        length = length > max_body ? length : length * 10 + static_cast<uint64_t>(c - '0');
      }
    }
  }
  if (bad_length) {
    x.status = 400;
    return x;
  }
  // A body too large: the request ends with its headers, and httplib answers 413 without
  // reading more.
  if (length > max_body) {
    x.end = header_end;
    x.skip_body = true;
    return x;
  }
  if (buffer.size() >= header_end + length) x.end = header_end + static_cast<size_t>(length);
  return x;
}

HttpServer::HttpServer(HttpServerLimits limits) : limits_(limits) {
  ATTN_CHECK(limits_.workers >= 1 && limits_.keep_alive_max >= 1 && limits_.max_connections >= 1,
             "HTTP server limits must be positive");
  ATTN_CHECK(::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) == 0, "cannot create a pipe: {}",
             std::strerror(errno));
  set_payload_max_length(limits_.max_body_bytes);
  // What httplib's Keep-Alive response header announces.
  set_keep_alive_max_count(static_cast<size_t>(limits_.keep_alive_max));
  set_keep_alive_timeout(std::max<time_t>(
      1, std::chrono::duration_cast<std::chrono::seconds>(limits_.keep_alive_timeout).count()));
}

HttpServer::~HttpServer() {
  if (listen_fd_ >= 0) ::close(listen_fd_);
  ::close(wake_[0]);
  ::close(wake_[1]);
  for (const Connection& c : returned_) ::close(c.fd);
}

int HttpServer::bind(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  const int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found);
  ATTN_CHECK(rc == 0, "cannot listen on {}:{}: {}", host, port, ::gai_strerror(rc));
  std::string why = "no address";
  for (addrinfo* a = found; a != nullptr && listen_fd_ < 0; a = a->ai_next) {
    const int fd =
        ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) continue;
    const int yes = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    if (::bind(fd, a->ai_addr, a->ai_addrlen) == 0 && ::listen(fd, SOMAXCONN) == 0) {
      listen_fd_ = fd;
    } else {
      why = std::strerror(errno);
      ::close(fd);
    }
  }
  ::freeaddrinfo(found);
  ATTN_CHECK(listen_fd_ >= 0,
             "cannot listen on {}:{}: {} (is the port in use, or the address not this machine's?)",
             host, port, why);
  sockaddr_storage a{};
  socklen_t len = sizeof a;
  int bound = port;
  if (::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0) address_of(a, bound);
  return bound;
}

void HttpServer::stop() {
  stopping_ = true;
  const char c = 's';
  [[maybe_unused]] const ssize_t n = ::write(wake_[1], &c, 1);
}

void HttpServer::give_back(Connection c) {
  {
    std::lock_guard<std::mutex> lock(returned_mu_);
    returned_.push_back(std::move(c));
  }
  const char b = 'c';
  [[maybe_unused]] const ssize_t n = ::write(wake_[1], &b, 1);
}

void HttpServer::answer(Connection c) {
  const RequestExtent x =
      request_extent(c.buffer, limits_.max_header_bytes, limits_.max_body_bytes);
  RequestStream stream(c.fd, std::string_view(c.buffer).substr(0, x.end),
                       Clock::now() + limits_.write_timeout);
  ++c.served;
  const bool close_connection =
      stopping_ || x.skip_body || c.peer_closed || c.served >= limits_.keep_alive_max;
  bool closed = false;
  const bool ok = process_request(stream, close_connection, closed, nullptr);
  if (!ok || closed || close_connection || stopping_) {
    ::close(c.fd);
    return;
  }
  c.buffer.erase(0, x.end);  // a pipelined next request stays
  give_back(std::move(c));
}

bool HttpServer::run() {
  ATTN_CHECK(listen_fd_ >= 0, "HttpServer::run before bind");
  struct Pending {
    Connection c;
    Clock::time_point deadline;
    bool idle;  // waiting for the next request of a kept-alive connection, nothing read yet
  };
  std::vector<Pending> pending;
  httplib::ThreadPool pool(static_cast<size_t>(limits_.workers));
  const size_t max_buffer = limits_.max_header_bytes + limits_.max_body_bytes + 4096;
  Clock::time_point accept_paused_until{};
  bool ok = true;

  // Dispatches a request that has fully arrived, answers one that cannot be, or keeps waiting.
  // False when the connection left `pending`.
  const auto examine = [&](Pending& p) {
    if (p.c.buffer.empty() && !p.c.peer_closed) return true;
    if (p.idle) {
      p.idle = false;
      p.deadline = Clock::now() + limits_.request_timeout;
    }
    const RequestExtent x =
        request_extent(p.c.buffer, limits_.max_header_bytes, limits_.max_body_bytes);
    if (x.status == 400) {
      send_error(p.c.fd, 400, "Bad Request", "Content-Length is not a number");
    } else if (x.status == 431) {
      send_error(p.c.fd, 431, "Request Header Fields Too Large",
                 "the request headers are larger than " + std::to_string(limits_.max_header_bytes) +
                     " bytes");
    } else if (x.status == 411) {
      send_error(p.c.fd, 411, "Length Required",
                 "a request body needs a Content-Length (chunked bodies are not accepted)");
    } else if (x.end > 0) {
      pool.enqueue([this, c = std::move(p.c)]() mutable { answer(std::move(c)); });
      return false;
    } else if (!p.c.peer_closed) {
      return true;  // more is to come
    }
    ::close(p.c.fd);
    return false;
  };

  while (!stopping_) {
    {
      std::lock_guard<std::mutex> lock(returned_mu_);
      while (!returned_.empty()) {
        Connection c = std::move(returned_.front());
        returned_.pop_front();
        const bool idle = c.buffer.empty();
        pending.push_back(
            {std::move(c),
             Clock::now() + (idle ? limits_.keep_alive_timeout : limits_.request_timeout), idle});
        if (!examine(pending.back())) pending.pop_back();
      }
    }
    std::vector<pollfd> fds = {{wake_[0], POLLIN, 0}};
    const bool accepting =
        pending.size() < limits_.max_connections && Clock::now() >= accept_paused_until;
    if (accepting) fds.push_back({listen_fd_, POLLIN, 0});
    const size_t first = fds.size();
    Clock::time_point next = Clock::now() + std::chrono::seconds(60);
    for (const Pending& p : pending) {
      fds.push_back({p.c.fd, POLLIN, 0});
      next = std::min(next, p.deadline);
    }
    if (!accepting && pending.size() < limits_.max_connections)
      next = std::min(next, accept_paused_until);
    const int n = ::poll(fds.data(), fds.size(), std::max(ms_until(next), 1));
    if (n < 0 && errno != EINTR) {
      ok = false;
      break;
    }
    if (fds[0].revents & POLLIN) {
      char drain[64];
      while (::read(wake_[0], drain, sizeof drain) > 0) {
      }
    }
    // Read what arrived; a connection that closed or failed leaves.
    std::vector<Pending> kept;
    kept.reserve(pending.size());
    for (size_t i = 0; i < pending.size(); ++i) {
      Pending& p = pending[i];
      const short ev = fds[first + i].revents;
      bool alive = true;
      if (ev & (POLLIN | POLLHUP | POLLERR)) {
        char buf[8192];
        for (;;) {
          const ssize_t got = ::recv(p.c.fd, buf, sizeof buf, MSG_DONTWAIT);
          if (got > 0) {
            p.c.buffer.append(buf, static_cast<size_t>(got));
            if (p.c.buffer.size() > max_buffer) break;
            continue;
          }
          if (got < 0 && errno == EINTR) continue;
          if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
          // 0: the client shut down its side; what it sent may still be a whole request to
          // answer (examine closes the connection otherwise).
          if (got == 0)
            p.c.peer_closed = true;
          else
            alive = false;  // failed
          break;
        }
      }
      if (alive)
        alive = examine(p);
      else
        ::close(p.c.fd);
      if (!alive) continue;
      if (Clock::now() >= p.deadline) {
        if (!p.idle)
          send_error(p.c.fd, 408, "Request Timeout",
                     "the request did not arrive within " +
                         std::to_string(limits_.request_timeout.count()) + " ms");
        ::close(p.c.fd);
        continue;
      }
      kept.push_back(std::move(p));
    }
    pending = std::move(kept);
    if (accepting && (fds[1].revents & POLLIN)) {
      while (pending.size() < limits_.max_connections) {
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd >= 0) {
          pending.push_back({Connection{fd, {}, 0}, Clock::now() + limits_.request_timeout, false});
          continue;
        }
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
          accept_paused_until = Clock::now() + std::chrono::milliseconds(100);  // out of files
        } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
          ok = stopping_;
          stopping_ = true;
        }
        break;
      }
    }
  }
  ::close(listen_fd_);
  listen_fd_ = -1;
  for (const Pending& p : pending) ::close(p.c.fd);
  pool.shutdown();  // the requests being answered finish; their connections close
  std::lock_guard<std::mutex> lock(returned_mu_);
  for (const Connection& c : returned_) ::close(c.fd);
  returned_.clear();
  return ok;
}

}  // namespace attnscope::app

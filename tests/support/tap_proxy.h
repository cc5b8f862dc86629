// A recording TCP tap for privacy tests: put it between two services and look at every byte that crossed.
//
//   auto tap = openpcc::test_support::TapProxy::start(gateway_port);       // listens on 127.0.0.1:<tap->port()>
//   ASSERT_TRUE(tap) << tap.error().to_string();
//   relay_config.gateway_url = "http://127.0.0.1:" + std::to_string((*tap)->port()) + "/";
//   ... run requests ...
//   EXPECT_EQ((*tap)->received().find("X-Forwarded-For"), std::string::npos);   // what the gateway received
//   (*tap)->stop();
//
// Each accepted connection gets its own connection to 127.0.0.1:target_port and two threads copying bytes, one per
// direction, with blocking sockets (test code: simple beats scalable). A half-close is passed on (EOF from one side
// → shutdown(SHUT_WR) towards the other), so HTTP framing that relies on it still works. The recordings:
//   received()  bytes from the connecting side, i.e. what the target received (all connections, in accept order)
//   sent()      bytes the target sent back (likewise)
//   connections() one {received, sent} pair per connection;  connection_count()
// Bytes are recorded before they are forwarded, so once a peer has seen a byte, the recording has it. Every accessor
// is thread-safe and returns a copy. stop() (also the destructor) closes the listener and every connection and joins
// the threads; it is idempotent.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"

namespace openpcc::test_support {

class TapProxy {
 public:
  struct Connection {
    std::string received;  // client → target
    std::string sent;      // target → client
  };

  static Result<std::unique_ptr<TapProxy>> start(uint16_t target_port) {
    std::unique_ptr<TapProxy> tap(new TapProxy(target_port));
    tap->listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (tap->listen_fd_ < 0) return std::unexpected(errno_error("socket"));
    const int one = 1;
    ::setsockopt(tap->listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr = loopback(0);
    if (::bind(tap->listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      return std::unexpected(errno_error("bind 127.0.0.1:0"));
    }
    if (::listen(tap->listen_fd_, 64) != 0) return std::unexpected(errno_error("listen"));
    socklen_t length = sizeof addr;
    if (::getsockname(tap->listen_fd_, reinterpret_cast<sockaddr*>(&addr), &length) != 0) {
      return std::unexpected(errno_error("getsockname"));
    }
    tap->port_ = ntohs(addr.sin_port);
    TapProxy* raw = tap.get();
    tap->accept_thread_ = std::thread([raw] { raw->accept_loop(); });
    return tap;
  }

  TapProxy(const TapProxy&) = delete;
  TapProxy& operator=(const TapProxy&) = delete;
  ~TapProxy() { stop(); }

  uint16_t port() const { return port_; }
  uint16_t target_port() const { return target_port_; }
  // "http://127.0.0.1:<port>" + path, for pointing a service at the tap.
  std::string url(const std::string& path = "/") const { return "http://127.0.0.1:" + std::to_string(port_) + path; }

  std::string received() const {
    std::lock_guard lock(mutex_);
    std::string out;
    for (const auto& c : connections_) out += c->record.received;
    return out;
  }

  std::string sent() const {
    std::lock_guard lock(mutex_);
    std::string out;
    for (const auto& c : connections_) out += c->record.sent;
    return out;
  }

  std::vector<Connection> connections() const {
    std::lock_guard lock(mutex_);
    std::vector<Connection> out;
    for (const auto& c : connections_) out.push_back(c->record);
    return out;
  }

  // The source port of each accepted connection (the connecting side's address is always 127.0.0.1), so that a test
  // can look for the client's address in what a service further on received.
  std::vector<uint16_t> peer_ports() const {
    std::lock_guard lock(mutex_);
    return peer_ports_;
  }

  size_t connection_count() const {
    std::lock_guard lock(mutex_);
    return connections_.size();
  }

  void stop() {
    {
      std::lock_guard lock(mutex_);
      if (stopped_) return;
      stopped_ = true;
      // shutdown() wakes threads blocked in accept/recv on these sockets; they close nothing themselves.
      if (listen_fd_ >= 0) ::shutdown(listen_fd_, SHUT_RDWR);
      for (auto& c : connections_) {
        ::shutdown(c->client_fd, SHUT_RDWR);
        if (c->target_fd >= 0) ::shutdown(c->target_fd, SHUT_RDWR);
      }
    }
    if (accept_thread_.joinable()) accept_thread_.join();
    std::vector<std::thread> threads;
    {
      std::lock_guard lock(mutex_);
      threads.swap(threads_);
    }
    for (auto& t : threads) t.join();
    std::lock_guard lock(mutex_);
    if (listen_fd_ >= 0) ::close(listen_fd_);
    listen_fd_ = -1;
    for (auto& c : connections_) {
      if (c->client_fd >= 0) ::close(c->client_fd);
      if (c->target_fd >= 0) ::close(c->target_fd);
      c->client_fd = c->target_fd = -1;
    }
  }

 private:
  struct Link {
    int client_fd = -1;
    int target_fd = -1;
    Connection record;
  };

  explicit TapProxy(uint16_t target_port) : target_port_(target_port) {}

  static sockaddr_in loopback(uint16_t port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return addr;
  }

  static Error errno_error(const std::string& what) {
    return Error{ErrorCode::kIo, "tap proxy: " + what + ": " + std::strerror(errno)};
  }

  void accept_loop() {
    for (;;) {
      sockaddr_in peer{};
      socklen_t peer_length = sizeof peer;
      const int client = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &peer_length, SOCK_CLOEXEC);
      if (client < 0) {
        if (errno == EINTR) continue;
        return;  // stop() shut the listener down
      }
      const int one = 1;
      ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      int target = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in addr = loopback(target_port_);
      if (target >= 0 && ::connect(target, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(target);
        target = -1;
      }
      if (target >= 0) ::setsockopt(target, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      std::lock_guard lock(mutex_);
      if (stopped_) {
        ::close(client);
        if (target >= 0) ::close(target);
        return;
      }
      peer_ports_.push_back(ntohs(peer.sin_port));
      auto link = std::make_unique<Link>();
      link->client_fd = client;
      link->target_fd = target;
      Link* raw = link.get();
      connections_.push_back(std::move(link));
      if (target < 0) {
        ::shutdown(client, SHUT_RDWR);  // the target is down: the client sees its connection close at once
        continue;
      }
      threads_.emplace_back([this, raw] { pump(raw->client_fd, raw->target_fd, &raw->record.received); });
      threads_.emplace_back([this, raw] { pump(raw->target_fd, raw->client_fd, &raw->record.sent); });
    }
  }

  // Copies from → to until EOF or an error, recording each piece first; then half-closes `to`.
  void pump(int from, int to, std::string* record) {
    char buffer[16 * 1024];
    for (;;) {
      const ssize_t n = ::recv(from, buffer, sizeof buffer, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      {
        std::lock_guard lock(mutex_);
        record->append(buffer, static_cast<size_t>(n));
      }
      size_t done = 0;
      while (done < static_cast<size_t>(n)) {
        const ssize_t w = ::send(to, buffer + done, static_cast<size_t>(n) - done, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
          ::shutdown(from, SHUT_RD);  // the other side is gone: stop reading this one
          return;
        }
        done += static_cast<size_t>(w);
      }
    }
    ::shutdown(to, SHUT_WR);
  }

  const uint16_t target_port_;
  uint16_t port_ = 0;
  int listen_fd_ = -1;
  std::thread accept_thread_;
  mutable std::mutex mutex_;
  bool stopped_ = false;
  std::vector<std::unique_ptr<Link>> connections_;
  std::vector<uint16_t> peer_ports_;
  std::vector<std::thread> threads_;
};

}  // namespace openpcc::test_support

#include "common/loopback_port.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <utility>
#include <vector>

#include "common/random.h"

namespace openpcc {
namespace {

// Lowest port we draw from: above the registered services most machines run, and far from 0..1023.
constexpr int kLowestPort = 10000;

// The kernel's ephemeral range; the Linux default when it cannot be read.
std::pair<int, int> ephemeral_range() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 0, high = 0;
  if (in >> low >> high && low > 0 && high >= low && high <= 65535) return {low, high};
  return {32768, 60999};
}

// A socket bound to 127.0.0.1:port (port 0: any), or -1. No SO_REUSEADDR: a port still in TIME_WAIT counts as taken.
int bind_loopback(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

int bound_port(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return -1;
  return ntohs(addr.sin_port);
}

// True if ports first..first+count-1 can all be bound now (each socket closed again).
bool all_free(int first, int count) {
  std::vector<int> fds;
  bool ok = true;
  for (int i = 0; i < count && ok; ++i) {
    const int fd = bind_loopback(first + i);
    if (fd < 0) ok = false;
    else fds.push_back(fd);
  }
  for (int fd : fds) close(fd);
  return ok;
}

}  // namespace

Result<int> pick_loopback_port(int count) {
  if (count < 1 || count > 16) return make_error(ErrorCode::kInvalidArgument, "pick_loopback_port: count must be 1..16");
  const int low = ephemeral_range().first;
  const int span = low - count - kLowestPort;  // candidates kLowestPort .. low - count
  if (span >= 1000) {
    for (int attempt = 0; attempt < 200; ++attempt) {
      const int first = kLowestPort + static_cast<int>(random_uniform(static_cast<uint64_t>(span) + 1));
      if (all_free(first, count)) return first;
    }
  }
  // No room below the ephemeral range (or all taken): let the kernel choose, then check the ports after it.
  for (int attempt = 0; attempt < 50; ++attempt) {
    const int fd = bind_loopback(0);
    if (fd < 0) break;
    const int first = bound_port(fd);
    close(fd);
    if (first > 0 && first + count - 1 <= 65535 && all_free(first, count)) return first;
  }
  return make_error(ErrorCode::kUnavailable, "no free port on 127.0.0.1");
}

LoopbackPortReservation::LoopbackPortReservation(LoopbackPortReservation&& other) noexcept
    : port_(std::exchange(other.port_, 0)), fds_(std::exchange(other.fds_, {})) {}

LoopbackPortReservation& LoopbackPortReservation::operator=(LoopbackPortReservation&& other) noexcept {
  if (this != &other) {
    release();
    port_ = std::exchange(other.port_, 0);
    fds_ = std::exchange(other.fds_, {});
  }
  return *this;
}

LoopbackPortReservation::~LoopbackPortReservation() { release(); }

void LoopbackPortReservation::release() {
  for (int fd : fds_) close(fd);
  fds_.clear();
}

Result<LoopbackPortReservation> reserve_loopback_ports(int count) {
  for (int attempt = 0; attempt < 20; ++attempt) {
    auto first = pick_loopback_port(count);
    if (!first) return std::unexpected(first.error());
    LoopbackPortReservation held;
    held.port_ = *first;
    bool ok = true;
    for (int i = 0; i < count && ok; ++i) {
      const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      const int one = 1;
      if (fd < 0) return make_error(ErrorCode::kIo, "socket() failed");
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      addr.sin_port = htons(static_cast<uint16_t>(*first + i));
      if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
          bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        close(fd);
        ok = false;  // taken between the pick and now: pick again
      } else {
        held.fds_.push_back(fd);
      }
    }
    if (ok) return held;
  }
  return make_error(ErrorCode::kUnavailable, "no free port on 127.0.0.1 could be reserved");
}

}  // namespace openpcc

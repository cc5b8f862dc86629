// Choosing a TCP port on 127.0.0.1 for another process to listen on (a service of the local stack, a swtpm, a
// PostgreSQL server in tests).
//
// The usual trick, bind to port 0 and close, draws from the kernel's ephemeral range
// (/proc/sys/net/ipv4/ip_local_port_range), the same range outgoing connections take their local ports from: between
// the close and the other process's bind, any connection to 127.0.0.1 (a parallel test's, a pooled one) can take the
// port, and the listener fails with "Address already in use". These ports are drawn at random from below that range
// instead, where the kernel hands out nothing by itself.
#pragma once

#include <vector>

#include "common/error.h"

namespace openpcc {

// A port P on 127.0.0.1 such that P, P + 1, ..., P + count - 1 are all free right now (count 1..16), below the
// ephemeral range when there is room there (else from it). Another process may still take it before it is used;
// callers that can retry should.
Result<int> pick_loopback_port(int count = 1);

// Ports held for a process that is about to listen on them. Each is bound (SO_REUSEADDR, never listening) until
// release() or destruction, so pick_loopback_port in this or any other process sees it as taken, while a listener
// that sets SO_REUSEADDR (our services, PostgreSQL) can still bind and listen on it. Programs that bind without
// SO_REUSEADDR need release() first.
class LoopbackPortReservation {
 public:
  LoopbackPortReservation() = default;
  LoopbackPortReservation(LoopbackPortReservation&& other) noexcept;
  LoopbackPortReservation& operator=(LoopbackPortReservation&& other) noexcept;
  LoopbackPortReservation(const LoopbackPortReservation&) = delete;
  LoopbackPortReservation& operator=(const LoopbackPortReservation&) = delete;
  ~LoopbackPortReservation();

  int port() const { return port_; }  // the first of the reserved ports; 0 when empty
  void release();

 private:
  friend Result<LoopbackPortReservation> reserve_loopback_ports(int count);
  int port_ = 0;
  std::vector<int> fds_;
};

// pick_loopback_port(count), then held as above.
Result<LoopbackPortReservation> reserve_loopback_ports(int count = 1);

}  // namespace openpcc

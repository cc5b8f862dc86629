#include "common/loopback_port.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>

namespace openpcc {
namespace {

int listen_on(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd, 1) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

int ephemeral_low() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 0, high = 0;
  return in >> low >> high ? low : 32768;
}

TEST(LoopbackPort, PortsAreFreeAndBelowTheEphemeralRange) {
  const int low = ephemeral_low();
  for (int count : {1, 2, 3}) {
    auto port = pick_loopback_port(count);
    ASSERT_TRUE(port) << port.error().to_string();
    if (low - count > 11000) {
      EXPECT_GE(*port, 10000);
      EXPECT_LE(*port + count - 1, low - 1);
    }
    for (int i = 0; i < count; ++i) {  // each one can be listened on now
      const int fd = listen_on(*port + i);
      EXPECT_GE(fd, 0) << "port " << *port + i;
      if (fd >= 0) close(fd);
    }
  }
}

TEST(LoopbackPort, APortInUseIsNeverPicked) {
  auto taken = pick_loopback_port(1);
  ASSERT_TRUE(taken);
  const int fd = listen_on(*taken);
  ASSERT_GE(fd, 0);
  for (int i = 0; i < 200; ++i) {
    auto pair = pick_loopback_port(2);
    ASSERT_TRUE(pair);
    EXPECT_FALSE(*pair == *taken || *pair + 1 == *taken);
  }
  close(fd);
}

TEST(LoopbackPort, CountOutOfRangeIsRefused) {
  EXPECT_FALSE(pick_loopback_port(0));
  EXPECT_FALSE(pick_loopback_port(17));
}

}  // namespace
}  // namespace openpcc

namespace openpcc {
namespace {

// A reserved port is taken for every picker, yet a listener with SO_REUSEADDR (as our services set) can use it.
TEST(LoopbackPort, AReservedPortIsTakenForPickersButOpenToAReuseAddrListener) {
  auto held = reserve_loopback_ports(2);
  ASSERT_TRUE(held) << held.error().to_string();
  const int port = held->port();
  EXPECT_LT(listen_on(port), 0);  // a plain bind (as the picker probes) fails
  for (int i = 0; i < 200; ++i) {
    auto other = pick_loopback_port(1);
    ASSERT_TRUE(other);
    EXPECT_NE(*other, port);
    EXPECT_NE(*other, port + 1);
  }
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  const int one = 1;
  ASSERT_EQ(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one), 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  EXPECT_EQ(listen(fd, 1), 0);
  close(fd);

  held->release();
  const int after = listen_on(port + 1);  // released: free for anyone
  EXPECT_GE(after, 0);
  if (after >= 0) close(after);
}

}  // namespace
}  // namespace openpcc

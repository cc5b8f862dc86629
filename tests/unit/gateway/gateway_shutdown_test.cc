// The gateway's shutdown with a request stuck on a stalled upstream: the upstream stream is cut when the grace period
// ends instead of when its read timeout does.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "unit/gateway/gateway_test_support.h"

namespace openpcc::gateway {
namespace {

using namespace gwtest;

// The bound checked is half the upstream read timeout (60 s), with a grace of 200 ms: the test cannot fail on a slow
// machine, only when the stream is not cut.
TEST(GatewayShutdown, AStalledUpstreamIsCutWhenTheGraceEnds) {
  std::atomic<bool> arrived{false};
  std::atomic<bool> release{false};
  FakeUpstream bank([&](const SeenRequest&, net::ServerResponse& res) -> net::Task<Status> {
    arrived = true;
    const auto give_up = std::chrono::steady_clock::now() + 60s;
    while (!release && std::chrono::steady_clock::now() < give_up) co_await net::sleep_for(20ms);
    co_return co_await res.send(200, net::Headers(), std::string_view("late"));
  });
  GatewayUnderTest gw;
  gw.start(bank.url(), dead_url(), [](ServiceConfig& config) { config.upstream_read_timeout = 60s; });
  ASSERT_TRUE(gw.service);
  auto pending = std::async(std::launch::async, [&gw] {
    return send_whole(gw.url() + "/", gw.current_key(),
                      inner_request("POST", "confsec-bank.invalid", "/deposit", to_bytes("credit")));
  });
  ASSERT_TRUE(eventually([&] { return arrived.load(); }, 10s)) << "the request never reached the bank";

  auto stopped = std::async(std::launch::async, [&gw] { gw.service->shutdown(200ms); });
  const bool in_time = stopped.wait_for(30s) == std::future_status::ready;
  release = true;  // let a failing run end
  EXPECT_TRUE(in_time) << "the shutdown waited for the stalled upstream";
  stopped.get();
  RawAnswer answer = pending.get();
  EXPECT_FALSE(answer.inner && answer.inner->status == 200) << "the stalled answer arrived after all";
}

}  // namespace
}  // namespace openpcc::gateway

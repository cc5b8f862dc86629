// ClientStream::abort() and AbortGroup: a stream closed on purpose ends its exchange at once for both sides — the
// server's handler sees the connection end (not its body read timeout), the client's pending calls fail with kIo.
// The tests assert what each side observes; the waits only guard against hangs.
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "net/client.h"
#include "net/runtime.h"
#include "net/server.h"

namespace openpcc::net {
namespace {

using namespace std::chrono_literals;

constexpr auto kLiveness = 20s;  // hang guard for things that should happen promptly

std::string url_for(const Server& server) { return "http://127.0.0.1:" + std::to_string(server.port()) + "/"; }

// Reads request bodies and reports how each one ended: success, or the read error's code.
class BodyReader {
 public:
  explicit BodyReader(Runtime& rt, std::chrono::milliseconds body_read_timeout = 60s) {
    ServerConfig config;
    config.body_read_timeout = body_read_timeout;  // far beyond kLiveness: a timeout would fail the tests
    config.name = "body-reader";
    auto server = Server::start(rt, config, [this](ServerRequest& req, ServerResponse& res) -> Task<Status> {
      for (;;) {
        auto piece = co_await req.read_chunk();
        if (!piece) {
          outcome_.set_value(piece.error().code);
          co_return std::unexpected(piece.error());
        }
        if (!*piece) break;
        if (!first_piece_set_) {
          first_piece_set_ = true;
          first_piece_.set_value();
        }
      }
      outcome_.set_value(std::nullopt);
      co_return co_await res.send(200, {}, std::string_view("complete"));
    });
    EXPECT_TRUE(server) << server.error().to_string();
    server_ = std::move(*server);
  }
  ~BodyReader() { server_->shutdown(1s); }

  std::string url() const { return url_for(*server_); }
  bool first_piece_arrived() { return first_piece_.get_future().wait_for(kLiveness) == std::future_status::ready; }
  // nullopt: the body ended normally; otherwise the code of the read error.
  std::optional<std::optional<ErrorCode>> outcome() {
    auto f = outcome_.get_future();
    if (f.wait_for(kLiveness) != std::future_status::ready) return std::nullopt;
    return f.get();
  }

 private:
  std::unique_ptr<Server> server_;
  bool first_piece_set_ = false;
  std::promise<void> first_piece_;
  std::promise<std::optional<ErrorCode>> outcome_;
};

TEST(ClientAbort, TheServerSeesAnAbortedUploadEndAtOnce) {
  Runtime server_rt(2);
  Runtime client_rt(2);
  BodyReader reader(server_rt);
  auto client = Client::create();
  ASSERT_TRUE(client);

  std::unique_ptr<ClientStream> stream;
  auto opened = client_rt.block_on([&]() -> Task<Status> {
    auto s = co_await client->open("POST", reader.url(), Headers());
    if (!s) co_return std::unexpected(s.error());
    stream = std::move(*s);
    co_return co_await stream->write_chunk(as_bytes(std::string_view("first piece")));
  });
  ASSERT_TRUE(opened) << opened.error().to_string();
  ASSERT_TRUE(reader.first_piece_arrived());

  client_rt.block_on([&]() -> Task<void> {
    stream->abort();
    co_return;
  });
  const auto outcome = reader.outcome();
  ASSERT_TRUE(outcome) << "the server still waits for the body";
  ASSERT_TRUE(*outcome) << "the body ended normally";
  EXPECT_EQ(**outcome, ErrorCode::kIo);  // the connection ended, not kTimeout

  // The stream is dead for the client too, and aborting again changes nothing.
  auto after = client_rt.block_on([&]() -> Task<std::vector<Status>> {
    stream->abort();
    std::vector<Status> results;
    results.push_back(co_await stream->write_chunk(as_bytes(std::string_view("more"))));
    results.push_back(co_await stream->finish());
    results.push_back(co_await stream->read_head());
    co_return results;
  });
  for (const Status& s : after) {
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, ErrorCode::kIo) << s.error().to_string();
  }
  client_rt.block_on([&]() -> Task<void> {
    stream.reset();
    co_return;
  });
}

// A server that takes requests and never answers until released.
class SilentServer {
 public:
  explicit SilentServer(Runtime& rt) {
    ServerConfig config;
    config.name = "silent";
    auto server = Server::start(rt, config, [this](ServerRequest& req, ServerResponse& res) -> Task<Status> {
      (void)co_await req.read_all();
      ++arrived_;
      while (!released_) co_await sleep_for(5ms);
      co_return co_await res.send(200, {}, std::string_view("late"));
    });
    EXPECT_TRUE(server) << server.error().to_string();
    server_ = std::move(*server);
  }
  ~SilentServer() {
    released_ = true;
    server_->shutdown(1s);
  }
  std::string url() const { return url_for(*server_); }
  int arrived() const { return arrived_.load(); }

 private:
  std::unique_ptr<Server> server_;
  std::atomic<int> arrived_{0};
  std::atomic<bool> released_{false};
};

TEST(ClientAbort, AbortEndsAWaitForTheResponseHead) {
  Runtime server_rt(2);
  Runtime client_rt(2);
  SilentServer silent(server_rt);
  auto client = Client::create();
  ASSERT_TRUE(client);
  auto result = client_rt.block_on([&]() -> Task<Status> {
    auto s = co_await client->open("POST", silent.url(), Headers());
    if (!s) co_return std::unexpected(s.error());
    ClientStream& stream = **s;
    if (auto ok = co_await stream.finish(); !ok) co_return ok;
    auto waiter = [&]() -> Task<Status> { co_return co_await stream.read_head(); };
    auto aborter = [&]() -> Task<Status> {
      while (silent.arrived() == 0) co_await sleep_for(5ms);
      stream.abort();
      co_return Status{};
    };
    co_return co_await run_concurrently(waiter(), aborter());
  });
  ASSERT_FALSE(result) << "the head arrived from a server that never answers";
  EXPECT_EQ(result.error().code, ErrorCode::kIo) << result.error().to_string();
}

TEST(ClientAbort, AGroupCutsItsStreamsFromAnotherThreadAndRefusesNewOnes) {
  Runtime server_rt(2);
  Runtime client_rt(2);
  SilentServer silent(server_rt);
  auto group = std::make_shared<AbortGroup>();
  ClientOptions options;
  options.abort_group = group;
  options.read_timeout = 60s;  // only the abort can end the waits in time
  auto grouped = Client::create(options);
  ASSERT_TRUE(grouped);

  constexpr int kStreams = 3;
  std::vector<std::future<Result<ClientResponse>>> waits;
  std::vector<std::shared_ptr<std::promise<Result<ClientResponse>>>> promises;
  for (int i = 0; i < kStreams; ++i) {
    auto promise = std::make_shared<std::promise<Result<ClientResponse>>>();
    waits.push_back(promise->get_future());
    client_rt.spawn([&grouped, &silent, promise]() -> Task<void> {
      promise->set_value(co_await grouped->fetch({"POST", silent.url(), to_bytes("request")}));
    });
  }
  const auto until = std::chrono::steady_clock::now() + kLiveness;
  while (silent.arrived() < kStreams && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(5ms);
  ASSERT_EQ(silent.arrived(), kStreams);
  EXPECT_FALSE(group->aborted());

  group->abort_all();  // from the test's thread, not a runtime thread
  EXPECT_TRUE(group->aborted());
  for (auto& wait : waits) {
    ASSERT_EQ(wait.wait_for(kLiveness), std::future_status::ready) << "a stream of the group was not cut";
    auto result = wait.get();
    ASSERT_FALSE(result) << "answered: " << result->status;
    EXPECT_EQ(result.error().code, ErrorCode::kIo) << result.error().to_string();
  }

  // Streams opened after the abort fail at once.
  auto late = client_rt.block_on([&]() -> Task<Result<ClientResponse>> {
    co_return co_await grouped->fetch({"POST", silent.url(), to_bytes("late")});
  });
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code, ErrorCode::kIo);
  EXPECT_EQ(silent.arrived(), kStreams) << "a request went out after the abort";
}

}  // namespace
}  // namespace openpcc::net

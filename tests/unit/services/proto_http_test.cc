// Protobuf-over-HTTP helpers, routes, config reading and the blocking pool, over real loopback sockets.
#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "net/blocking_pool.h"
#include "net/client.h"
#include "net/runtime.h"
#include "net/server.h"
#include "openpcc/anonpay_banking.pb.h"
#include "openpcc/httpfmt.pb.h"
#include "services/common/config.h"
#include "services/common/proto_http.h"

namespace openpcc::services {
namespace {

class ProtoHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Routes routes;
    routes.add("POST", "/balance", [](net::ServerRequest& req, net::ServerResponse& res) -> net::Task<Status> {
      pb::BalanceRequest in;
      if (auto ok = co_await read_proto(req, in, 64); !ok) co_return co_await send_error(res, ok.error());
      pb::BalanceResponse out;
      out.set_balance(static_cast<int64_t>(in.account_token().size()));
      co_return co_await send_proto(res, 200, out);
    });
    routes.add("POST", "/fail", [](net::ServerRequest& req, net::ServerResponse& res) -> net::Task<Status> {
      Error e{ErrorCode::kInternal, "secret detail that must not leak"};
      co_return co_await send_error(res, e);
    });
    routes.add("POST", "/busy", [](net::ServerRequest& req, net::ServerResponse& res) -> net::Task<Status> {
      Error e{ErrorCode::kUnavailable, "database /var/lib/money.db is locked"};
      co_return co_await send_error(res, e);
    });
    routes.add("POST", "/no-candidate", [](net::ServerRequest& req, net::ServerResponse& res) -> net::Task<Status> {
      co_return co_await send_message(res, 503, "all candidate nodes unavailable");
    });
    auto server = net::Server::start(runtime_, net::ServerConfig{}, routes.handler());
    ASSERT_TRUE(server) << server.error().to_string();
    server_ = std::move(*server);
  }
  void TearDown() override { server_->shutdown(std::chrono::seconds(2)); }

  net::ClientResponse post(std::string path, std::string body, std::string type = "application/octet-stream") {
    net::ClientRequest request("POST", "http://127.0.0.1:" + std::to_string(server_->port()) + path,
                               Bytes(body.begin(), body.end()));
    if (!type.empty()) request.headers.set("Content-Type", type);
    auto response = net::fetch_blocking(std::move(request));
    EXPECT_TRUE(response) << response.error().to_string();
    return response ? *response : net::ClientResponse{};
  }

  net::Runtime runtime_{1};
  std::unique_ptr<net::Server> server_;
};

TEST_F(ProtoHttpTest, RoundTripsAMessage) {
  pb::BalanceRequest in;
  in.set_account_token(std::string(32, 'a'));
  auto response = post("/balance", in.SerializeAsString());
  ASSERT_EQ(response.status, 200);
  EXPECT_EQ(response.headers.get("Content-Type").value_or(""), "application/octet-stream");
  pb::BalanceResponse out;
  ASSERT_TRUE(out.ParseFromArray(response.body.data(), static_cast<int>(response.body.size())));
  EXPECT_EQ(out.balance(), 32);
}

TEST_F(ProtoHttpTest, RejectsWrongMediaTypeTooLargeAndGarbage) {
  EXPECT_EQ(post("/balance", "", "application/json").status, 415);
  EXPECT_EQ(post("/balance", "", "").status, 415);
  EXPECT_EQ(post("/balance", "", "Application/Octet-Stream; x=y").status, 200);
  pb::BalanceRequest big;
  big.set_account_token(std::string(100, 'a'));
  EXPECT_EQ(post("/balance", big.SerializeAsString()).status, 413);
  auto garbage = post("/balance", std::string("\xff\xff\xff", 3));
  EXPECT_EQ(garbage.status, 400);
  EXPECT_NE(error_message_from_body(garbage.body).find("not a valid"), std::string::npos);
}

TEST_F(ProtoHttpTest, UnknownPathAndMethod) {
  EXPECT_EQ(post("/nope", "").status, 404);
  auto response = net::fetch_blocking(
      net::ClientRequest("GET", "http://127.0.0.1:" + std::to_string(server_->port()) + "/balance"));
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 405);
  EXPECT_EQ(response->headers.get("Allow").value_or(""), "POST");
  // The query string does not take part in matching.
  EXPECT_EQ(post("/balance?x=1", "").status, 200);
}

TEST_F(ProtoHttpTest, ServerErrorsDoNotLeakDetails) {
  auto response = post("/fail", "");
  EXPECT_EQ(response.status, 500);
  EXPECT_EQ(error_message_from_body(response.body), "internal error");
  auto busy = post("/busy", "");
  EXPECT_EQ(busy.status, 503);
  EXPECT_EQ(error_message_from_body(busy.body), "temporarily unavailable");
}

TEST_F(ProtoHttpTest, AMessageChosenForTheClientIsSentAsItIs) {
  auto response = post("/no-candidate", "");
  EXPECT_EQ(response.status, 503);
  EXPECT_EQ(response.headers.get("Content-Type").value_or(""), "application/octet-stream");
  EXPECT_EQ(error_message_from_body(response.body), "all candidate nodes unavailable");
}

TEST(HttpStatus, MapsEveryKind) {
  EXPECT_EQ(http_status_for(ErrorCode::kDecode), 400);
  EXPECT_EQ(http_status_for(ErrorCode::kAuthenticationFailed), 400);
  EXPECT_EQ(http_status_for(ErrorCode::kUnauthenticated), 401);
  EXPECT_EQ(http_status_for(ErrorCode::kConflict), 409);
  EXPECT_EQ(http_status_for(ErrorCode::kAlreadyUsed), 410);
  EXPECT_EQ(http_status_for(ErrorCode::kInsufficientBalance), 429);
  EXPECT_EQ(http_status_for(ErrorCode::kUnavailable), 503);
  EXPECT_EQ(http_status_for(ErrorCode::kInternal), 500);
}

TEST(BlockingPool, RunsOffTheRuntimeThreadAndResumes) {
  net::Runtime runtime(1);
  net::BlockingPool pool(2);
  auto result = runtime.block_on([&]() -> net::Task<std::pair<bool, int>> {
    auto caller = std::this_thread::get_id();
    std::thread::id worker;
    int value = co_await pool.run([&] {
      worker = std::this_thread::get_id();
      return 42;
    });
    bool back_on_runtime = runtime.in_runtime_thread();
    co_return std::pair<bool, int>{worker != caller && back_on_runtime, value};
  });
  EXPECT_TRUE(result.first);
  EXPECT_EQ(result.second, 42);
}

TEST(BlockingPool, ManyConcurrentCalls) {
  net::Runtime runtime(2);
  net::BlockingPool pool(3);
  std::atomic<int> done{0};
  for (int i = 0; i < 50; ++i) {
    runtime.spawn([&]() -> net::Task<void> {
      co_await pool.run([] { std::this_thread::sleep_for(std::chrono::milliseconds(1)); });
      done.fetch_add(1);
    });
  }
  for (int i = 0; i < 500 && done.load() < 50; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(done.load(), 50);
}

TEST(Config, ReadsTypedValuesAndRejectsUnknownKeys) {
  auto json = nlohmann::json::parse(R"({"listen":"127.0.0.1:0","limit":5,"tls":{"cert":"a"},"flag":true})");
  ConfigReader cfg(json, "svc");
  EXPECT_EQ(cfg.string("listen"), "127.0.0.1:0");
  EXPECT_EQ(cfg.integer("limit", 1, 1, 10), 5);
  EXPECT_TRUE(cfg.boolean("flag", false));
  ConfigReader& tls = cfg.object("tls");
  EXPECT_EQ(tls.string("cert"), "a");
  EXPECT_TRUE(cfg.finish());

  ConfigReader unknown(json, "svc");
  unknown.string("listen");
  auto ok = unknown.finish();
  ASSERT_FALSE(ok);
  EXPECT_NE(ok.error().message.find("unknown key svc."), std::string::npos);

  ConfigReader nested(json, "svc");
  nested.string("listen");
  nested.integer("limit", 1, 1, 10);
  nested.boolean("flag", false);
  nested.object("tls");  // "cert" never read
  ok = nested.finish();
  ASSERT_FALSE(ok);
  EXPECT_NE(ok.error().message.find("svc.tls.cert"), std::string::npos);

  ConfigReader range(json, "svc");
  range.integer("limit", 1, 6, 10);
  EXPECT_FALSE(range.finish());
}

TEST(Config, NumbersTakeIntegersAndFractionsWithinBounds) {
  auto json = nlohmann::json::parse(R"({"half":0.5,"one":1,"big":1e300,"neg":-0.25,"text":"0.5","flag":true})");
  ConfigReader cfg(json, "svc");
  EXPECT_DOUBLE_EQ(cfg.number("half", 0.9, 0.0, 1.0), 0.5);
  EXPECT_DOUBLE_EQ(cfg.number("one", 0.9, 0.0, 1.0), 1.0);
  EXPECT_DOUBLE_EQ(cfg.number("absent", 0.9, 0.0, 1.0), 0.9);
  EXPECT_DOUBLE_EQ(cfg.number("big", 0.0, 0.0, 1e308), 1e300);
  EXPECT_DOUBLE_EQ(cfg.number("neg", 0.0, -1.0, 0.0), -0.25);
  cfg.string("text");
  cfg.boolean("flag", false);
  EXPECT_TRUE(cfg.finish());

  auto failure = [&json](std::string_view key, double min, double max) {
    ConfigReader reader(json, "svc");
    EXPECT_DOUBLE_EQ(reader.number(key, 0.75, min, max), 0.75) << key;  // the default on any problem
    auto ok = reader.finish();  // the value's problem comes before the keys left unread
    return ok ? std::string() : ok.error().message;
  };
  EXPECT_NE(failure("text", 0.0, 1.0).find("svc.text must be a number"), std::string::npos);
  EXPECT_NE(failure("flag", 0.0, 1.0).find("svc.flag must be a number"), std::string::npos);
  EXPECT_NE(failure("big", 0.0, 1.0).find("svc.big must be between 0 and 1"), std::string::npos);
  EXPECT_NE(failure("half", 0.6, 1.0).find("svc.half must be between 0.6 and 1"), std::string::npos);
}

TEST(Config, ListenAddresses) {
  auto a = parse_listen_address("127.0.0.1:8080");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->first, "127.0.0.1");
  EXPECT_EQ(a->second, 8080);
  auto b = parse_listen_address("[::1]:0");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->first, "::1");
  EXPECT_FALSE(parse_listen_address("nohost"));
  EXPECT_FALSE(parse_listen_address("h:99999"));
  EXPECT_FALSE(parse_listen_address(":80"));
  EXPECT_FALSE(parse_listen_address("h:8x"));
}

TEST(Config, FileErrorsNameTheFile) {
  auto missing = read_config_file("/nonexistent/x.json");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("/nonexistent/x.json"), std::string::npos);
  auto path = std::filesystem::temp_directory_path() / "openpcc-config-test.json";
  std::ofstream(path) << "{ // comment\n \"a\": 1 }";
  EXPECT_TRUE(read_config_file(path.string()));
  std::ofstream(path) << "[1]";
  EXPECT_FALSE(read_config_file(path.string()));
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace openpcc::services

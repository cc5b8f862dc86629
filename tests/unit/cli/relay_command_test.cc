// `openpcc relay` as a process: the stdout line "listening on URL", forwarding to a gateway, health, a clean stop on
// SIGTERM, and config errors with exit status 1.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "net/client.h"
#include "net/runtime.h"
#include "net/server.h"
#include "support/service_process.h"
#include "support/temp_dir.h"

namespace openpcc::cli {
namespace {

using namespace std::chrono_literals;

std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(RelayCommand, ServesFromAConfigFileAndStopsOnSigterm) {
  net::Runtime runtime(1);
  net::ServerConfig gateway_config;
  auto gateway = net::Server::start(runtime, gateway_config,
                                    [](net::ServerRequest& req, net::ServerResponse& res) -> net::Task<Status> {
                                      auto body = co_await req.read_all();
                                      if (!body) co_return std::unexpected(body.error());
                                      net::Headers head{{"Content-Type", "message/ohttp-res"}};
                                      const std::string answer = "gateway got " + to_string(*body);
                                      co_return co_await res.send(200, std::move(head), answer);
                                    });
  ASSERT_TRUE(gateway) << gateway.error().to_string();

  test_support::TempDir dir("openpcc-relay-cli");
  const auto config = dir / "relay.json";
  std::ofstream(config) << "{\"listen\": \"127.0.0.1:0\", \"gateway_url\": \"http://127.0.0.1:"
                        << (*gateway)->port() << "/\", \"log_level\": \"debug\"}";
  test_support::ServiceProcess relay;
  auto url = relay.start({"relay", "--config", config.string()}, (dir / "relay.log").string());
  ASSERT_TRUE(url) << url.error().to_string() << read_text(dir / "relay.log");
  EXPECT_TRUE(std::regex_match(*url, std::regex(R"(http://127\.0\.0\.1:\d+)"))) << *url;

  net::ClientRequest post("POST", *url + "/", to_bytes("sealed"));
  post.headers.add("Content-Type", "message/ohttp-req");
  auto answer = net::fetch_blocking(std::move(post));
  ASSERT_TRUE(answer) << answer.error().to_string();
  EXPECT_EQ(answer->status, 200);
  EXPECT_EQ(to_string(answer->body), "gateway got sealed");
  auto health = net::fetch_blocking(net::ClientRequest("GET", *url + "/_health"));
  ASSERT_TRUE(health);
  EXPECT_EQ(to_string(health->body), R"({"status":"OK"})");

  EXPECT_EQ(relay.stop(), 0);
  const std::string log = read_text(dir / "relay.log");
  EXPECT_NE(log.find("shutting down"), std::string::npos) << log;
  (*gateway)->shutdown(1s);
}

TEST(RelayCommand, ConfigErrorsAndTheExample) {
  test_support::TempDir dir("openpcc-relay-cli");
  auto missing = test_support::run_openpcc({"relay"});
  EXPECT_EQ(missing.status, 1);
  std::ofstream(dir / "bad.json") << R"({"listen": "127.0.0.1:0"})";
  auto bad = test_support::run_openpcc({"relay", "--config", (dir / "bad.json").string()});
  EXPECT_EQ(bad.status, 1);
  EXPECT_EQ(bad.out.find("listening"), std::string::npos) << bad.out;  // the error goes to stderr

  auto example = test_support::run_openpcc({"relay", "--print-example-config"});
  ASSERT_EQ(example.status, 0);
  EXPECT_NE(example.out.find("\"gateway_url\": \"http://127.0.0.1:8082/\""), std::string::npos) << example.out;
  EXPECT_NE(example.out.find("\"log_client_addresses\": false"), std::string::npos);
}

}  // namespace
}  // namespace openpcc::cli

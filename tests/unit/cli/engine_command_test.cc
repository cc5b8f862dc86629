// `openpcc engine`: the real binary serves the test engine from a model directory it initialises, prints exactly one
// stdout line `listening on URL`, answers over that URL, and stops cleanly on SIGTERM; it refuses to start without a
// model, and its --help says it is not a language model.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "net/client.h"
#include "support/service_process.h"
#include "support/temp_dir.h"

namespace openpcc::cli {
namespace {

using test_support::run_openpcc;
using test_support::ServiceProcess;
using test_support::TempDir;

TEST(EngineCommandTest, HelpSaysItIsNotALanguageModel) {
  auto out = run_openpcc({"engine", "--help"});
  EXPECT_EQ(out.status, 0);
  EXPECT_NE(out.out.find("not a language model"), std::string::npos) << out.out;
  EXPECT_NE(out.out.find("--token-delay-ms"), std::string::npos);
  EXPECT_NE(out.out.find("--init-model"), std::string::npos);
}

TEST(EngineCommandTest, ServesTheInitialisedModelAndStops) {
  TempDir dir("openpcc-engine-cli");
  const auto model_dir = dir.path() / "model";
  ServiceProcess engine;
  auto url = engine.start({"engine", "--listen", "127.0.0.1:0", "--model-dir", model_dir.string(), "--init-model",
                           "--token-delay-ms", "1"},
                          (dir.path() / "engine.log").string());
  ASSERT_TRUE(url) << url.error().to_string();
  EXPECT_TRUE(url->starts_with("http://127.0.0.1:")) << *url;
  EXPECT_TRUE(std::filesystem::exists(model_dir / "model.json"));

  auto models = net::fetch_blocking(net::ClientRequest("GET", *url + "/v1/models"));
  ASSERT_TRUE(models) << models.error().to_string();
  EXPECT_EQ(models->status, 200);
  auto list = nlohmann::json::parse(to_string(models->body), nullptr, false);
  ASSERT_FALSE(list.is_discarded());
  EXPECT_EQ(list["data"][0]["id"], "openpcc-test-engine");

  net::Headers headers{{"Content-Type", "application/json"}};
  auto generated = net::fetch_blocking(net::ClientRequest(
      "POST", *url + "/api/generate",
      to_bytes(R"({"model":"openpcc-test-engine","prompt":"cli","stream":false,"options":{"num_predict":3}})"),
      headers));
  ASSERT_TRUE(generated) << generated.error().to_string();
  EXPECT_EQ(generated->status, 200);
  auto body = nlohmann::json::parse(to_string(generated->body), nullptr, false);
  EXPECT_EQ(body["response"], "You said: cli");
  EXPECT_EQ(body["eval_count"], 3);

  EXPECT_EQ(engine.stop(), 0);
  std::ifstream log(dir.path() / "engine.log");
  const std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("not a language model"), std::string::npos) << text;
}

TEST(EngineCommandTest, RefusesAMissingModelWithoutInit) {
  TempDir dir("openpcc-engine-cli");
  auto out = run_openpcc({"engine", "--listen", "127.0.0.1:0", "--model-dir", (dir.path() / "none").string()});
  EXPECT_NE(out.status, 0);
  EXPECT_EQ(out.out, "") << "nothing on stdout when it does not serve";
  auto no_dir = run_openpcc({"engine", "--listen", "127.0.0.1:0"});
  EXPECT_NE(no_dir.status, 0);
  auto bad_listen = run_openpcc({"engine", "--listen", "nowhere", "--model-dir", dir.path().string()});
  EXPECT_NE(bad_listen.status, 0);
}

}  // namespace
}  // namespace openpcc::cli

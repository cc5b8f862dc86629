// `openpcc computenode`: the real binary boots a node on a swtpm, prints exactly one stdout line `listening on URL`,
// answers health checks and pings there, and stops cleanly on SIGTERM; `computenode image-manifest` prints, without a
// TPM, the same image manifest `openpcc compute-boot` derives from the same model; a TPM whose PCRs were already
// measured is refused with advice.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "net/client.h"
#include "support/service_process.h"
#include "support/swtpm.h"
#include "support/temp_dir.h"

namespace openpcc::cli {
namespace {

using nlohmann::json;
using test_support::run_openpcc;
using test_support::ServiceProcess;
using test_support::TempDir;

void write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

// A node config in `dir` (model directory, badge key); tpm and engine filled in by the caller.
std::filesystem::path write_config(const TempDir& dir, const std::string& tpm, const std::string& engine) {
  std::filesystem::create_directories(dir.path() / "model");
  write_file(dir.path() / "model" / "weights.bin", "not really weights");
  if (!std::filesystem::exists(dir.path() / "badge.key.pub")) {
    auto keygen = run_openpcc({"keygen", "badge", "--out", (dir.path() / "badge.key").string()});
    EXPECT_EQ(keygen.status, 0);
  }
  json config = {{"listen", "127.0.0.1:0"},      {"tpm", tpm},
                 {"models", {"openpcc-test-engine"}}, {"engine", engine},
                 {"model_path", "model"},         {"badge_public_key", "badge.key.pub"},
                 {"image_id", "cli-test-image"}};
  const auto path = dir.path() / "node.json";
  write_file(path, config.dump(2));
  return path;
}

TEST(ComputeNodeCommandTest, HelpListsTheConfigKeys) {
  auto out = run_openpcc({"computenode", "--help"});
  EXPECT_EQ(out.status, 0);
  for (const char* key : {"tpm", "router_url", "public_url", "badge_public_key", "simulated_root", "model_path",
                          "image-manifest"}) {
    EXPECT_NE(out.out.find(key), std::string::npos) << key;
  }
  auto example = run_openpcc({"computenode", "--print-example-config"});
  EXPECT_EQ(example.status, 0);
  EXPECT_FALSE(json::parse(example.out, nullptr, false, /*ignore_comments=*/true).is_discarded());
}

TEST(ComputeNodeCommandTest, ImageManifestNeedsNoTpmAndMatchesComputeBoot) {
  TempDir dir("openpcc-computenode-cli");
  const auto config = write_config(dir, "swtpm:host=127.0.0.1,port=1", "http://127.0.0.1:1");
  auto printed = run_openpcc({"computenode", "image-manifest", "--config", config.string()});
  ASSERT_EQ(printed.status, 0) << printed.out;
  auto manifest = json::parse(printed.out, nullptr, false);
  ASSERT_FALSE(manifest.is_discarded()) << printed.out;
  EXPECT_EQ(manifest["id"], "cli-test-image");
  EXPECT_TRUE(manifest["expected_pcrs"].contains("12"));

  // Deterministic, and the model files are what PCR 12 measures.
  EXPECT_EQ(run_openpcc({"computenode", "image-manifest", "--config", config.string()}).out, printed.out);
  write_file(dir.path() / "model" / "weights.bin", "other weights");
  auto changed = json::parse(run_openpcc({"computenode", "image-manifest", "--config", config.string()}).out);
  EXPECT_NE(changed["model_digest"], manifest["model_digest"]);
  EXPECT_NE(changed["expected_pcrs"]["12"], manifest["expected_pcrs"]["12"]);
  EXPECT_EQ(changed["expected_pcrs"]["0"], manifest["expected_pcrs"]["0"]);

  // compute-boot on a real TPM with the same model writes the same manifest.
  auto swtpm = test_support::Swtpm::start();
  ASSERT_TRUE(swtpm) << swtpm.error().to_string();
  const auto out_dir = dir.path() / "boot";
  auto boot = run_openpcc({"compute-boot", "--tpm", (*swtpm)->tcti(), "--model", (dir.path() / "model").string(),
                           "--out-dir", out_dir.string(), "--image-id", "cli-test-image"});
  ASSERT_EQ(boot.status, 0) << boot.out;
  std::ifstream in(out_dir / "image-manifest.json");
  std::string written((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(json::parse(written), changed);
}

TEST(ComputeNodeCommandTest, BootsServesAndStops) {
  TempDir dir("openpcc-computenode-cli");
  auto swtpm = test_support::Swtpm::start();
  ASSERT_TRUE(swtpm) << swtpm.error().to_string();
  ServiceProcess engine;
  auto engine_url = engine.start({"engine", "--listen", "127.0.0.1:0", "--model-dir",
                                  (dir.path() / "engine-model").string(), "--init-model"},
                                 (dir.path() / "engine.log").string());
  ASSERT_TRUE(engine_url) << engine_url.error().to_string();
  const auto config = write_config(dir, (*swtpm)->tcti(), *engine_url);

  ServiceProcess node;
  auto url = node.start({"computenode", "--config", config.string()}, (dir.path() / "node.log").string());
  ASSERT_TRUE(url) << url.error().to_string();
  EXPECT_TRUE(url->starts_with("http://127.0.0.1:")) << *url;
  // The simulated root was generated next to the config.
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "simulated-root.pem"));
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "simulated-root.pem.pub"));

  auto health = net::fetch_blocking(net::ClientRequest("GET", *url + "/_health"));
  ASSERT_TRUE(health) << health.error().to_string();
  EXPECT_EQ(health->status, 200);
  net::Headers ping_headers{{"X-Confsec-Ping", "routercom"}};
  auto ping = net::fetch_blocking(net::ClientRequest("POST", *url + "/", {}, ping_headers));
  ASSERT_TRUE(ping) << ping.error().to_string();
  EXPECT_EQ(to_string(ping->body), "routercom");
  // A request without the router's headers.
  auto bare = net::fetch_blocking(net::ClientRequest("POST", *url + "/", to_bytes("x")));
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->status, 400);

  EXPECT_EQ(node.stop(), 0);

  // The TPM's PCRs now hold this boot: a second node on it (no power cycle) is refused.
  auto again = run_openpcc({"computenode", "--config", config.string()});
  EXPECT_NE(again.status, 0);
  EXPECT_EQ(again.out, "") << "nothing on stdout unless listening";
  EXPECT_EQ(engine.stop(), 0);
}

}  // namespace
}  // namespace openpcc::cli

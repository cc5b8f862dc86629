// The compute node's configuration file (strict JSON, comments allowed: unknown keys are errors; relative paths are
// relative to data_dir, which defaults to the config file's directory):
//
//   {
//     "listen": "127.0.0.1:8090",                    // host:port ([v6]:port); port 0 = any free port
//     "data_dir": ".",
//     "tpm": "swtpm:host=127.0.0.1,port=2321",      // required: TCTI (swtpm:…, mssim:…, device:/dev/tpmrm0)
//     "router_url": "http://127.0.0.1:8084",        // where heartbeats go (POST …/node-events); absent = none
//     "router_token_file": "node.token",            // the router's node registration token (router/node_token.h)
//     "public_url": "http://127.0.0.1:8090/",       // the URL the router POSTs requests to; default http://<listen>/
//     "tags": ["llm"],                              // routing tags; "model=<m>" is added for every model
//     "models": ["openpcc-test-engine"],            // required: the model names this node serves
//     "engine": "http://127.0.0.1:8000",            // required: engine URL (engine/engine.h make_engine)
//     "model_path": "model",                        // required: file or directory measured into PCR 12
//     "badge_public_key": "badge.key.pub",          // required: the AuthBank's badge key (Ed25519 SPKI PEM)
//     "simulated_root": "simulated-root.pem",       // SIMULATED TEE root key; generated if missing
//     "image_manifest_bundle": "image.bundle.json", // optional: attached as IMAGE_MANIFEST_BUNDLE evidence
//     "image_id": "local-image",                    // the id in the image manifest
//     "heartbeat_interval_ms": 60000,
//     "evidence_refresh_seconds": 21600,            // a fresh quote this often (0 = never)
//     "request_timeout_seconds": 300,               // per request, engine included
//     "max_request_bytes": 1310720,                 // encrypted request body (1 MiB prompt + framing)
//     "response_padding_block": 256,                // answers padded to multiples of this before sealing; 0 = off
//     "max_connections": 1024,
//     "threads": 2,
//     "log_level": "info"
//   }
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "services/computenode/response_padding.h"

namespace openpcc::computenode {

inline constexpr size_t kDefaultMaxRequestBytes = (1 << 20) + (256 << 10);

struct ServiceConfig {
  std::string host = "127.0.0.1";
  uint16_t port = 8090;
  std::filesystem::path data_dir;
  std::string tpm;                  // TCTI text, checked by tpm::TctiConfig::parse
  std::string router_url;           // empty = do not register
  std::filesystem::path router_token_file;  // empty = events carry no token (the router must allow that)
  std::string public_url;           // empty = http://<host>:<bound port>/
  std::vector<std::string> tags;    // the configured tags plus model=<m> for each model, without repeats
  std::vector<std::string> models;  // non-empty
  std::string engine;
  std::filesystem::path model_path;
  std::filesystem::path badge_public_key;
  std::filesystem::path simulated_root;
  std::optional<std::filesystem::path> image_manifest_bundle;
  std::string image_id = "local-image";
  std::chrono::milliseconds heartbeat_interval{60'000};
  std::chrono::seconds evidence_refresh{21'600};  // 0 = never
  std::chrono::seconds request_timeout{300};
  size_t max_request_bytes = kDefaultMaxRequestBytes;
  size_t response_padding_block = kDefaultResponsePaddingBlock;  // response_padding.h; 0 = off
  size_t max_connections = 1024;
  unsigned threads = 2;
  std::string log_level = "info";
};

// Reads and checks a config file (see above).
Result<ServiceConfig> load_service_config(const std::filesystem::path& path);
// The same from parsed JSON; relative paths resolve against `base_dir` unless data_dir says otherwise.
Result<ServiceConfig> parse_service_config(const nlohmann::json& json, const std::filesystem::path& base_dir);
// An annotated example (JSON with comments, which the reader accepts).
std::string example_service_config();
// What every key means, for --help.
std::string service_config_help();

}  // namespace openpcc::computenode

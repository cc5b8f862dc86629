// The OHTTP gateway as a running service: its configuration file, start-up (keys, upstream client, HTTP server)
// and shutdown. `openpcc gateway --config FILE` is a thin wrapper around this; gateway_http.h says what it serves.
//
// Configuration (strict JSON, comments allowed: unknown keys are errors; relative paths are relative to data_dir,
// which defaults to the config file's directory):
//
//   {
//     "listen": "127.0.0.1:8082",
//     "data_dir": ".",
//     "keys": [{"key_id": 1, "kem": "x25519-kyber768",          // or "x25519"
//               "seed_file": "ohttp-key-1.seed",                 // 32 bytes, mode 0600; generated if missing
//               "active_from": "2026-01-01T00:00:00Z", "active_until": "2027-01-01T00:00:00Z"}],
//     "key_statement": "ohttp-keys.bundle.json",   // optional: served at GET /ohttp-keys/statement
//     "bank_url": "http://127.0.0.1:8083",         // where confsec-bank.invalid requests go
//     "router_url": "http://127.0.0.1:8084",       // where confsec-router.invalid requests go
//     "upstream_ca_file": "",                      // PEM CAs for https upstreams (default: the system store)
//     "tls": {"certificate": "cert.pem", "private_key": "key.pem"},   // absent = plain HTTP
//     "limits": {"max_request_bytes": 16777216, "max_response_bytes": 16777216, "max_chunk_plaintext": 16384,
//                "max_inner_header_bytes": 16384, "max_connections": 1024},
//     "timeouts": {"upstream_connect_ms": 9000, "upstream_read_ms": 300000, "write_ms": 30000,
//                  "request_read_ms": 30000, "header_ms": 10000, "idle_ms": 60000},
//     "threads": 2,
//     "log_level": "info"
//   }
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "services/common/config.h"
#include "services/gateway/gateway_keys.h"

namespace openpcc::services {
class Metrics;
}

namespace openpcc::gateway {

using TlsFiles = services::TlsFiles;

struct ServiceConfig {
  std::string host = "127.0.0.1";
  uint16_t port = 8082;
  std::filesystem::path data_dir;
  std::vector<GatewayKeySpec> keys;                   // seed files resolved against data_dir
  std::optional<std::filesystem::path> key_statement;
  std::string bank_url;    // absolute http(s) URL, trailing slash removed
  std::string router_url;
  std::string upstream_ca_file;
  std::optional<TlsFiles> tls;
  uint64_t max_request_bytes = uint64_t{16} << 20;   // an encapsulated request body
  uint64_t max_response_bytes = uint64_t{16} << 20;  // an upstream response encapsulated whole
  size_t max_chunk_plaintext = 16384;                // per chunk of a chunked request
  size_t max_inner_header_bytes = 16384;             // the inner request's header and trailer sections
  size_t max_connections = 1024;
  std::chrono::milliseconds upstream_connect_timeout{9'000};
  std::chrono::milliseconds upstream_read_timeout{300'000};
  std::chrono::milliseconds write_timeout{30'000};
  std::chrono::milliseconds request_read_timeout{30'000};
  std::chrono::milliseconds header_timeout{10'000};
  std::chrono::milliseconds idle_timeout{60'000};
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

// The config's keys (gateway_keys.h): for the service and for publishers (`openpcc gateway keys`).
Result<GatewayKeyMaterial> load_gateway_keys(const ServiceConfig& config);

class Service {
 public:
  // Loads (or generates) the keys and starts listening. On return the service is answering requests. `clock` is
  // the time key periods are checked against (tests move it).
  static Result<std::unique_ptr<Service>> start(const ServiceConfig& config, Clock clock = system_now);

  ~Service();  // shutdown(0)

  uint16_t port() const;
  // "http://host:port" or "https://host:port" (IPv6 hosts in brackets).
  std::string url() const;
  const GatewayKeyMaterial& keys() const;
  const services::Metrics& metrics() const;

  // Stops accepting, lets requests in flight finish for up to `grace`. Idempotent.
  void shutdown(std::chrono::milliseconds grace);

 private:
  struct State;
  explicit Service(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace openpcc::gateway

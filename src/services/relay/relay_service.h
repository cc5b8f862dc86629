// The OHTTP relay as a running service: its configuration file, start-up (gateway client, optional TLS, HTTP server)
// and shutdown. `openpcc relay --config FILE` is a thin wrapper around this; relay_handler.h says what a request
// does.
//
// Configuration (strict JSON, // comments allowed: unknown keys are errors; relative paths are relative to data_dir,
// which defaults to the config file's directory):
//
//   {
//     "listen": "127.0.0.1:8080",              // host:port ([v6]:port); port 0 = any free port
//     "data_dir": ".",
//     "gateway_url": "http://127.0.0.1:8082/", // required: where encapsulated requests go (http or https)
//     "gateway_ca_file": "",                   // PEM CAs for an https gateway (default: the system store)
//     "tls": {"certificate": "cert.pem", "private_key": "key.pem"},   // absent = plain HTTP
//     "limits": {"max_body_bytes": 67108864,   // request body (413 beyond)
//                "max_connections": 1024},
//     "timeouts": {"header_ms": 10000,         // client: whole request head
//                  "body_read_ms": 30000,      // client: progress of each body read
//                  "write_ms": 30000,          // client: each response write
//                  "idle_ms": 60000,           // client: keep-alive idle time
//                  "gateway_connect_ms": 10000,
//                  "gateway_read_ms": 300000,  // progress of each read of the gateway's response (inference can
//                                              // pause between tokens; first tokens can take long)
//                  "gateway_write_ms": 30000},
//     "threads": 2,                            // network threads
//     "log_client_addresses": false,           // true de-anonymizes clients in the log: leave it off
//     "log_level": "info"                      // trace, debug, info, warn, error, off
//   }
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "services/common/config.h"
#include "services/common/metrics.h"

namespace openpcc::relay {

using TlsFiles = services::TlsFiles;

struct ServiceConfig {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;
  std::filesystem::path data_dir;
  std::string gateway_url;                  // required
  std::filesystem::path gateway_ca_file;    // empty = the system store
  std::optional<TlsFiles> tls;
  uint64_t max_body_bytes = 64ull * 1024 * 1024;
  size_t max_connections = 1024;
  std::chrono::milliseconds header_timeout{10'000};
  std::chrono::milliseconds body_read_timeout{30'000};
  std::chrono::milliseconds write_timeout{30'000};
  std::chrono::milliseconds idle_timeout{60'000};
  std::chrono::milliseconds gateway_connect_timeout{10'000};
  std::chrono::milliseconds gateway_read_timeout{300'000};
  std::chrono::milliseconds gateway_write_timeout{30'000};
  unsigned threads = 2;
  bool log_client_addresses = false;
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

class Service {
 public:
  // Starts listening; on return the relay is answering requests. Errors: a bad gateway URL or CA file, TLS files
  // that do not load, an address that cannot be bound.
  static Result<std::unique_ptr<Service>> start(const ServiceConfig& config);

  ~Service();  // shutdown(0)

  uint16_t port() const;
  // "http://host:port" or "https://host:port" (IPv6 hosts in brackets).
  std::string url() const;
  const services::Metrics& metrics() const;

  // Stops accepting, lets requests in flight finish for up to `grace`, then closes what is left. Idempotent.
  void shutdown(std::chrono::milliseconds grace);

 private:
  struct State;
  explicit Service(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace openpcc::relay

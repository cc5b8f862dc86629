// The router as a running service: its configuration file, start-up (currency key, money database with the shared
// nonce table, node registry, health checker, HTTP server) and shutdown. `openpcc router --config FILE` is a thin
// wrapper around this.
//
// Configuration (strict JSON, comments allowed; relative paths are relative to data_dir, which defaults to the
// config file's directory): see example_service_config() / service_config_help().
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
#include "crypto/rsa_blind.h"
#include "services/router/registry.h"

namespace openpcc::router {

using TlsFiles = services::TlsFiles;

struct ServiceConfig {
  std::string host = "127.0.0.1";
  uint16_t port = 8084;
  std::filesystem::path data_dir;
  std::string database;  // the money database URL; a relative sqlite: path already made absolute
  std::filesystem::path currency_key;
  size_t currency_key_bits = 2048;
  std::optional<TlsFiles> tls;
  // The node registration token file (node_token.h): every POST /node-events must present its token. Required
  // unless allow_unauthenticated_node_events (the reference's open registration, for development only).
  std::filesystem::path node_token_file;
  bool allow_unauthenticated_node_events = false;

  // Health checks and grading (registry.h, health_checker.h).
  std::chrono::milliseconds health_interval{30'000};
  std::chrono::milliseconds health_timeout{5'000};
  int health_retries = 3;
  HealthPolicy health;  // window 900 s, min_checks 3, failure_streak 3, min_success_rate 0.9
  std::chrono::seconds node_max_age{900};
  int max_manifests = 500;

  // Requests to nodes.
  std::chrono::milliseconds node_connect_timeout{5'000};
  std::chrono::seconds node_timeout{300};

  size_t max_request_bytes = 8 * 1024 * 1024;
  size_t max_event_bytes = 4 * 1024 * 1024;
  size_t max_nodes = 10'000;
  size_t max_connections = 1024;
  unsigned threads = 2;
  unsigned storage_threads = 4;
  std::string log_level = "info";
};

// Reads and checks a config file.
Result<ServiceConfig> load_service_config(const std::filesystem::path& path);
// The same from parsed JSON; relative paths resolve against `base_dir` unless data_dir says otherwise.
Result<ServiceConfig> parse_service_config(const nlohmann::json& json, const std::filesystem::path& base_dir);
// An annotated example (JSON with comments, which the reader accepts).
std::string example_service_config();
// What every key means, for --help.
std::string service_config_help();

class Service {
 public:
  // Loads the node token (kInvalidArgument without one unless allow_unauthenticated_node_events; a short or
  // malformed token is refused), the currency key (generating one of currency_key_bits if the file does not exist, as the banks do; an
  // existing key is never replaced), opens and migrates the database's nonce table, and starts listening and
  // health-checking. On return the service is answering requests.
  static Result<std::unique_ptr<Service>> start(const ServiceConfig& config, crypto::KeyGenProgress progress = {});

  ~Service();  // shutdown(0)

  uint16_t port() const;
  // "http://host:port" or "https://host:port" (IPv6 hosts in brackets).
  std::string url() const;
  Registry& registry();

  // Stops health checks and accepting, lets requests in flight finish for up to `grace`, then cuts what is left (the
  // clients' connections and the streams to nodes, so a stalled node cannot hold it longer) and stops. Idempotent.
  void shutdown(std::chrono::milliseconds grace);

 private:
  struct State;
  explicit Service(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace openpcc::router

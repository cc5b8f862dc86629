// The transparency log as a running service: its configuration file, start-up (log key, database, TLS, HTTP server,
// worker pool) and shutdown. `openpcc tlog --config FILE` is a thin wrapper around this. The HTTP API is
// tlog_http.h; docs/TRANSPARENCY.md describes both.
//
// Configuration (strict JSON, comments allowed: unknown keys are errors; relative paths are relative to data_dir,
// which defaults to the config file's directory):
//
//   {
//     "listen": "127.0.0.1:8085",             // host:port ([v6]:port); port 0 = any free port
//     "data_dir": ".",
//     "database": "sqlite:tlog.db",           // required; or "postgresql://…"
//     "origin": "tlog.example.com/openpcc",   // required: the checkpoints' origin line and the key's name
//     "log_key": "tlog.key",                  // Ed25519, PKCS#8 PEM, mode 0600; generated if missing
//     "publisher_token_hashes": ["<64 hex>"], // SHA-256 of each publisher token (`openpcc tlog --new-publisher-token`)
//     "tls": {"certificate": "cert.pem", "private_key": "key.pem"},   // absent = plain HTTP
//     "limits": {"max_entry_bytes": 262144, "max_connections": 1024},
//     "threads": 2, "storage_threads": 4, "log_level": "info"
//   }
//
// At start the verifier key ("origin+keyid+base64(0x01 ‖ key)") is logged and written next to the key file as
// `<log_key>.vkey` (mode 0644): it is what clients must be configured with.
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
#include "services/tlog/tlog.h"

namespace openpcc::tlog {

using TlsFiles = services::TlsFiles;

struct ServiceConfig {
  std::string host = "127.0.0.1";
  uint16_t port = 8085;
  std::filesystem::path data_dir;
  std::string database;  // URL; a relative sqlite: path already made absolute
  std::string origin;
  std::filesystem::path log_key;
  std::vector<std::string> publisher_token_hashes;
  // Ed25519 public keys (PEM files) whose DSSE signatures an entry needs; empty = entries are opaque bytes.
  std::vector<std::filesystem::path> publisher_keys;
  std::optional<TlsFiles> tls;
  size_t max_entry_bytes = kDefaultMaxEntryBytes;
  size_t max_connections = 1024;
  unsigned threads = 2;
  unsigned storage_threads = 4;
  std::string log_level = "info";
};

Result<ServiceConfig> load_service_config(const std::filesystem::path& path);
Result<ServiceConfig> parse_service_config(const nlohmann::json& json, const std::filesystem::path& base_dir);
std::string example_service_config();
std::string service_config_help();

// `<log_key>.vkey`
std::filesystem::path verifier_key_path(const std::filesystem::path& log_key);

class Service {
 public:
  // Loads or generates the log key, writes the verifier key file, opens and migrates the database and starts
  // listening. On return the service is answering requests.
  static Result<std::unique_ptr<Service>> start(const ServiceConfig& config);
  ~Service();  // shutdown(0)

  uint16_t port() const;
  std::string url() const;  // "http(s)://host:port"
  TransparencyLog& log();
  std::string verifier_key() const;

  // Stops accepting, lets requests in flight finish for up to `grace`, then stops the workers. Idempotent.
  void shutdown(std::chrono::milliseconds grace);

 private:
  struct State;
  explicit Service(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace openpcc::tlog

// The BlindBank as a running service: its configuration file, start-up (currency key, database, TLS, HTTP server,
// worker pool, retry-record clean-up) and shutdown. `openpcc blindbank --config FILE` is a thin wrapper around this.
//
// Configuration (strict JSON, comments allowed: unknown keys are errors; relative paths are relative to data_dir,
// which defaults to the config file's directory):
//
//   {
//     "listen": "127.0.0.1:8083",              // host:port ([v6]:port); port 0 = any free port
//     "data_dir": ".",
//     "database": "sqlite:money.db",           // required; or "postgresql://…". The money database shared with the
//                                              // AuthBank and the router (one nonce table for every service)
//     "currency_key": "currency.key",          // RSA, safe primes, PKCS#1 PEM, mode 0600; generated if missing
//     "currency_key_bits": 2048,               // for generation only; an existing key of any size is used
//     "tls": {"certificate": "cert.pem", "private_key": "key.pem"},   // absent = plain HTTP
//     "limits": {"max_body_bytes": 8192,       // deposit, exchange, withdraw-full, balance
//                "max_withdraw_body_bytes": 0, // batch withdrawal; 0 = 15 × (modulus + 32) + 1024
//                "max_connections": 1024},
//     "threads": 2,                            // network threads
//     "storage_threads": 4,                    // database worker threads
//     "gc_interval_seconds": 3600,             // how often expired retry records are deleted
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
#include "crypto/rsa_blind.h"
#include "services/blindbank/blindbank.h"

namespace openpcc::blindbank {

using TlsFiles = services::TlsFiles;

struct ServiceConfig {
  std::string host = "127.0.0.1";
  uint16_t port = 8083;
  std::filesystem::path data_dir;
  std::string database;  // URL; a relative sqlite: path already made absolute
  std::filesystem::path currency_key;
  size_t currency_key_bits = 2048;
  std::optional<TlsFiles> tls;
  size_t max_body_bytes = 8 * 1024;
  size_t max_withdraw_body_bytes = 0;
  size_t max_connections = 1024;
  unsigned threads = 2;
  unsigned storage_threads = 4;
  std::chrono::seconds gc_interval{3600};
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

// Loads the currency key at `path` (any size), or generates one of `bits` there if the file does not exist.
Result<crypto::RsaPrivateKey> load_or_create_currency_key(const std::filesystem::path& path, size_t bits,
                                                          crypto::KeyGenProgress progress = {});

class Service {
 public:
  // Loads or generates the key (`progress` sees a generation), opens and migrates the database and starts listening.
  // On return the service is answering requests.
  static Result<std::unique_ptr<Service>> start(const ServiceConfig& config, crypto::KeyGenProgress progress = {});

  ~Service();  // shutdown(0)

  uint16_t port() const;
  // "http://host:port" or "https://host:port" (IPv6 hosts in brackets).
  std::string url() const;
  BlindBank& bank();

  // Stops accepting, lets requests in flight finish for up to `grace`, then stops the workers. Idempotent.
  void shutdown(std::chrono::milliseconds grace);

 private:
  struct State;
  explicit Service(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace openpcc::blindbank

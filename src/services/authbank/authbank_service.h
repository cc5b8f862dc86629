// The AuthBank as a running service: its configuration file, start-up (keys, database, TLS, HTTP server, worker
// pool, record clean-up) and shutdown. `openpcc authbank --config FILE` is a thin wrapper around this.
//
// Configuration (strict JSON: unknown keys are errors; relative paths are relative to data_dir, which defaults to
// the config file's directory):
//
//   {
//     "listen": "127.0.0.1:8443",              // host:port ([v6]:port); port 0 = any free port
//     "data_dir": ".",
//     "database": "sqlite:money.db",           // or "postgresql://…"; the money database shared with the BlindBank
//                                              // and the router (one nonce table for every service)
//     "currency_key": "currency.key",          // RSA, safe primes, PKCS#1 PEM, mode 0600; generated if missing
//     "currency_key_bits": 2048,               // for generation only; an existing key of any size is used
//     "badge_key": "badge.key",                // Ed25519, PKCS#8 PEM (or raw seed), mode 0600; generated if missing
//     "relays": ["https://relay.example"],     // published in the config answer, first = preferred
//     "router_url": "", "bank_url": "",        // optional, published as they are (the reference client ignores them)
//     "currency_key_bundle": "currency-key.bundle.json",   // transparency bundles (openpcc tlog publish) sent in
//     "ohttp_keys_bundle": "ohttp-keys.bundle.json",       // the config answer; each read per config request
//     "tls": {"self_signed": true, "hosts": ["localhost", "127.0.0.1"]},
//            // or {"certificate": "cert.pem", "private_key": "key.pem"}; absent/empty = plain HTTP
//     "limits": {"max_body_bytes": 16384, "attestation_tokens_per_minute": 60, "attestation_burst": 30},
//            // attestation_tokens_per_minute 0 = no limit
//     "threads": 2,                            // network threads
//     "storage_threads": 4,                    // database worker threads
//     "log_level": "info"                      // trace, debug, info, warn, error, off
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
#include "crypto/rsa_blind.h"
#include "services/authbank/authbank.h"
#include "services/authbank/ledger.h"
#include "store/database.h"

namespace openpcc::authbank {

struct TlsSettings {
  bool self_signed = false;
  std::vector<std::string> hosts;           // self-signed: the names it is valid for
  std::filesystem::path certificate_file;   // else: PEM chain, leaf first
  std::filesystem::path private_key_file;   // PEM
};

struct ServiceConfig {
  std::string host = "127.0.0.1";
  uint16_t port = 8443;
  std::filesystem::path data_dir;
  std::string database;  // URL with a sqlite: path already made absolute
  std::filesystem::path currency_key;
  size_t currency_key_bits = 2048;
  std::filesystem::path badge_key;
  std::vector<std::string> relays;
  std::string router_url;
  std::string bank_url;
  std::filesystem::path currency_key_bundle;  // empty = none
  std::filesystem::path ohttp_keys_bundle;    // empty = none
  std::optional<TlsSettings> tls;
  size_t max_body_bytes = 16 * 1024;
  int64_t attestation_tokens_per_minute = 60;
  int64_t attestation_burst = 30;
  unsigned threads = 2;
  unsigned storage_threads = 4;
  std::string log_level = "info";
};

// Reads and checks a config file (see above).
Result<ServiceConfig> load_service_config(const std::filesystem::path& path);
// The same from parsed JSON; relative paths resolve against `base_dir` unless data_dir says otherwise.
Result<ServiceConfig> parse_service_config(const nlohmann::json& json, const std::filesystem::path& base_dir);
// An annotated example (valid JSON with comments, which the reader accepts).
std::string example_service_config();

// Opens the configured database and its ledger (migrating), without keys or network: the admin commands.
Result<std::unique_ptr<Ledger>> open_ledger(const ServiceConfig& config);

class Service {
 public:
  // Loads or generates the keys (`progress` sees a currency key generation), opens the database, prepares TLS and
  // starts listening. On return the service is answering requests.
  static Result<std::unique_ptr<Service>> start(const ServiceConfig& config, crypto::KeyGenProgress progress = {});

  ~Service();  // shutdown(0)

  uint16_t port() const;
  // "http://host:port" or "https://host:port" (IPv6 hosts in brackets).
  std::string url() const;
  // The certificate clients should trust, when TLS is on (the self-signed one or the configured chain).
  std::optional<std::filesystem::path> certificate_file() const;
  AuthBank& bank();

  // Stops accepting, lets requests in flight finish for up to `grace`, then stops the workers. Idempotent.
  void shutdown(std::chrono::milliseconds grace);

 private:
  struct State;
  explicit Service(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace openpcc::authbank

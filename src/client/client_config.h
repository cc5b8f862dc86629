// The client SDK's configuration (client.h) and its file form.
//
// Client config file (JSON, strict: an unknown key is an error naming it; relative paths are relative to the file's
// directory; "//" comments allowed):
//   {
//     "authbank_url": "https://127.0.0.1:8443",    // required: the AuthBank (identified traffic, TLS)
//     "api_key": "opk_…",                          // exactly one of api_key / api_key_file (mode 0600)
//     "api_key_file": "api-key.txt",
//     "ca_file": "authbank-tls-cert.pem",         // optional: trust this PEM instead of the system store (a dev
//                                                  // stack's self-signed AuthBank certificate)
//     "relay_url": "http://127.0.0.1:3100/",       // optional: instead of the AuthBank config's relays[0]
//     "trust_policy": "trust.json",                // required: client/trust/trust_policy.h; it must have a
//                                                  // "transparency" section, which verifies the AuthBank's signed
//                                                  // bundles (currency key, OHTTP keys) and the image manifests
//     "default_tags": ["llm"],                     // node tags of every request (plus model=<m> for prompts)
//     "max_candidates": 3,                         // verified nodes a request is encrypted to (1..16)
//     "credit_amount": 0,                          // per request; 0 = wallet.prefetch_amount (the most there is)
//     "node_cache_ttl_seconds": 60,                // verified nodes are reused this long per tag set (0 = never)
//     "request_timeout_seconds": 300,              // each read of a streamed answer must progress within this
//     "wallet": {                                  // client/wallet/wallet_config.h
//       "state_file": "wallet.state",              // required
//       "source_amount": 2621440, "prefetch_amount": 262144, "prefetch_credits": 0, "max_parallel": 2,
//       "max_delay_ms": 5000, "close_timeout_ms": 90000, "payment_timeout_ms": 60000
//     }
//   }
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "client/wallet/wallet_config.h"
#include "common/error.h"

namespace openpcc::client {

inline constexpr size_t kMaxCandidatesLimit = 16;  // the router accepts at most 16 candidates

struct ClientConfig {
  std::string authbank_url;
  std::string api_key;  // the key itself (api_key_file is read by the loader)
  std::filesystem::path ca_file;                  // empty = the system trust store
  std::string relay_url;                          // empty = the AuthBank config's relays[0]
  std::filesystem::path trust_policy;             // required
  std::vector<std::string> default_tags{"llm"};
  size_t max_candidates = 3;
  int64_t credit_amount = 0;                      // 0 = wallet.prefetch_amount
  std::chrono::seconds node_cache_ttl{60};
  std::chrono::seconds request_timeout{300};
  wallet::WalletConfig wallet;
};

// kInvalidArgument naming the first rule a config breaks (required fields, ranges, the wallet's own rules).
Status validate(const ClientConfig& config);

// Reads the file, parses it (relative paths against its directory) and validates it.
Result<ClientConfig> load_client_config(const std::filesystem::path& path);
// The same from parsed JSON; relative paths are joined to `base_dir`, and api_key_file is read.
Result<ClientConfig> parse_client_config(const nlohmann::json& json, const std::filesystem::path& base_dir);

// The keys and their meaning, for --help.
std::string client_config_help();
// An annotated example file.
std::string example_client_config();

}  // namespace openpcc::client

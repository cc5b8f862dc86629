#include "client/client_config.h"

#include <algorithm>
#include <utility>

#include "net/url.h"
#include "services/common/config.h"
#include "services/common/key_files.h"

namespace openpcc::client {
namespace {

namespace fs = std::filesystem;

std::unexpected<Error> config_error(std::string message) {
  return make_error(ErrorCode::kInvalidArgument, "config: client." + std::move(message));
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string trimmed(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return std::string(s);
}

Status check_url(std::string_view key, const std::string& url) {
  auto parsed = net::parse_url(url);
  if (!parsed) return config_error(std::string(key) + ": " + parsed.error().message);
  return {};
}

}  // namespace

Status validate(const ClientConfig& config) {
  if (config.authbank_url.empty()) return config_error("authbank_url is required");
  if (auto ok = check_url("authbank_url", config.authbank_url); !ok) return ok;
  if (config.api_key.empty()) return config_error("api_key (or api_key_file) is required");
  if (!config.relay_url.empty()) {
    if (auto ok = check_url("relay_url", config.relay_url); !ok) return ok;
  }
  if (config.trust_policy.empty()) {
    return config_error("trust_policy is required (a trust policy file with a \"transparency\" section)");
  }
  if (config.max_candidates < 1 || config.max_candidates > kMaxCandidatesLimit) {
    return config_error("max_candidates must be between 1 and " + std::to_string(kMaxCandidatesLimit));
  }
  for (const auto& tag : config.default_tags) {
    if (tag.empty() || tag.size() > 512) return config_error("default_tags: a tag must have 1..512 bytes");
  }
  if (config.credit_amount < 0 || config.credit_amount > config.wallet.prefetch_amount) {
    return config_error("credit_amount must be between 0 and wallet.prefetch_amount (" +
                        std::to_string(config.wallet.prefetch_amount) + "): one credit pays for one request");
  }
  if (config.node_cache_ttl.count() < 0) return config_error("node_cache_ttl_seconds must not be negative");
  if (config.request_timeout.count() <= 0) return config_error("request_timeout_seconds must be positive");
  if (auto ok = wallet::validate(config.wallet); !ok) {
    return make_error(ErrorCode::kInvalidArgument, "config: client.wallet: " + ok.error().message);
  }
  return {};
}

Result<ClientConfig> parse_client_config(const nlohmann::json& json, const fs::path& base_dir) {
  services::ConfigReader cfg(json, "client");
  ClientConfig out;
  out.authbank_url = cfg.string("authbank_url");
  const auto api_key = cfg.optional_string("api_key");
  const auto api_key_file = cfg.optional_string("api_key_file");
  const auto ca_file = cfg.optional_string("ca_file");
  out.relay_url = cfg.string("relay_url");
  const std::string trust_policy = cfg.string("trust_policy");
  if (cfg.has("default_tags")) out.default_tags = cfg.strings("default_tags");
  out.max_candidates =
      static_cast<size_t>(cfg.integer("max_candidates", 3, 1, static_cast<int64_t>(kMaxCandidatesLimit)));
  out.credit_amount = cfg.integer("credit_amount", 0, 0, int64_t{1} << 40);
  out.node_cache_ttl = std::chrono::seconds(cfg.integer("node_cache_ttl_seconds", 60, 0, 24 * 3600));
  out.request_timeout = std::chrono::seconds(cfg.integer("request_timeout_seconds", 300, 1, 24 * 3600));

  services::ConfigReader& w = cfg.object("wallet");
  const wallet::WalletConfig defaults;
  const std::string state_file = w.string("state_file");
  out.wallet.source_amount = w.integer("source_amount", defaults.source_amount, 1, int64_t{1} << 40);
  out.wallet.prefetch_amount = w.integer("prefetch_amount", defaults.prefetch_amount, 1, int64_t{1} << 40);
  out.wallet.prefetch_credits = static_cast<size_t>(w.integer("prefetch_credits", 0, 0, 64));
  out.wallet.max_parallel = static_cast<unsigned>(w.integer("max_parallel", defaults.max_parallel, 1, 16));
  out.wallet.max_delay = std::chrono::milliseconds(w.integer("max_delay_ms", defaults.max_delay.count(), 0, 600'000));
  out.wallet.close_timeout =
      std::chrono::milliseconds(w.integer("close_timeout_ms", defaults.close_timeout.count(), 1, 3'600'000));
  out.wallet.payment_timeout =
      std::chrono::milliseconds(w.integer("payment_timeout_ms", defaults.payment_timeout.count(), 1, 3'600'000));
  if (auto ok = cfg.finish(); !ok) return std::unexpected(ok.error());

  if (api_key && api_key_file) return config_error("api_key and api_key_file exclude each other");
  if (api_key) {
    out.api_key = trimmed(*api_key);
  } else if (api_key_file) {
    const fs::path path = services::resolve_config_path(base_dir, *api_key_file);
    auto secret = services::read_secret_file(path);
    if (!secret) return config_error("api_key_file: " + secret.error().message);
    out.api_key = trimmed(std::string_view(reinterpret_cast<const char*>(secret->data()), secret->size()));
  }
  if (ca_file) out.ca_file = services::resolve_config_path(base_dir, *ca_file);
  if (!trust_policy.empty()) out.trust_policy = services::resolve_config_path(base_dir, trust_policy);
  if (state_file.empty()) return config_error("wallet.state_file is required");
  out.wallet.state_file = services::resolve_config_path(base_dir, state_file);
  if (auto ok = validate(out); !ok) return std::unexpected(ok.error());
  return out;
}

Result<ClientConfig> load_client_config(const fs::path& path) {
  auto json = services::read_config_file(path.string());
  if (!json) return std::unexpected(json.error());
  return parse_client_config(*json, fs::absolute(path).parent_path());
}

std::string client_config_help() {
  return R"(Client config file (JSON; unknown keys are errors; relative paths are relative to the file):
  authbank_url             required. The AuthBank (identified: API key over TLS).
  api_key | api_key_file   required, one of them. The file must have mode 0600.
  ca_file                  PEM certificates to trust for the AuthBank instead of the system store (a dev stack's
                           self-signed certificate).
  relay_url                the OHTTP relay; default: the first relay of the AuthBank's config.
  trust_policy             required. Trust policy file (docs/ATTESTATION.md) with a "transparency" section: its log
                           key and publisher keys verify the AuthBank's currency-key and OHTTP-key bundles and the
                           nodes' image manifests.
  default_tags             node tags every request asks for (default ["llm"]); prompt requests add model=<model>.
  max_candidates           verified nodes one request is encrypted to (default 3, at most 16).
  credit_amount            credits per request (default 0 = wallet.prefetch_amount, the most one credit holds).
  node_cache_ttl_seconds   how long verified nodes are reused per tag set (default 60; 0 = ask every time).
  request_timeout_seconds  each read of a streamed answer must make progress within this time (default 300).
  wallet.state_file        required. Where the wallet keeps its credits and accounts (mode 0600, locked).
  wallet.source_amount     one AuthBank withdrawal (default 2621440).
  wallet.prefetch_amount   the value of each credit (default 262144).
  wallet.prefetch_credits  credits kept ready (default 0 = source_amount / prefetch_amount).
  wallet.max_parallel      bank operations in flight (default 2).
  wallet.max_delay_ms      privacy delay before each bank operation, uniform in [0, this) (default 5000).
  wallet.close_timeout_ms  how long returning the leftovers to the AuthBank may take (default 90000).
  wallet.payment_timeout_ms how long a request waits for a credit (default 60000).
)";
}

std::string example_client_config() {
  return R"({
  // openpcc chat --config client.json "Hello"
  "authbank_url": "https://127.0.0.1:8443",
  "api_key_file": "api-key.txt",
  "ca_file": "authbank-tls-cert.pem",
  "trust_policy": "trust.json",
  "default_tags": ["llm"],
  "max_candidates": 3,
  "wallet": {"state_file": "wallet.state"}
}
)";
}

}  // namespace openpcc::client

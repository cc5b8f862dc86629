#include "services/authbank/authbank_service.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <stop_token>
#include <thread>
#include <utility>

#include "net/blocking_pool.h"
#include "net/runtime.h"
#include "net/server.h"
#include "services/authbank/authbank_http.h"
#include "services/common/config.h"
#include "services/common/key_files.h"
#include "services/common/self_signed_cert.h"

namespace openpcc::authbank {
namespace {

namespace fs = std::filesystem;

// A transparency bundle is an envelope, a proof and a checkpoint: a few KiB (transparency::kMaxBundleJsonBytes caps
// what clients accept).
constexpr size_t kMaxBundleFileSize = 1 << 20;
constexpr std::chrono::hours kGarbageInterval{1};

// Reads the bundle file at `path` for one config answer.
std::function<Result<Bytes>()> bundle_reader(const fs::path& path) {
  if (path.empty()) return {};
  return [path]() -> Result<Bytes> {
    auto text = services::read_public_file(path, kMaxBundleFileSize);
    if (!text) return std::unexpected(text.error());
    return to_bytes(*text);
  };
}

Result<crypto::RsaPrivateKey> currency_key(const ServiceConfig& config, crypto::KeyGenProgress progress) {
  std::error_code ec;
  if (fs::exists(config.currency_key, ec)) {
    return services::load_currency_key(config.currency_key, services::kAnyModulusBits);
  }
  spdlog::info("authbank: generating a {}-bit currency key at {}", config.currency_key_bits,
               config.currency_key.string());
  return services::load_or_generate_currency_key(config.currency_key, config.currency_key_bits, std::move(progress));
}

}  // namespace

Result<ServiceConfig> parse_service_config(const nlohmann::json& json, const fs::path& base_dir) {
  services::ConfigReader cfg(json, "authbank");
  ServiceConfig out;
  const std::string listen = cfg.string("listen", "127.0.0.1:8443");
  const std::string data_dir = cfg.string("data_dir", "");
  const std::string database = cfg.string("database", "sqlite:money.db");
  const std::string currency_key = cfg.string("currency_key", "currency.key");
  out.currency_key_bits = static_cast<size_t>(cfg.integer("currency_key_bits", 2048, 1024, 8192));
  const std::string badge_key = cfg.string("badge_key", "badge.key");
  out.relays = cfg.strings("relays");
  out.router_url = cfg.string("router_url", "");
  out.bank_url = cfg.string("bank_url", "");
  const std::string currency_key_bundle = cfg.string("currency_key_bundle", "");
  const std::string ohttp_keys_bundle = cfg.string("ohttp_keys_bundle", "");

  services::ConfigReader& tls = cfg.object("tls");
  const bool self_signed = tls.boolean("self_signed", false);
  std::vector<std::string> hosts = tls.strings("hosts");
  const auto certificate = tls.optional_string("certificate");
  const auto private_key = tls.optional_string("private_key");

  services::ConfigReader& limits = cfg.object("limits");
  out.max_body_bytes = static_cast<size_t>(limits.integer("max_body_bytes", 16 * 1024, 1024, 1 << 20));
  out.attestation_tokens_per_minute = limits.integer("attestation_tokens_per_minute", 60, 0, 1'000'000);
  out.attestation_burst = limits.integer("attestation_burst", 30, 1, 1'000'000);

  out.threads = static_cast<unsigned>(cfg.integer("threads", 2, 1, 64));
  out.storage_threads = static_cast<unsigned>(cfg.integer("storage_threads", 4, 1, 64));
  out.log_level = cfg.string("log_level", "info");
  if (Status s = cfg.finish(); !s) return std::unexpected(s.error());

  if (!services::is_log_level(out.log_level)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "config: authbank.log_level must be one of trace, debug, info, warn, error, off");
  }
  auto address = services::parse_listen_address(listen);
  if (!address) return std::unexpected(wrap_error("config: authbank.listen", address.error()));
  out.host = address->first;
  out.port = address->second;
  out.data_dir =
      data_dir.empty() ? base_dir.lexically_normal() : services::resolve_config_path(base_dir, data_dir);
  out.database = services::resolve_database_url(out.data_dir, database);
  out.currency_key = services::resolve_config_path(out.data_dir, currency_key);
  out.badge_key = services::resolve_config_path(out.data_dir, badge_key);
  if (out.currency_key_bits % 2 != 0) {
    return make_error(ErrorCode::kInvalidArgument, "config: authbank.currency_key_bits must be even");
  }
  out.currency_key_bundle = services::resolve_config_path(out.data_dir, currency_key_bundle);
  out.ohttp_keys_bundle = services::resolve_config_path(out.data_dir, ohttp_keys_bundle);
  if (self_signed && (certificate || private_key)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "config: authbank.tls: self_signed excludes certificate and private_key");
  }
  if (certificate.has_value() != private_key.has_value()) {
    return make_error(ErrorCode::kInvalidArgument, "config: authbank.tls needs both certificate and private_key");
  }
  if (!self_signed && !hosts.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "config: authbank.tls.hosts only applies to self_signed");
  }
  if (self_signed) {
    TlsSettings t;
    t.self_signed = true;
    if (hosts.empty()) hosts = {"localhost", "127.0.0.1"};
    if (out.host != "0.0.0.0" && out.host != "::" &&
        std::find(hosts.begin(), hosts.end(), out.host) == hosts.end()) {
      hosts.push_back(out.host);
    }
    t.hosts = std::move(hosts);
    out.tls = std::move(t);
  } else if (certificate) {
    TlsSettings t;
    t.certificate_file = services::resolve_config_path(out.data_dir, *certificate);
    t.private_key_file = services::resolve_config_path(out.data_dir, *private_key);
    out.tls = std::move(t);
  }
  return out;
}

Result<ServiceConfig> load_service_config(const fs::path& path) {
  auto json = services::read_config_file(path.string());
  if (!json) return std::unexpected(json.error());
  fs::path base = fs::absolute(path).parent_path();
  return parse_service_config(*json, base);
}

std::string example_service_config() {
  return R"({
  // openpcc authbank --config authbank.json
  // Relative paths are relative to data_dir (default: this file's directory).
  "listen": "127.0.0.1:8443",
  "data_dir": ".",
  // The money database, shared with the BlindBank and the router: one SQLite file on one host, or PostgreSQL
  // ("postgresql://user@host/db").
  "database": "sqlite:money.db",
  // Generated on first start when missing (mode 0600; the public halves go next to them as .pub).
  "currency_key": "currency.key",
  "currency_key_bits": 2048,
  "badge_key": "badge.key",
  // Published in GET /api/config (clients use the first relay).
  "relays": ["http://127.0.0.1:3100"],
  // Signed statements sent in GET /api/config, as the transparency bundles `openpcc tlog publish` writes:
  // the currency key (--currency-jwk, with the JWK from `openpcc keygen jwk`) and the gateway's OHTTP keys with
  // their rotation periods (--ohttp-keys --rotation-periods, files from `openpcc gateway keys`). Read on every
  // config request, so publishing a new bundle over the file rotates keys without a restart. Until a file
  // exists, config requests answer 503; leave a key out to send no bundle.
  "currency_key_bundle": "currency-key.bundle.json",
  "ohttp_keys_bundle": "ohttp-keys.bundle.json",
  // A certificate made and kept in data_dir (authbank-tls-cert.pem is what clients trust), or
  // {"certificate": "cert.pem", "private_key": "key.pem"}; leave "tls" out for plain HTTP.
  "tls": {"self_signed": true, "hosts": ["localhost", "127.0.0.1"]},
  "limits": {"max_body_bytes": 16384, "attestation_tokens_per_minute": 60, "attestation_burst": 30},
  "threads": 2,
  "storage_threads": 4,
  "log_level": "info"
}
)";
}

Result<std::unique_ptr<Ledger>> open_ledger(const ServiceConfig& config) {
  auto db = store::open_database(config.database);
  if (!db) return std::unexpected(wrap_error("database", db.error()));
  return Ledger::open(std::move(*db));
}

struct Service::State {
  ServiceConfig config;
  std::shared_ptr<store::Database> db;
  std::unique_ptr<AuthBank> bank;
  std::optional<fs::path> certificate;
  std::unique_ptr<net::BlockingPool> pool;
  std::unique_ptr<net::Runtime> runtime;
  std::unique_ptr<net::Server> server;
  // Record clean-up, hourly; woken early by shutdown.
  std::mutex gc_mutex;
  std::condition_variable_any gc_wake;
  std::jthread gc_thread;
  bool stopped = false;
};

Result<std::unique_ptr<Service>> Service::start(const ServiceConfig& config, crypto::KeyGenProgress progress) {
  auto state = std::make_unique<State>();
  state->config = config;
  std::error_code ec;
  if (!fs::exists(config.data_dir, ec)) {
    fs::create_directories(config.data_dir, ec);
    if (ec) return make_error(ErrorCode::kIo, "cannot create data_dir " + config.data_dir.string());
    ::chmod(config.data_dir.c_str(), 0700);
  }

  auto currency = currency_key(config, std::move(progress));
  if (!currency) return std::unexpected(wrap_error("currency key " + config.currency_key.string(), currency.error()));
  auto badge = services::load_or_generate_ed25519_key(config.badge_key);
  if (!badge) return std::unexpected(wrap_error("badge key " + config.badge_key.string(), badge.error()));

  auto db = store::open_database(config.database);
  if (!db) return std::unexpected(wrap_error("database", db.error()));
  state->db = std::move(*db);

  AuthBankOptions options;
  options.relay_urls = config.relays;
  options.router_url = config.router_url;
  options.bank_url = config.bank_url;
  options.currency_key_bundle = bundle_reader(config.currency_key_bundle);
  options.ohttp_keys_bundle = bundle_reader(config.ohttp_keys_bundle);
  options.attestation_limit.per_second = static_cast<double>(config.attestation_tokens_per_minute) / 60.0;
  options.attestation_limit.burst = static_cast<double>(config.attestation_burst);
  auto bank = AuthBank::create(state->db, std::move(*currency), std::move(*badge), std::move(options));
  if (!bank) return std::unexpected(bank.error());
  state->bank = std::move(*bank);

  net::ServerConfig server_config;
  server_config.host = config.host;
  server_config.port = config.port;
  server_config.max_body_bytes = config.max_body_bytes;
  server_config.name = "authbank";
  if (config.tls) {
    if (config.tls->self_signed) {
      auto files = services::ensure_self_signed_certificate(config.data_dir, "authbank", config.tls->hosts);
      if (!files) return std::unexpected(files.error());
      if (files->generated) spdlog::info("authbank: generated TLS certificate {}", files->certificate_file.string());
      server_config.tls = net::TlsServerFiles{files->certificate_file.string(), files->private_key_file.string()};
      state->certificate = files->certificate_file;
    } else {
      server_config.tls =
          net::TlsServerFiles{config.tls->certificate_file.string(), config.tls->private_key_file.string()};
      state->certificate = config.tls->certificate_file;
    }
  }

  state->pool = std::make_unique<net::BlockingPool>(config.storage_threads);
  state->runtime = std::make_unique<net::Runtime>(config.threads);
  HttpOptions http;
  http.max_body_bytes = config.max_body_bytes;
  auto routes = make_routes(*state->bank, *state->pool, http);
  auto server = net::Server::start(*state->runtime, server_config, routes.handler());
  if (!server) return std::unexpected(wrap_error("listen on " + config.host, server.error()));
  state->server = std::move(*server);

  State* raw = state.get();
  state->gc_thread = std::jthread([raw](std::stop_token stop) {
    std::unique_lock lock(raw->gc_mutex);
    while (!stop.stop_requested()) {
      lock.unlock();
      auto removed = raw->bank->collect_garbage();
      if (!removed) {
        spdlog::warn("authbank: record clean-up failed: {}", removed.error().to_string());
      } else if (*removed > 0) {
        spdlog::info("authbank: removed {} expired withdrawal/refund records", *removed);
      }
      lock.lock();
      raw->gc_wake.wait_for(lock, stop, kGarbageInterval, [] { return false; });
    }
  });
  return std::unique_ptr<Service>(new Service(std::move(state)));
}

Service::Service(std::unique_ptr<State> state) : state_(std::move(state)) {}

Service::~Service() { shutdown(std::chrono::milliseconds(0)); }

uint16_t Service::port() const { return state_->server ? state_->server->port() : 0; }

std::string Service::url() const {
  return std::string(state_->config.tls ? "https://" : "http://") + services::url_host(state_->config.host) + ":" +
         std::to_string(port());
}

std::optional<fs::path> Service::certificate_file() const { return state_->certificate; }

AuthBank& Service::bank() { return *state_->bank; }

void Service::shutdown(std::chrono::milliseconds grace) {
  if (state_->stopped) return;
  state_->stopped = true;
  if (state_->server) state_->server->shutdown(grace);
  if (state_->gc_thread.joinable()) {
    state_->gc_thread.request_stop();
    state_->gc_thread.join();
  }
  if (state_->runtime) state_->runtime->stop();
}

}  // namespace openpcc::authbank

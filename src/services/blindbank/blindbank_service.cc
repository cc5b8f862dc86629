#include "services/blindbank/blindbank_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <utility>

#include "currency/issuer.h"
#include "currency/nonce.h"
#include "currency/sql_nonce_store.h"
#include "net/blocking_pool.h"
#include "net/runtime.h"
#include "net/server.h"
#include "services/blindbank/blindbank_http.h"
#include "services/common/config.h"
#include "services/common/key_files.h"
#include "store/database.h"

namespace openpcc::blindbank {
namespace {

namespace fs = std::filesystem;

constexpr char kExample[] = R"({
  // Where to listen: host:port, [v6]:port; port 0 picks a free port (the bound address is printed on stdout).
  "listen": "127.0.0.1:8083",
  // Base for the relative paths below (default: the config file's directory).
  "data_dir": ".",
  // The money database: "sqlite:<path>" or "postgresql://user@host/db". Share it with the AuthBank and the
  // router, so a credit can be spent only once across all of them.
  "database": "sqlite:money.db",
  // The currency (credit-signing) key, shared with the AuthBank: RSA with safe primes, PKCS#1 PEM, mode 0600.
  // Generated with currency_key_bits bits if the file does not exist (or: openpcc keygen currency --out FILE).
  "currency_key": "currency.key",
  "currency_key_bits": 2048,
  // HTTPS: remove this object for plain HTTP (e.g. behind a TLS-terminating proxy on the same host).
  "tls": {"certificate": "bank-cert.pem", "private_key": "bank-key.pem"},
  "limits": {
    "max_body_bytes": 8192,          // deposit, exchange, withdraw-full, balance
    "max_withdraw_body_bytes": 0,    // batch withdrawal; 0 = 15 x (modulus bytes + 32) + 1024
    "max_connections": 1024
  },
  "threads": 2,                      // network threads
  "storage_threads": 4,              // database worker threads
  "gc_interval_seconds": 3600,       // deleting retry records of expired credits
  "log_level": "info"                // trace, debug, info, warn, error, off
}
)";

constexpr char kHelp[] =
    "Configuration keys (JSON object; // comments allowed; unknown keys are errors):\n"
    "  listen               host:port to listen on ([v6]:port for IPv6); port 0 = any free port. Default\n"
    "                       127.0.0.1:8083. Once listening, one line 'listening on http(s)://HOST:PORT' is\n"
    "                       printed on stdout.\n"
    "  data_dir             base directory for relative paths (default: the config file's directory)\n"
    "  database             required. 'sqlite:<path>' or 'postgresql://…'. The money database: point the\n"
    "                       AuthBank, the BlindBank and the router at the same one, so that a credit can be\n"
    "                       spent only once across all of them. Tables: blindbank_*, currency_nonces.\n"
    "  currency_key         the credit-signing key file (RSA with safe primes, PKCS#1 PEM, mode 0600), shared\n"
    "                       with the AuthBank. Generated if missing. Default currency.key.\n"
    "  currency_key_bits    modulus size used when generating the key (default 2048); an existing key of any\n"
    "                       size (at least 1024 bits) is used as it is.\n"
    "  tls                  optional {\"certificate\": PEM chain file, \"private_key\": PEM file}: serve HTTPS\n"
    "  limits               optional object:\n"
    "    max_body_bytes           body limit of /deposit, /exchange, /withdraw-full, /balance (default 8192)\n"
    "    max_withdraw_body_bytes  body limit of /withdraw (default 0 = 15 x (modulus bytes + 32) + 1024)\n"
    "    max_connections          concurrent connections (default 1024)\n"
    "  threads              network threads (default 2)\n"
    "  storage_threads      database worker threads (default 4)\n"
    "  gc_interval_seconds  how often retry records of expired credits are deleted (default 3600)\n"
    "  log_level            trace, debug, info, warn, error or off (default info). Info logs one line per\n"
    "                       request (operation, outcome, status, duration); balances appear at debug only.\n";

}  // namespace

Result<ServiceConfig> parse_service_config(const nlohmann::json& json, const fs::path& base_dir) {
  services::ConfigReader cfg(json, "blindbank");
  ServiceConfig out;
  const std::string listen = cfg.string("listen", "127.0.0.1:8083");
  const std::string data_dir = cfg.string("data_dir", "");
  const std::optional<std::string> database = cfg.optional_string("database");
  const std::string currency_key = cfg.string("currency_key", "currency.key");
  out.currency_key_bits = static_cast<size_t>(cfg.integer("currency_key_bits", 2048, 1024, 8192));
  const services::TlsSection tls(cfg);
  services::ConfigReader& limits = cfg.object("limits");
  out.max_body_bytes = static_cast<size_t>(limits.integer("max_body_bytes", 8192, 1024, 1 << 20));
  out.max_withdraw_body_bytes = static_cast<size_t>(limits.integer("max_withdraw_body_bytes", 0, 0, 1 << 22));
  out.max_connections = static_cast<size_t>(limits.integer("max_connections", 1024, 1, 1 << 20));
  out.threads = static_cast<unsigned>(cfg.integer("threads", 2, 1, 256));
  out.storage_threads = static_cast<unsigned>(cfg.integer("storage_threads", 4, 1, 256));
  out.gc_interval = std::chrono::seconds(cfg.integer("gc_interval_seconds", 3600, 1, 7 * 86400));
  out.log_level = cfg.string("log_level", "info");
  if (Status s = cfg.finish(); !s) return std::unexpected(s.error());

  auto address = services::parse_listen_address(listen);
  if (!address) return std::unexpected(wrap_error("config: blindbank.listen", address.error()));
  out.host = address->first;
  out.port = address->second;
  out.data_dir = data_dir.empty() ? base_dir : services::resolve_config_path(base_dir, data_dir);
  if (!database || database->empty()) {
    return make_error(ErrorCode::kInvalidArgument, "config: blindbank.database is required");
  }
  out.database = services::resolve_database_url(out.data_dir, *database);
  if (currency_key.empty()) return make_error(ErrorCode::kInvalidArgument, "config: blindbank.currency_key is empty");
  out.currency_key = services::resolve_config_path(out.data_dir, currency_key);
  if (out.currency_key_bits % 2 != 0) {
    return make_error(ErrorCode::kInvalidArgument, "config: blindbank.currency_key_bits must be even");
  }
  auto tls_files = tls.resolve("blindbank", out.data_dir);
  if (!tls_files) return std::unexpected(tls_files.error());
  out.tls = *tls_files;
  if (auto ok = services::check_log_level("blindbank", out.log_level); !ok) return std::unexpected(ok.error());
  return out;
}

Result<ServiceConfig> load_service_config(const fs::path& path) {
  auto file = services::read_service_config_file(path);
  if (!file) return std::unexpected(file.error());
  return parse_service_config(file->json, file->base_dir);
}

std::string example_service_config() { return kExample; }
std::string service_config_help() { return kHelp; }

Result<crypto::RsaPrivateKey> load_or_create_currency_key(const fs::path& path, size_t bits,
                                                          crypto::KeyGenProgress progress) {
  auto key = services::load_currency_key(path, services::kAnyModulusBits);
  if (key || key.error().code != ErrorCode::kNotFound) return key;
  // Never replaces a file: if another service creates the key meanwhile, that key is returned.
  return services::load_or_generate_currency_key(path, bits, std::move(progress));
}

struct Service::State {
  ServiceConfig config;
  std::shared_ptr<store::Database> db;
  std::unique_ptr<BlindBank> bank;
  std::unique_ptr<currency::NonceStore> nonces;  // for its garbage collection only
  std::unique_ptr<net::Runtime> runtime;
  std::unique_ptr<net::BlockingPool> pool;
  std::unique_ptr<net::Server> server;  // declared last: stopped first

  std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;
  std::thread collector;
  bool shut_down = false;

  void collect_loop() {
    std::unique_lock lock(mutex);
    while (!wake.wait_for(lock, config.gc_interval, [this] { return stopping; })) {
      lock.unlock();
      const int64_t now = currency::unix_now();
      auto records = bank->collect_garbage(now);
      auto nonces_removed = nonces->collect_garbage(now);
      if (!records || !nonces_removed) {
        spdlog::warn("blindbank: garbage collection failed: {}",
                     !records ? records.error().to_string() : nonces_removed.error().to_string());
      } else {
        spdlog::info("blindbank: garbage collection removed {} retry records and {} nonces", *records,
                     *nonces_removed);
      }
      lock.lock();
    }
  }
};

Service::Service(std::unique_ptr<State> state) : state_(std::move(state)) {}

Service::~Service() { shutdown(std::chrono::milliseconds(0)); }

Result<std::unique_ptr<Service>> Service::start(const ServiceConfig& config, crypto::KeyGenProgress progress) {
  auto state = std::make_unique<State>();
  state->config = config;

  auto key = load_or_create_currency_key(config.currency_key, config.currency_key_bits, std::move(progress));
  if (!key) return std::unexpected(wrap_error("currency key " + config.currency_key.string(), key.error()));
  auto issuer = currency::Issuer::create(std::move(*key));
  if (!issuer) return std::unexpected(wrap_error("currency key", issuer.error()));

  store::DatabaseOptions db_options;
  db_options.max_connections = static_cast<int>(std::max(2u, config.storage_threads + 1));
  auto db = store::open_database(config.database, db_options);
  if (!db) return std::unexpected(wrap_error("database", db.error()));
  state->db = *db;
  auto bank = BlindBank::open(state->db, std::move(*issuer));
  if (!bank) return std::unexpected(wrap_error("database", bank.error()));
  state->bank = std::move(*bank);
  state->nonces = currency::make_sql_nonce_store(state->db);

  state->runtime = std::make_unique<net::Runtime>(config.threads);
  state->pool = std::make_unique<net::BlockingPool>(config.storage_threads);

  ServiceOptions options;
  options.max_body_bytes = config.max_body_bytes;
  options.max_withdraw_body_bytes = config.max_withdraw_body_bytes;
  net::ServerConfig server_config;
  server_config.host = config.host;
  server_config.port = config.port;
  server_config.max_connections = config.max_connections;
  server_config.max_body_bytes = max_request_body(*state->bank, options);
  server_config.name = "blindbank";
  if (config.tls) {
    server_config.tls = net::TlsServerFiles{config.tls->certificate_file.string(),
                                            config.tls->private_key_file.string()};
  }
  auto server = net::Server::start(*state->runtime, server_config,
                                   make_blindbank_handler(*state->bank, *state->pool, std::move(options)));
  if (!server) return std::unexpected(wrap_error("listen on " + config.host, server.error()));
  state->server = std::move(*server);

  State* raw = state.get();
  state->collector = std::thread([raw] { raw->collect_loop(); });
  return std::unique_ptr<Service>(new Service(std::move(state)));
}

uint16_t Service::port() const { return state_->server->port(); }

std::string Service::url() const {
  return std::string(state_->config.tls ? "https://" : "http://") + services::url_host(state_->config.host) + ":" +
         std::to_string(port());
}

BlindBank& Service::bank() { return *state_->bank; }

void Service::shutdown(std::chrono::milliseconds grace) {
  if (state_->shut_down) return;
  state_->shut_down = true;
  {
    std::lock_guard lock(state_->mutex);
    state_->stopping = true;
  }
  state_->wake.notify_all();
  if (state_->collector.joinable()) state_->collector.join();
  state_->server->shutdown(grace);
  state_->pool.reset();
  state_->runtime->stop();
}

}  // namespace openpcc::blindbank

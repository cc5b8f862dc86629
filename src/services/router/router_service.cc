#include "services/router/router_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "currency/credit_verifier.h"
#include "currency/issuer.h"
#include "currency/processor.h"
#include "currency/sql_nonce_store.h"
#include "net/blocking_pool.h"
#include "net/runtime.h"
#include "net/server.h"
#include "services/common/config.h"
#include "services/common/key_files.h"
#include "services/common/metrics.h"
#include "services/router/health_checker.h"
#include "services/router/node_token.h"
#include "services/router/router_api.h"
#include "services/router/router_http.h"
#include "store/database.h"

namespace openpcc::router {
namespace {

namespace fs = std::filesystem;

constexpr char kExample[] = R"({
  // Where to listen: host:port, [v6]:port; port 0 picks a free port (the bound address is printed on stdout).
  "listen": "127.0.0.1:8084",
  // Base for the relative paths below (default: the config file's directory).
  "data_dir": ".",
  // The money database shared with the AuthBank and the BlindBank: "sqlite:<path>" or "postgresql://...". Its
  // nonce table is what stops a credit from being spent twice across all services.
  "database": "sqlite:money.db",
  // The banks' currency key (RSA, safe primes, PKCS#1 PEM, mode 0600): verifies credits and signs refunds.
  // Generated with currency_key_bits bits if missing (as the banks do); point all services at the same file.
  "currency_key": "currency.key",
  "currency_key_bits": 2048,
  // HTTPS: remove this object for plain HTTP (the gateway and the nodes' agents talk to the router).
  "tls": {"certificate": "router-cert.pem", "private_key": "router-key.pem"},
  // The node registration token (one line: >= 32 random bytes hex-encoded, mode 0600; `openssl rand -hex 32`).
  // Every POST /node-events must carry "Authorization: Bearer <token>"; give the nodes the same file
  // (their router_token_file). Required unless "allow_unauthenticated_node_events": true (development only).
  "node_token_file": "node.token",
  "health": {
    "interval_ms": 30000,        // one health check per node per interval (a new node is checked at once)
    "timeout_ms": 5000,          // per try
    "retries": 3,                // tries per check
    "window_seconds": 900,       // checks older than this do not count
    "min_checks": 3,             // fewer checks: grade unknown (not routable)
    "failure_streak": 3,         // this many failures in a row: unavailable (node removed)
    "min_success_rate": 0.9      // a lower success rate: unavailable (node removed)
  },
  "node_max_age_seconds": 900,   // nodes without a heartbeat for this long are removed
  "max_manifests": 500,          // most nodes one /compute-manifests answer lists (0..500)
  "node_requests": {
    "connect_timeout_ms": 5000,  // connecting to a node; then the next candidate is tried
    "timeout_seconds": 300       // waiting for a node's response head, and for each later piece of it
  },
  "limits": {
    "max_request_bytes": 8388608,  // compute request body (kept in memory to replay to another candidate)
    "max_event_bytes": 4194304,    // a node event (with its evidence)
    "max_nodes": 10000,
    "max_connections": 1024
  },
  "threads": 2,                  // network threads
  "storage_threads": 4,          // database and signing worker threads
  "log_level": "info"            // trace, debug, info, warn, error, off
}
)";

constexpr char kHelp[] =
    "Configuration keys (JSON object; // comments allowed; unknown keys are errors):\n"
    "  listen               host:port to listen on ([v6]:port for IPv6); port 0 = any free port. Default\n"
    "                       127.0.0.1:8084. Once listening, one line 'listening on http(s)://HOST:PORT' is\n"
    "                       printed on stdout.\n"
    "  data_dir             base directory for relative paths (default: the config file's directory)\n"
    "  database             required. 'sqlite:<path>' or 'postgresql://...'. The money database shared with the\n"
    "                       AuthBank and the BlindBank (table currency_nonces): a credit can be spent only once\n"
    "                       across all of them.\n"
    "  currency_key         the banks' credit-signing key file (RSA with safe primes, PKCS#1 PEM, mode 0600):\n"
    "                       verifies credits and signs refunds. Generated if missing. Default currency.key.\n"
    "  currency_key_bits    modulus size used when generating the key (default 2048)\n"
    "  tls                  optional {\"certificate\": PEM chain file, \"private_key\": PEM file}: serve HTTPS\n"
    "  node_token_file      the node registration token: a file (mode 0600) with one line of at least 32\n"
    "                       random bytes, hex-encoded (`openssl rand -hex 32`); shorter secrets are refused.\n"
    "                       Every POST /node-events must carry 'Authorization: Bearer <token>' (compute nodes:\n"
    "                       router_token_file), else 401 and the registry is unchanged. Not in the reference,\n"
    "                       whose registration is open. Required unless allow_unauthenticated_node_events.\n"
    "  allow_unauthenticated_node_events\n"
    "                       true: without node_token_file, take node events from anyone (the reference's\n"
    "                       behaviour; anyone reaching the router can then register or evict nodes). Development\n"
    "                       only; a warning is logged at start. Default false.\n"
    "  health               optional object:\n"
    "    interval_ms        time between health checks of a node (default 30000; a new node is checked at once)\n"
    "    timeout_ms         per try of a check (default 5000)\n"
    "    retries            tries per check (default 3)\n"
    "    window_seconds     checks older than this are forgotten (default 900)\n"
    "    min_checks         below this many checks a node is 'unknown' and gets no requests (default 3; a dev\n"
    "                       stack uses 1)\n"
    "    failure_streak     this many failed checks in a row remove the node (default 3)\n"
    "    min_success_rate   a success rate below this (0..1) removes the node (default 0.9)\n"
    "  node_max_age_seconds nodes that sent no event for this long are removed (default 900)\n"
    "  max_manifests        most nodes listed by one /compute-manifests answer, 1..500 (default 500)\n"
    "  node_requests        optional object:\n"
    "    connect_timeout_ms connecting to a node (default 5000); on failure the next candidate is tried\n"
    "    timeout_seconds    waiting for a node's response head and each later piece (default 300)\n"
    "  limits               optional object:\n"
    "    max_request_bytes  compute request body limit (default 8388608)\n"
    "    max_event_bytes    node event body limit (default 4194304)\n"
    "    max_nodes          registered nodes (default 10000)\n"
    "    max_connections    concurrent connections (default 1024)\n"
    "  threads              network threads (default 2)\n"
    "  storage_threads      database and signing worker threads (default 4)\n"
    "  log_level            trace, debug, info, warn, error or off (default info). Nothing from a request's\n"
    "                       content is logged; node ids and outcomes are.\n";

// Fail closed: a router that would take anybody's node events says so in its config.
Status check_node_token_setting(const ServiceConfig& config) {
  if (!config.node_token_file.empty() || config.allow_unauthenticated_node_events) return {};
  return make_error(ErrorCode::kInvalidArgument,
                    "config: router.node_token_file is required: the node registration token every POST "
                    "/node-events must present (" + std::string(kNodeTokenFormat) +
                        "). To accept node events from anyone (development only) set "
                        "\"allow_unauthenticated_node_events\": true");
}

}  // namespace

Result<ServiceConfig> parse_service_config(const nlohmann::json& input, const fs::path& base_dir) {
  services::ConfigReader cfg(input, "router");
  ServiceConfig out;
  const std::string listen = cfg.string("listen", "127.0.0.1:8084");
  const std::string data_dir = cfg.string("data_dir", "");
  const std::optional<std::string> database = cfg.optional_string("database");
  const std::string currency_key = cfg.string("currency_key", "currency.key");
  out.currency_key_bits = static_cast<size_t>(cfg.integer("currency_key_bits", 2048, 1024, 8192));
  const services::TlsSection tls(cfg);
  const std::string node_token_file = cfg.string("node_token_file", "");
  out.allow_unauthenticated_node_events = cfg.boolean("allow_unauthenticated_node_events", false);

  services::ConfigReader& health = cfg.object("health");
  out.health_interval = std::chrono::milliseconds(health.integer("interval_ms", 30'000, 10, 86'400'000));
  out.health_timeout = std::chrono::milliseconds(health.integer("timeout_ms", 5'000, 10, 600'000));
  out.health_retries = static_cast<int>(health.integer("retries", 3, 1, 100));
  out.health.window = std::chrono::seconds(health.integer("window_seconds", 900, 1, 7 * 86'400));
  out.health.min_checks = static_cast<int>(health.integer("min_checks", 3, 1, 10'000));
  out.health.failure_streak = static_cast<int>(health.integer("failure_streak", 3, 1, 10'000));
  out.health.min_success_rate = health.number("min_success_rate", 0.9, 0.0, 1.0);
  out.node_max_age = std::chrono::seconds(cfg.integer("node_max_age_seconds", 900, 1, 7 * 86'400));
  out.max_manifests = static_cast<int>(cfg.integer("max_manifests", 500, 1, kMaxComputeManifests));

  services::ConfigReader& node_requests = cfg.object("node_requests");
  out.node_connect_timeout =
      std::chrono::milliseconds(node_requests.integer("connect_timeout_ms", 5'000, 10, 600'000));
  out.node_timeout = std::chrono::seconds(node_requests.integer("timeout_seconds", 300, 1, 86'400));

  services::ConfigReader& limits = cfg.object("limits");
  out.max_request_bytes = static_cast<size_t>(limits.integer("max_request_bytes", 8 << 20, 1024, int64_t{1} << 30));
  out.max_event_bytes = static_cast<size_t>(limits.integer("max_event_bytes", 4 << 20, 1024, int64_t{1} << 28));
  out.max_nodes = static_cast<size_t>(limits.integer("max_nodes", 10'000, 1, 1'000'000));
  out.max_connections = static_cast<size_t>(limits.integer("max_connections", 1024, 1, 1 << 20));
  out.threads = static_cast<unsigned>(cfg.integer("threads", 2, 1, 256));
  out.storage_threads = static_cast<unsigned>(cfg.integer("storage_threads", 4, 1, 256));
  out.log_level = cfg.string("log_level", "info");
  if (Status s = cfg.finish(); !s) return std::unexpected(s.error());

  auto address = services::parse_listen_address(listen);
  if (!address) return std::unexpected(wrap_error("config: router.listen", address.error()));
  out.host = address->first;
  out.port = address->second;
  out.data_dir = data_dir.empty() ? base_dir : services::resolve_config_path(base_dir, data_dir);
  if (!database || database->empty()) {
    return make_error(ErrorCode::kInvalidArgument, "config: router.database is required");
  }
  out.database = services::resolve_database_url(out.data_dir, *database);
  if (currency_key.empty()) return make_error(ErrorCode::kInvalidArgument, "config: router.currency_key is empty");
  out.currency_key = services::resolve_config_path(out.data_dir, currency_key);
  if (out.currency_key_bits % 2 != 0) {
    return make_error(ErrorCode::kInvalidArgument, "config: router.currency_key_bits must be even");
  }
  auto tls_files = tls.resolve("router", out.data_dir);
  if (!tls_files) return std::unexpected(tls_files.error());
  out.tls = *tls_files;
  if (!node_token_file.empty()) out.node_token_file = services::resolve_config_path(out.data_dir, node_token_file);
  if (Status ok = check_node_token_setting(out); !ok) return std::unexpected(ok.error());
  if (auto ok = services::check_log_level("router", out.log_level); !ok) return std::unexpected(ok.error());
  return out;
}

Result<ServiceConfig> load_service_config(const fs::path& path) {
  auto file = services::read_service_config_file(path);
  if (!file) return std::unexpected(file.error());
  return parse_service_config(file->json, file->base_dir);
}

std::string example_service_config() { return kExample; }
std::string service_config_help() { return kHelp; }

struct Service::State {
  ServiceConfig config;
  std::shared_ptr<services::Metrics> metrics;
  std::shared_ptr<store::Database> db;
  std::unique_ptr<currency::NonceStore> nonces;
  std::unique_ptr<currency::Issuer> issuer;
  std::unique_ptr<currency::CreditVerifier> verifier;
  std::unique_ptr<currency::Processor> processor;
  std::unique_ptr<Registry> registry;
  std::unique_ptr<net::Runtime> runtime;
  std::unique_ptr<net::BlockingPool> pool;
  std::unique_ptr<HealthChecker> checker;
  // Every stream to a node: cut when a shutdown's grace period ends.
  std::shared_ptr<net::AbortGroup> node_streams = std::make_shared<net::AbortGroup>();
  std::unique_ptr<net::Server> server;  // declared last: stopped first
  bool shut_down = false;
};

Service::Service(std::unique_ptr<State> state) : state_(std::move(state)) {}

Service::~Service() { shutdown(std::chrono::milliseconds(0)); }

Result<std::unique_ptr<Service>> Service::start(const ServiceConfig& config, crypto::KeyGenProgress progress) {
  auto state = std::make_unique<State>();
  state->config = config;
  state->metrics = std::make_shared<services::Metrics>("openpcc_router");

  if (Status ok = check_node_token_setting(config); !ok) return std::unexpected(ok.error());
  std::shared_ptr<const SecretBytes> node_token;
  if (!config.node_token_file.empty()) {
    auto token = load_node_token(config.node_token_file);
    if (!token) return std::unexpected(token.error());
    node_token = std::make_shared<const SecretBytes>(std::move(*token));
  } else {
    spdlog::warn("router: allow_unauthenticated_node_events is set and there is no node_token_file: anyone who "
                 "can reach this router can register, replace or remove compute nodes. Development only.");
  }

  // The banks' loader: an existing key of any size is used; a missing one is generated, never replacing a key that
  // another service stored first.
  std::error_code ec;
  auto key = fs::exists(config.currency_key, ec)
                 ? services::load_currency_key(config.currency_key, services::kAnyModulusBits)
                 : services::load_or_generate_currency_key(config.currency_key, config.currency_key_bits,
                                                           std::move(progress));
  if (!key) return std::unexpected(wrap_error("currency key " + config.currency_key.string(), key.error()));
  auto issuer = currency::Issuer::create(std::move(*key));
  if (!issuer) return std::unexpected(wrap_error("currency key", issuer.error()));
  state->issuer = std::make_unique<currency::Issuer>(std::move(*issuer));
  auto verifier = currency::CreditVerifier::create(state->issuer->public_key());
  if (!verifier) return std::unexpected(wrap_error("currency key", verifier.error()));
  state->verifier = std::make_unique<currency::CreditVerifier>(std::move(*verifier));

  store::DatabaseOptions db_options;
  db_options.max_connections = static_cast<int>(std::max(2u, config.storage_threads + 1));
  auto db = store::open_database(config.database, db_options);
  if (!db) return std::unexpected(wrap_error("database", db.error()));
  state->db = *db;
  if (Status s = currency::migrate_sql_nonce_store(*state->db); !s) {
    return std::unexpected(wrap_error("database", s.error()));
  }
  state->nonces = currency::make_sql_nonce_store(state->db);
  state->processor = std::make_unique<currency::Processor>(*state->verifier, *state->nonces, state->issuer.get());

  RegistryOptions registry_options;
  registry_options.health = config.health;
  registry_options.node_max_age = config.node_max_age;
  registry_options.check_interval = config.health_interval;
  registry_options.max_nodes = config.max_nodes;
  state->registry = std::make_unique<Registry>(registry_options);

  state->runtime = std::make_unique<net::Runtime>(config.threads);
  state->pool = std::make_unique<net::BlockingPool>(config.storage_threads);

  RouterOptions options;
  options.max_request_bytes = config.max_request_bytes;
  options.max_event_bytes = config.max_event_bytes;
  options.max_manifests = config.max_manifests;
  options.node_client.connect_timeout = config.node_connect_timeout;
  options.node_client.read_timeout = config.node_timeout;
  options.node_client.abort_group = state->node_streams;
  options.node_token = std::move(node_token);
  const size_t max_body = max_router_body(options);
  auto handler = make_router_handler(*state->registry, *state->processor, *state->pool, state->metrics,
                                     std::move(options));
  if (!handler) return std::unexpected(handler.error());

  net::ServerConfig server_config;
  server_config.host = config.host;
  server_config.port = config.port;
  server_config.max_connections = config.max_connections;
  server_config.max_body_bytes = max_body;
  // Streams to clients may pause between tokens; each write still has its own timeout.
  server_config.name = "router";
  if (config.tls) {
    server_config.tls = net::TlsServerFiles{config.tls->certificate_file.string(),
                                            config.tls->private_key_file.string()};
  }
  auto server = net::Server::start(*state->runtime, server_config, std::move(*handler));
  if (!server) return std::unexpected(wrap_error("listen on " + config.host, server.error()));
  state->server = std::move(*server);

  HealthCheckOptions health;
  health.timeout = config.health_timeout;
  health.retries = config.health_retries;
  health.tick = std::min(std::chrono::milliseconds(100), config.health_interval);
  state->checker = HealthChecker::start(*state->runtime, *state->registry, health, state->metrics);
  return std::unique_ptr<Service>(new Service(std::move(state)));
}

uint16_t Service::port() const { return state_->server->port(); }

std::string Service::url() const {
  return std::string(state_->config.tls ? "https://" : "http://") + services::url_host(state_->config.host) + ":" +
         std::to_string(port());
}

Registry& Service::registry() { return *state_->registry; }

void Service::shutdown(std::chrono::milliseconds grace) {
  if (state_->shut_down) return;
  state_->shut_down = true;
  if (state_->checker) state_->checker->stop();
  // The server cuts its clients' connections when the grace period ends, but a handler waiting on a node only notices
  // when that node's stream fails: cut those streams at the same time, or a stalled node would hold the shutdown for
  // up to node_requests.timeout_seconds. (If everything ends sooner, the runtime's stop drops this timer.)
  state_->runtime->spawn([streams = state_->node_streams, grace]() -> net::Task<void> {
    co_await net::sleep_for(grace);
    streams->abort_all();
  });
  state_->server->shutdown(grace);
  state_->pool.reset();
  state_->runtime->stop();
}

}  // namespace openpcc::router

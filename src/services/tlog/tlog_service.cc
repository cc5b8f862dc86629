#include "services/tlog/tlog_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "net/blocking_pool.h"
#include "net/runtime.h"
#include "net/server.h"
#include "services/common/config.h"
#include "services/common/key_files.h"
#include "services/tlog/publisher_token.h"
#include "services/tlog/tlog_http.h"
#include "store/database.h"
#include "transparency/note.h"

namespace openpcc::tlog {
namespace {

namespace fs = std::filesystem;

constexpr char kExample[] = R"({
  // Where to listen: host:port, [v6]:port; port 0 picks a free port (the bound address is printed on stdout).
  "listen": "127.0.0.1:8085",
  // Base for the relative paths below (default: the config file's directory).
  "data_dir": ".",
  // The log's database: "sqlite:<path>" or "postgresql://user@host/db". Several tlog processes may share one.
  "database": "sqlite:tlog.db",
  // The log's identity: the first line of every checkpoint and the name of its signing key. A schema-less URL.
  "origin": "tlog.example.com/openpcc",
  // The checkpoint-signing key: Ed25519, PKCS#8 PEM, mode 0600; generated if missing. Its verifier key (what
  // clients trust) is written next to it as tlog.key.vkey and logged at start.
  "log_key": "tlog.key",
  // SHA-256 (hex) of each publisher token allowed to append; make one with: openpcc tlog --new-publisher-token
  "publisher_token_hashes": [],
  // Ed25519 public keys (PEM) of the publishers: an entry must be a DSSE envelope of an in-toto statement signed by
  // one of them (openpcc tlog publish makes those). Empty: any bytes a token holder appends.
  "publisher_keys": ["publisher.pub.pem"],
  // HTTPS: remove this object for plain HTTP (e.g. behind a TLS-terminating proxy on the same host).
  "tls": {"certificate": "tlog-cert.pem", "private_key": "tlog-key.pem"},
  "limits": {
    "max_entry_bytes": 262144,       // one appended entry (a DSSE envelope)
    "max_connections": 1024
  },
  "threads": 2,                      // network threads
  "storage_threads": 4,              // database worker threads
  "log_level": "info"                // trace, debug, info, warn, error, off
}
)";

constexpr char kHelp[] =
    "Configuration keys (JSON object; // comments allowed; unknown keys are errors):\n"
    "  listen                  host:port to listen on ([v6]:port for IPv6); port 0 = any free port. Default\n"
    "                          127.0.0.1:8085. Once listening, one line 'listening on http(s)://HOST:PORT' is\n"
    "                          printed on stdout.\n"
    "  data_dir                base directory for relative paths (default: the config file's directory)\n"
    "  database                required. 'sqlite:<path>' or 'postgresql://…'. Tables: tlog_entries, tlog_nodes,\n"
    "                          tlog_head.\n"
    "  origin                  required. The log's identity: the first line of every checkpoint and the name of\n"
    "                          its signing key (non-empty, no spaces or '+'), e.g. tlog.example.com/openpcc\n"
    "  log_key                 the checkpoint-signing key (Ed25519, PKCS#8 PEM, mode 0600). Generated if missing;\n"
    "                          its verifier key is written to <log_key>.vkey. Default tlog.key.\n"
    "  publisher_token_hashes  SHA-256 (64 hex digits) of each bearer token allowed to append. Empty: nobody can\n"
    "                          append. Make a token with: openpcc tlog --new-publisher-token\n"
    "  publisher_keys          Ed25519 public keys (PEM files). When set, an entry must be a canonical DSSE\n"
    "                          envelope of an in-toto statement signed by one of them (what `openpcc tlog publish`\n"
    "                          sends); anything else is refused (400, or 401 for an untrusted signature).\n"
    "  tls                     optional {\"certificate\": PEM chain file, \"private_key\": PEM file}: serve HTTPS\n"
    "  limits                  optional object:\n"
    "    max_entry_bytes       largest entry (request body) accepted (default 262144)\n"
    "    max_connections       concurrent connections (default 1024)\n"
    "  threads                 network threads (default 2)\n"
    "  storage_threads         database worker threads (default 4)\n"
    "  log_level               trace, debug, info, warn, error or off (default info). Info logs one line per\n"
    "                          request (operation, status, duration); never tokens or entry contents.\n";

}  // namespace

Result<ServiceConfig> parse_service_config(const nlohmann::json& json, const fs::path& base_dir) {
  services::ConfigReader cfg(json, "tlog");
  ServiceConfig out;
  const std::string listen = cfg.string("listen", "127.0.0.1:8085");
  const std::string data_dir = cfg.string("data_dir", "");
  const std::optional<std::string> database = cfg.optional_string("database");
  const std::optional<std::string> origin = cfg.optional_string("origin");
  const std::string log_key = cfg.string("log_key", "tlog.key");
  out.publisher_token_hashes = cfg.strings("publisher_token_hashes");
  const std::vector<std::string> publisher_keys = cfg.strings("publisher_keys");
  const services::TlsSection tls(cfg);
  services::ConfigReader& limits = cfg.object("limits");
  out.max_entry_bytes = static_cast<size_t>(
      limits.integer("max_entry_bytes", static_cast<int64_t>(kDefaultMaxEntryBytes), 1024, 16 << 20));
  out.max_connections = static_cast<size_t>(limits.integer("max_connections", 1024, 1, 1 << 20));
  out.threads = static_cast<unsigned>(cfg.integer("threads", 2, 1, 256));
  out.storage_threads = static_cast<unsigned>(cfg.integer("storage_threads", 4, 1, 256));
  out.log_level = cfg.string("log_level", "info");
  if (Status s = cfg.finish(); !s) return std::unexpected(s.error());

  auto address = services::parse_listen_address(listen);
  if (!address) return std::unexpected(wrap_error("config: tlog.listen", address.error()));
  out.host = address->first;
  out.port = address->second;
  out.data_dir = data_dir.empty() ? base_dir : services::resolve_config_path(base_dir, data_dir);
  if (!database || database->empty()) {
    return make_error(ErrorCode::kInvalidArgument, "config: tlog.database is required");
  }
  out.database = services::resolve_database_url(out.data_dir, *database);
  if (!origin || origin->empty()) return make_error(ErrorCode::kInvalidArgument, "config: tlog.origin is required");
  if (!transparency::is_valid_note_key_name(*origin)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "config: tlog.origin must be valid UTF-8 without spaces or '+' (it names the signing key)");
  }
  out.origin = *origin;
  if (log_key.empty()) return make_error(ErrorCode::kInvalidArgument, "config: tlog.log_key is empty");
  out.log_key = services::resolve_config_path(out.data_dir, log_key);
  if (auto tokens = PublisherTokens::from_hashes(out.publisher_token_hashes); !tokens) {
    return std::unexpected(wrap_error("config: tlog.publisher_token_hashes", tokens.error()));
  }
  for (const auto& key : publisher_keys) out.publisher_keys.push_back(services::resolve_config_path(out.data_dir, key));
  auto tls_files = tls.resolve("tlog", out.data_dir);
  if (!tls_files) return std::unexpected(tls_files.error());
  out.tls = *tls_files;
  if (auto ok = services::check_log_level("tlog", out.log_level); !ok) return std::unexpected(ok.error());
  return out;
}

Result<ServiceConfig> load_service_config(const fs::path& path) {
  auto file = services::read_service_config_file(path);
  if (!file) return std::unexpected(file.error());
  return parse_service_config(file->json, file->base_dir);
}

std::string example_service_config() { return kExample; }
std::string service_config_help() { return kHelp; }

fs::path verifier_key_path(const fs::path& log_key) { return fs::path(log_key.string() + ".vkey"); }

struct Service::State {
  ServiceConfig config;
  std::shared_ptr<store::Database> db;
  std::unique_ptr<TransparencyLog> log;
  std::unique_ptr<net::Runtime> runtime;
  std::unique_ptr<net::BlockingPool> pool;
  std::unique_ptr<net::Server> server;  // declared last: stopped first
  bool shut_down = false;
};

Service::Service(std::unique_ptr<State> state) : state_(std::move(state)) {}

Service::~Service() { shutdown(std::chrono::milliseconds(0)); }

Result<std::unique_ptr<Service>> Service::start(const ServiceConfig& config) {
  auto state = std::make_unique<State>();
  state->config = config;

  auto key = services::load_or_generate_ed25519_key(config.log_key);
  if (!key) return std::unexpected(wrap_error("log key " + config.log_key.string(), key.error()));
  auto signer = transparency::NoteSigner::create(config.origin, std::move(*key));
  if (!signer) return std::unexpected(wrap_error("log key", signer.error()));
  const std::string vkey = signer->verifier_key() + "\n";
  // Public: best effort would hide a misconfigured directory; a service that cannot write it should say so.
  if (auto s = services::write_public_file_atomically(verifier_key_path(config.log_key), as_bytes(vkey)); !s) {
    return std::unexpected(wrap_error("verifier key file", s.error()));
  }

  auto tokens = PublisherTokens::from_hashes(config.publisher_token_hashes);
  if (!tokens) return std::unexpected(wrap_error("publisher tokens", tokens.error()));

  store::DatabaseOptions db_options;
  db_options.max_connections = static_cast<int>(std::max(2u, config.storage_threads + 1));
  auto db = store::open_database(config.database, db_options);
  if (!db) return std::unexpected(wrap_error("database", db.error()));
  state->db = *db;
  LogOptions log_options;
  log_options.max_entry_bytes = config.max_entry_bytes;
  for (const auto& path : config.publisher_keys) {
    auto pem = services::read_public_file(path);
    if (!pem) return std::unexpected(wrap_error("publisher key", pem.error()));
    auto key = crypto::Ed25519PublicKey::from_pem(*pem);
    if (!key) return std::unexpected(wrap_error("publisher key " + path.string(), key.error()));
    if (auto added = log_options.publishers.add(*key); !added) {
      return std::unexpected(wrap_error("publisher key " + path.string(), added.error()));
    }
  }
  auto log = TransparencyLog::open(state->db, std::move(*signer), log_options);
  if (!log) return std::unexpected(wrap_error("database", log.error()));
  state->log = std::move(*log);
  // Sign the current head once, so a broken key or database shows at start and not at the first request.
  if (auto cp = state->log->checkpoint(); !cp) return std::unexpected(wrap_error("checkpoint", cp.error()));

  state->runtime = std::make_unique<net::Runtime>(config.threads);
  state->pool = std::make_unique<net::BlockingPool>(config.storage_threads);

  net::ServerConfig server_config;
  server_config.host = config.host;
  server_config.port = config.port;
  server_config.max_connections = config.max_connections;
  server_config.max_body_bytes = config.max_entry_bytes;
  server_config.name = "tlog";
  if (config.tls) {
    server_config.tls = net::TlsServerFiles{config.tls->certificate_file.string(),
                                            config.tls->private_key_file.string()};
  }
  auto server = net::Server::start(*state->runtime, server_config,
                                   make_tlog_handler(*state->log, *state->pool, std::move(*tokens)));
  if (!server) return std::unexpected(wrap_error("listen on " + config.host, server.error()));
  state->server = std::move(*server);
  return std::unique_ptr<Service>(new Service(std::move(state)));
}

uint16_t Service::port() const { return state_->server->port(); }

std::string Service::url() const {
  return std::string(state_->config.tls ? "https://" : "http://") + services::url_host(state_->config.host) + ":" +
         std::to_string(port());
}

TransparencyLog& Service::log() { return *state_->log; }

std::string Service::verifier_key() const { return state_->log->verifier_key(); }

void Service::shutdown(std::chrono::milliseconds grace) {
  if (state_->shut_down) return;
  state_->shut_down = true;
  state_->server->shutdown(grace);
  state_->pool.reset();
  state_->runtime->stop();
}

}  // namespace openpcc::tlog

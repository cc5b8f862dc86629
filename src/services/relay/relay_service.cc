#include "services/relay/relay_service.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "net/client.h"
#include "net/runtime.h"
#include "net/server.h"
#include "net/url.h"
#include "services/common/config.h"
#include "services/relay/relay_handler.h"

namespace openpcc::relay {
namespace {

namespace fs = std::filesystem;

constexpr char kExample[] = R"({
  // Where clients connect: host:port, [v6]:port; port 0 picks a free port (the bound address is printed on stdout).
  "listen": "127.0.0.1:8080",
  // Base for the relative paths below (default: the config file's directory).
  "data_dir": ".",
  // Where encapsulated requests go: the OHTTP gateway's URL (every POST is sent to exactly this URL).
  "gateway_url": "http://127.0.0.1:8082/",
  // PEM CA certificates for an https:// gateway; leave out to use the system store.
  // "gateway_ca_file": "gateway-ca.pem",
  // HTTPS towards clients: remove this object for plain HTTP (e.g. behind a TLS-terminating proxy).
  "tls": {"certificate": "relay-cert.pem", "private_key": "relay-key.pem"},
  "limits": {
    "max_body_bytes": 67108864,      // request body; larger bodies are refused with 413
    "max_connections": 1024
  },
  "timeouts": {
    "header_ms": 10000, "body_read_ms": 30000, "write_ms": 30000, "idle_ms": 60000,
    "gateway_connect_ms": 10000,
    "gateway_read_ms": 300000,       // inference responses may pause between tokens
    "gateway_write_ms": 30000
  },
  "threads": 2,                      // network threads
  "log_client_addresses": false,     // true writes client addresses to the log, which de-anonymizes them
  "log_level": "info"                // trace, debug, info, warn, error, off
}
)";

constexpr char kHelp[] =
    "Configuration keys (JSON object; // comments allowed; unknown keys are errors):\n"
    "  listen               host:port to listen on ([v6]:port for IPv6); port 0 = any free port. Default\n"
    "                       127.0.0.1:8080. Once listening, one line 'listening on http(s)://HOST:PORT' is\n"
    "                       printed on stdout.\n"
    "  data_dir             base directory for relative paths (default: the config file's directory)\n"
    "  gateway_url          required. The OHTTP gateway's URL (http:// or https://); every POST is forwarded to\n"
    "                       exactly this URL with only Content-Type (message/ohttp-req or\n"
    "                       message/ohttp-chunked-req, else 415), Incremental (chunked), Content-Length and the\n"
    "                       body. Nothing about the client (address, cookies, user agent, ...) is forwarded.\n"
    "  gateway_ca_file      PEM CA certificates for an https gateway (default: the system store)\n"
    "  tls                  optional {\"certificate\": PEM chain file, \"private_key\": PEM file}: serve HTTPS\n"
    "  limits               optional object:\n"
    "    max_body_bytes     request body limit (default 67108864 = 64 MiB); beyond it: 413\n"
    "    max_connections    concurrent client connections (default 1024)\n"
    "  timeouts             optional object, milliseconds:\n"
    "    header_ms          a client's whole request head (default 10000)\n"
    "    body_read_ms       each read of a client's body must make progress (default 30000)\n"
    "    write_ms           each write to a client (default 30000)\n"
    "    idle_ms            keep-alive idle time (default 60000)\n"
    "    gateway_connect_ms connecting to the gateway (default 10000); failure: 502\n"
    "    gateway_read_ms    each read of the gateway's response (default 300000); no head in time: 504\n"
    "    gateway_write_ms   each write to the gateway (default 30000)\n"
    "  threads              network threads (default 2)\n"
    "  log_client_addresses false (default). true writes client IP addresses to the log, which DE-ANONYMIZES\n"
    "                       the relay's users; it exists for debugging a private deployment only.\n"
    "  log_level            trace, debug, info, warn, error or off (default info). Nothing about a request's\n"
    "                       contents is ever logged.\n";

std::chrono::milliseconds read_ms(services::ConfigReader& cfg, std::string_view key, std::chrono::milliseconds def) {
  return std::chrono::milliseconds(cfg.integer(key, def.count(), 1, int64_t{24} * 3600 * 1000));
}

}  // namespace

Result<ServiceConfig> parse_service_config(const nlohmann::json& json, const fs::path& base_dir) {
  services::ConfigReader cfg(json, "relay");
  ServiceConfig out;
  const std::string listen = cfg.string("listen", "127.0.0.1:8080");
  const std::string data_dir = cfg.string("data_dir", "");
  const std::optional<std::string> gateway_url = cfg.optional_string("gateway_url");
  const std::string gateway_ca_file = cfg.string("gateway_ca_file", "");
  const services::TlsSection tls(cfg);
  services::ConfigReader& limits = cfg.object("limits");
  out.max_body_bytes =
      static_cast<uint64_t>(limits.integer("max_body_bytes", static_cast<int64_t>(out.max_body_bytes), 1024,
                                           int64_t{1} << 36));
  out.max_connections = static_cast<size_t>(limits.integer("max_connections", 1024, 1, 1 << 20));
  services::ConfigReader& timeouts = cfg.object("timeouts");
  out.header_timeout = read_ms(timeouts, "header_ms", out.header_timeout);
  out.body_read_timeout = read_ms(timeouts, "body_read_ms", out.body_read_timeout);
  out.write_timeout = read_ms(timeouts, "write_ms", out.write_timeout);
  out.idle_timeout = read_ms(timeouts, "idle_ms", out.idle_timeout);
  out.gateway_connect_timeout = read_ms(timeouts, "gateway_connect_ms", out.gateway_connect_timeout);
  out.gateway_read_timeout = read_ms(timeouts, "gateway_read_ms", out.gateway_read_timeout);
  out.gateway_write_timeout = read_ms(timeouts, "gateway_write_ms", out.gateway_write_timeout);
  out.threads = static_cast<unsigned>(cfg.integer("threads", 2, 1, 256));
  out.log_client_addresses = cfg.boolean("log_client_addresses", false);
  out.log_level = cfg.string("log_level", "info");
  if (Status s = cfg.finish(); !s) return std::unexpected(s.error());

  auto address = services::parse_listen_address(listen);
  if (!address) return std::unexpected(wrap_error("config: relay.listen", address.error()));
  out.host = address->first;
  out.port = address->second;
  out.data_dir = data_dir.empty() ? base_dir : services::resolve_config_path(base_dir, data_dir);
  if (!gateway_url || gateway_url->empty()) {
    return make_error(ErrorCode::kInvalidArgument, "config: relay.gateway_url is required");
  }
  if (auto url = net::parse_url(*gateway_url); !url) {
    return std::unexpected(wrap_error("config: relay.gateway_url", url.error()));
  }
  out.gateway_url = *gateway_url;
  out.gateway_ca_file = services::resolve_config_path(out.data_dir, gateway_ca_file);
  auto tls_files = tls.resolve("relay", out.data_dir);
  if (!tls_files) return std::unexpected(tls_files.error());
  out.tls = *tls_files;
  if (auto ok = services::check_log_level("relay", out.log_level); !ok) return std::unexpected(ok.error());
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
  std::unique_ptr<net::Runtime> runtime;
  // Every stream to the gateway: cut when a shutdown's grace period ends.
  std::shared_ptr<net::AbortGroup> upstream_streams = std::make_shared<net::AbortGroup>();
  std::unique_ptr<net::Server> server;  // declared last: destroyed first
  bool shut_down = false;
};

Service::Service(std::unique_ptr<State> state) : state_(std::move(state)) {}

Service::~Service() { shutdown(std::chrono::milliseconds(0)); }

Result<std::unique_ptr<Service>> Service::start(const ServiceConfig& config) {
  auto state = std::make_unique<State>();
  state->config = config;
  state->metrics = std::make_shared<services::Metrics>("openpcc_relay");

  if (auto url = net::parse_url(config.gateway_url); !url) {
    return std::unexpected(wrap_error("gateway_url", url.error()));
  }
  net::ClientOptions client_options;
  client_options.connect_timeout = config.gateway_connect_timeout;
  client_options.read_timeout = config.gateway_read_timeout;
  client_options.write_timeout = config.gateway_write_timeout;
  // Responses stream for as long as inference runs: no limit.
  client_options.max_response_body_bytes = std::nullopt;
  client_options.ca_file = config.gateway_ca_file.string();
  client_options.abort_group = state->upstream_streams;
  auto client = net::Client::create(std::move(client_options));
  if (!client) return std::unexpected(wrap_error("gateway client", client.error()));

  net::ServerConfig server_config;
  server_config.host = config.host;
  server_config.port = config.port;
  server_config.max_body_bytes = config.max_body_bytes;
  server_config.header_timeout = config.header_timeout;
  server_config.body_read_timeout = config.body_read_timeout;
  server_config.write_timeout = config.write_timeout;
  server_config.idle_timeout = config.idle_timeout;
  server_config.max_connections = config.max_connections;
  server_config.log_client_addresses = config.log_client_addresses;
  server_config.name = "relay";
  if (config.tls) {
    server_config.tls = net::TlsServerFiles{config.tls->certificate_file.string(),
                                            config.tls->private_key_file.string()};
  }
  if (config.log_client_addresses) {
    spdlog::warn("relay: log_client_addresses is on: client addresses will be logged (this de-anonymizes clients)");
  }

  state->runtime = std::make_unique<net::Runtime>(config.threads);
  RelayOptions options(config.gateway_url, std::move(*client));
  auto server = net::Server::start(*state->runtime, server_config,
                                   make_relay_handler(std::move(options), state->metrics));
  if (!server) return std::unexpected(wrap_error("listen on " + config.host, server.error()));
  state->server = std::move(*server);
  return std::unique_ptr<Service>(new Service(std::move(state)));
}

uint16_t Service::port() const { return state_->server->port(); }

std::string Service::url() const {
  return std::string(state_->config.tls ? "https://" : "http://") + services::url_host(state_->config.host) + ":" +
         std::to_string(port());
}

const services::Metrics& Service::metrics() const { return *state_->metrics; }

void Service::shutdown(std::chrono::milliseconds grace) {
  if (state_->shut_down) return;
  state_->shut_down = true;
  // The server cuts its clients' connections when the grace period ends, but a handler waiting on the gateway only
  // notices when that stream fails: cut those streams at the same time, or a stalled upstream would hold the
  // shutdown for up to its read timeout. (If everything ends sooner, the runtime's stop drops this timer.)
  state_->runtime->spawn([streams = state_->upstream_streams, grace]() -> net::Task<void> {
    co_await net::sleep_for(grace);
    streams->abort_all();
  });
  state_->server->shutdown(grace);
  state_->runtime->stop();
}

}  // namespace openpcc::relay

#include "services/gateway/gateway_service.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "net/client.h"
#include "net/runtime.h"
#include "net/server.h"
#include "net/url.h"
#include "services/common/config.h"
#include "services/common/metrics.h"
#include "services/gateway/gateway_http.h"

namespace openpcc::gateway {
namespace {

namespace fs = std::filesystem;

constexpr char kExample[] = R"({
  // Where to listen: host:port, [v6]:port; port 0 picks a free port (the bound address is printed on stdout).
  "listen": "127.0.0.1:8082",
  // Base for the relative paths below (default: the config file's directory).
  "data_dir": ".",
  // The OHTTP keys. Each is derived from a 32-byte seed file (mode 0600, generated if missing) and accepted only
  // inside its period (active_from < now <= active_until). To rotate: add a key with a new id and an overlapping
  // period, publish (openpcc gateway keys, then openpcc tlog publish), restart; remove the old key after it ends.
  "keys": [
    {"key_id": 1, "kem": "x25519-kyber768", "seed_file": "ohttp-key-1.seed",
     "active_from": "2026-01-01T00:00:00Z", "active_until": "2027-01-01T00:00:00Z"}
  ],
  // Optional: the transparency bundle of the keys' statement, served at GET /ohttp-keys/statement.
  "key_statement": "ohttp-keys.bundle.json",
  // Where inner requests go: confsec-bank.invalid → bank_url, confsec-router.invalid → router_url.
  "bank_url": "http://127.0.0.1:8083",
  "router_url": "http://127.0.0.1:8084",
  // PEM CA certificates for https:// upstreams ("" = the system store).
  "upstream_ca_file": "",
  // HTTPS: remove this object for plain HTTP (the relay is the gateway's only client).
  "tls": {"certificate": "gateway-cert.pem", "private_key": "gateway-key.pem"},
  "limits": {
    "max_request_bytes": 16777216,   // an encapsulated request body
    "max_response_bytes": 16777216,  // an upstream response that is encapsulated whole (streams are not limited)
    "max_chunk_plaintext": 16384,    // one chunk of a chunked request
    "max_inner_header_bytes": 16384, // the inner request's header (and trailer) section
    "max_connections": 1024
  },
  "timeouts": {
    "upstream_connect_ms": 9000,     // connecting to the bank or the router
    "upstream_read_ms": 300000,      // each read of an upstream response (a model's first token can be slow)
    "write_ms": 30000,               // each write, to the client or upstream
    "request_read_ms": 30000,        // each read of a request body
    "header_ms": 10000,              // a request's header
    "idle_ms": 60000                 // an idle keep-alive connection
  },
  "threads": 2,
  "log_level": "info"                // trace, debug, info, warn, error, off
}
)";

constexpr char kHelp[] =
    "Configuration keys (JSON object; // comments allowed; unknown keys are errors):\n"
    "  listen            host:port to listen on ([v6]:port for IPv6); port 0 = any free port. Default\n"
    "                    127.0.0.1:8082. Once listening, one line 'listening on http(s)://HOST:PORT' is printed\n"
    "                    on stdout.\n"
    "  data_dir          base directory for relative paths (default: the config file's directory)\n"
    "  keys              required, at least one: [{key_id 0..255 (unique), kem \"x25519-kyber768\" (default) or\n"
    "                    \"x25519\", seed_file (32 bytes, mode 0600, generated if missing; default\n"
    "                    ohttp-key-<id>.seed), active_from, active_until (RFC 3339)}]. Suite: HKDF-SHA256 +\n"
    "                    AES-128-GCM. A request under a key outside its period gets the InactiveKey (103)\n"
    "                    problem, which tells clients to fetch keys again.\n"
    "  key_statement     optional transparency bundle file (from openpcc tlog publish), served at\n"
    "                    GET /ohttp-keys/statement and re-read per request\n"
    "  bank_url          required: the BlindBank (inner host confsec-bank.invalid)\n"
    "  router_url        required: the router (inner host confsec-router.invalid)\n"
    "  upstream_ca_file  PEM CA certificates for https upstreams (default: the system store)\n"
    "  tls               optional {\"certificate\": PEM chain file, \"private_key\": PEM file}: serve HTTPS\n"
    "  limits            optional object: max_request_bytes (16 MiB), max_response_bytes (16 MiB; upstream\n"
    "                    responses encapsulated whole — streamed ones are not limited), max_chunk_plaintext (16384),\n"
    "                    max_inner_header_bytes (16384), max_connections (1024)\n"
    "  timeouts          optional object, milliseconds: upstream_connect_ms (9000), upstream_read_ms (300000),\n"
    "                    write_ms (30000), request_read_ms (30000), header_ms (10000), idle_ms (60000)\n"
    "  threads           network threads (default 2)\n"
    "  log_level         trace, debug, info, warn, error or off (default info). Nothing of a request's content\n"
    "                    is logged; failures are logged with their taxonomy code.\n"
    "\n"
    "Publishing the keys: openpcc gateway keys --config FILE --ohttp-keys OUT --rotation-periods OUT writes the\n"
    "application/ohttp-keys file and the periods' JSON that openpcc tlog publish signs.\n";

// An absolute http(s) URL without a trailing slash (paths are appended to it).
Result<std::string> upstream_url(std::string_view name, const std::optional<std::string>& text) {
  if (!text || text->empty()) {
    return make_error(ErrorCode::kInvalidArgument, "config: gateway." + std::string(name) + " is required");
  }
  auto url = net::parse_url(*text);
  if (!url) return std::unexpected(wrap_error("config: gateway." + std::string(name), url.error()));
  if (url->target.find('?') != std::string::npos) {
    return make_error(ErrorCode::kInvalidArgument, "config: gateway." + std::string(name) + " has a query");
  }
  std::string out = url->scheme + "://" + url->authority() + url->target;
  while (!out.empty() && out.back() == '/') out.pop_back();
  return out;
}

Result<std::vector<GatewayKeySpec>> parse_keys(const nlohmann::json* keys, const fs::path& data_dir) {
  if (keys == nullptr || !keys->is_array() || keys->empty()) {
    return make_error(ErrorCode::kInvalidArgument, "config: gateway.keys must be a non-empty array of key objects");
  }
  std::vector<GatewayKeySpec> out;
  for (size_t i = 0; i < keys->size(); ++i) {
    const std::string path = "gateway.keys[" + std::to_string(i) + "]";
    if (!(*keys)[i].is_object()) return make_error(ErrorCode::kInvalidArgument, "config: " + path + " must be an object");
    services::ConfigReader key((*keys)[i], path);
    const bool has_id = key.has("key_id");
    GatewayKeySpec spec;
    spec.key_id = static_cast<uint8_t>(key.integer("key_id", 0, 0, 255));
    const std::string kem = key.string("kem", "x25519-kyber768");
    const std::string seed = key.string("seed_file", "ohttp-key-" + std::to_string(spec.key_id) + ".seed");
    const std::optional<std::string> from = key.optional_string("active_from");
    const std::optional<std::string> until = key.optional_string("active_until");
    if (auto ok = key.finish(); !ok) return std::unexpected(ok.error());
    if (!has_id) return make_error(ErrorCode::kInvalidArgument, "config: " + path + ".key_id is required");
    auto kem_id = parse_kem_name(kem);
    if (!kem_id) return std::unexpected(wrap_error("config: " + path + ".kem", kem_id.error()));
    spec.kem = *kem_id;
    if (seed.empty()) return make_error(ErrorCode::kInvalidArgument, "config: " + path + ".seed_file is empty");
    spec.seed_file = services::resolve_config_path(data_dir, seed);
    if (!from || !until) {
      return make_error(ErrorCode::kInvalidArgument, "config: " + path + " needs active_from and active_until");
    }
    auto from_time = transparency::parse_rfc3339(*from);
    if (!from_time) return std::unexpected(wrap_error("config: " + path + ".active_from", from_time.error()));
    auto until_time = transparency::parse_rfc3339(*until);
    if (!until_time) return std::unexpected(wrap_error("config: " + path + ".active_until", until_time.error()));
    if (*from_time >= *until_time) {
      return make_error(ErrorCode::kInvalidArgument, "config: " + path + ": active_from must be before active_until");
    }
    spec.active_from = *from_time;
    spec.active_until = *until_time;
    for (const auto& other : out) {
      if (other.key_id == spec.key_id) {
        return make_error(ErrorCode::kInvalidArgument, "config: " + path + ": key_id " +
                                                           std::to_string(spec.key_id) + " is used twice");
      }
    }
    out.push_back(std::move(spec));
  }
  return out;
}

std::chrono::milliseconds millis(services::ConfigReader& cfg, std::string_view key, int64_t fallback) {
  return std::chrono::milliseconds(cfg.integer(key, fallback, 1, 24 * 3600 * 1000));
}

}  // namespace

Result<ServiceConfig> parse_service_config(const nlohmann::json& json, const fs::path& base_dir) {
  // The keys are an array of objects, which ConfigReader does not read: take them out and read each on its own.
  nlohmann::json rest = json;
  std::optional<nlohmann::json> keys;
  if (rest.is_object() && rest.contains("keys")) {
    keys = rest["keys"];
    rest.erase("keys");
  }
  services::ConfigReader cfg(rest, "gateway");
  ServiceConfig out;
  const std::string listen = cfg.string("listen", "127.0.0.1:8082");
  const std::string data_dir = cfg.string("data_dir", "");
  const std::optional<std::string> statement = cfg.optional_string("key_statement");
  const std::optional<std::string> bank = cfg.optional_string("bank_url");
  const std::optional<std::string> router = cfg.optional_string("router_url");
  const std::string ca_file = cfg.string("upstream_ca_file", "");
  const services::TlsSection tls(cfg);
  services::ConfigReader& limits = cfg.object("limits");
  out.max_request_bytes = static_cast<uint64_t>(limits.integer("max_request_bytes", 16 << 20, 1024, int64_t{1} << 32));
  out.max_response_bytes =
      static_cast<uint64_t>(limits.integer("max_response_bytes", 16 << 20, 1024, int64_t{1} << 32));
  out.max_chunk_plaintext = static_cast<size_t>(limits.integer("max_chunk_plaintext", 16384, 532, 1 << 20));
  out.max_inner_header_bytes = static_cast<size_t>(limits.integer("max_inner_header_bytes", 16384, 1024, 1 << 20));
  out.max_connections = static_cast<size_t>(limits.integer("max_connections", 1024, 1, 1 << 20));
  services::ConfigReader& timeouts = cfg.object("timeouts");
  out.upstream_connect_timeout = millis(timeouts, "upstream_connect_ms", 9'000);
  out.upstream_read_timeout = millis(timeouts, "upstream_read_ms", 300'000);
  out.write_timeout = millis(timeouts, "write_ms", 30'000);
  out.request_read_timeout = millis(timeouts, "request_read_ms", 30'000);
  out.header_timeout = millis(timeouts, "header_ms", 10'000);
  out.idle_timeout = millis(timeouts, "idle_ms", 60'000);
  out.threads = static_cast<unsigned>(cfg.integer("threads", 2, 1, 256));
  out.log_level = cfg.string("log_level", "info");
  if (Status s = cfg.finish(); !s) return std::unexpected(s.error());

  auto address = services::parse_listen_address(listen);
  if (!address) return std::unexpected(wrap_error("config: gateway.listen", address.error()));
  out.host = address->first;
  out.port = address->second;
  out.data_dir = data_dir.empty() ? base_dir : services::resolve_config_path(base_dir, data_dir);
  auto specs = parse_keys(keys ? &*keys : nullptr, out.data_dir);
  if (!specs) return std::unexpected(specs.error());
  out.keys = std::move(*specs);
  if (statement && !statement->empty()) out.key_statement = services::resolve_config_path(out.data_dir, *statement);
  auto bank_url = upstream_url("bank_url", bank);
  if (!bank_url) return std::unexpected(bank_url.error());
  out.bank_url = std::move(*bank_url);
  auto router_url = upstream_url("router_url", router);
  if (!router_url) return std::unexpected(router_url.error());
  out.router_url = std::move(*router_url);
  if (!ca_file.empty()) out.upstream_ca_file = services::resolve_config_path(out.data_dir, ca_file).string();
  auto tls_files = tls.resolve("gateway", out.data_dir);
  if (!tls_files) return std::unexpected(tls_files.error());
  out.tls = *tls_files;
  if (auto ok = services::check_log_level("gateway", out.log_level); !ok) return std::unexpected(ok.error());
  return out;
}

Result<ServiceConfig> load_service_config(const fs::path& path) {
  auto file = services::read_service_config_file(path);
  if (!file) return std::unexpected(file.error());
  return parse_service_config(file->json, file->base_dir);
}

std::string example_service_config() { return kExample; }
std::string service_config_help() { return kHelp; }

Result<GatewayKeyMaterial> load_gateway_keys(const ServiceConfig& config) {
  return load_gateway_keys(std::span<const GatewayKeySpec>(config.keys));
}

struct Service::State {
  ServiceConfig config;
  std::shared_ptr<const GatewayKeyMaterial> keys;
  std::shared_ptr<services::Metrics> metrics;
  std::unique_ptr<net::Runtime> runtime;
  // Every stream to the router or the bank: cut when a shutdown's grace period ends.
  std::shared_ptr<net::AbortGroup> upstream_streams = std::make_shared<net::AbortGroup>();
  std::unique_ptr<net::Server> server;
  bool shut_down = false;
};

Service::Service(std::unique_ptr<State> state) : state_(std::move(state)) {}

Service::~Service() { shutdown(std::chrono::milliseconds(0)); }

Result<std::unique_ptr<Service>> Service::start(const ServiceConfig& config, Clock clock) {
  auto state = std::make_unique<State>();
  state->config = config;
  auto keys = load_gateway_keys(config);
  if (!keys) return std::unexpected(keys.error());
  state->keys = std::make_shared<const GatewayKeyMaterial>(std::move(*keys));
  state->metrics = std::make_shared<services::Metrics>("openpcc_gateway");

  net::ClientOptions client_options;
  client_options.connect_timeout = config.upstream_connect_timeout;
  client_options.read_timeout = config.upstream_read_timeout;
  client_options.write_timeout = config.write_timeout;
  // Streams are bounded by time, whole responses by the handler (max_response_bytes).
  client_options.max_response_body_bytes = std::nullopt;
  client_options.ca_file = config.upstream_ca_file;
  client_options.abort_group = state->upstream_streams;
  auto upstream = net::Client::create(client_options);
  if (!upstream) return std::unexpected(wrap_error("upstream client", upstream.error()));

  auto context = std::make_shared<GatewayContext>(GatewayContext{
      .keys = state->keys,
      .clock = clock ? std::move(clock) : Clock(system_now),
      .bank_url = config.bank_url,
      .router_url = config.router_url,
      .key_statement = config.key_statement,
      .upstream = std::move(*upstream),
      .request_limits = {},
      .max_response_bytes = config.max_response_bytes,
      .metrics = state->metrics,
  });
  context->request_limits.max_request_bytes = config.max_request_bytes;
  context->request_limits.max_chunk_plaintext = config.max_chunk_plaintext;
  context->request_limits.bhttp.max_header_section_bytes = config.max_inner_header_bytes;
  context->request_limits.bhttp.max_trailer_section_bytes = config.max_inner_header_bytes;
  context->request_limits.bhttp.max_control_data_bytes = config.max_inner_header_bytes;
  context->request_limits.bhttp.max_body_bytes = config.max_request_bytes;

  state->runtime = std::make_unique<net::Runtime>(config.threads);
  net::ServerConfig server_config;
  server_config.host = config.host;
  server_config.port = config.port;
  server_config.max_connections = config.max_connections;
  server_config.max_body_bytes = config.max_request_bytes;
  server_config.header_timeout = config.header_timeout;
  server_config.body_read_timeout = config.request_read_timeout;
  server_config.write_timeout = config.write_timeout;
  server_config.idle_timeout = config.idle_timeout;
  server_config.name = "gateway";
  if (config.tls) {
    server_config.tls = net::TlsServerFiles{config.tls->certificate_file.string(),
                                            config.tls->private_key_file.string()};
  }
  auto server = net::Server::start(*state->runtime, server_config, make_gateway_handler(std::move(context)));
  if (!server) return std::unexpected(wrap_error("listen on " + config.host, server.error()));
  state->server = std::move(*server);
  return std::unique_ptr<Service>(new Service(std::move(state)));
}

uint16_t Service::port() const { return state_->server->port(); }

std::string Service::url() const {
  return std::string(state_->config.tls ? "https://" : "http://") + services::url_host(state_->config.host) + ":" +
         std::to_string(port());
}

const GatewayKeyMaterial& Service::keys() const { return *state_->keys; }
const services::Metrics& Service::metrics() const { return *state_->metrics; }

void Service::shutdown(std::chrono::milliseconds grace) {
  if (state_->shut_down) return;
  state_->shut_down = true;
  // The server cuts its clients' connections when the grace period ends, but a handler waiting on the router or the bank only
  // notices when that stream fails: cut those streams at the same time, or a stalled upstream would hold the
  // shutdown for up to its read timeout. (If everything ends sooner, the runtime's stop drops this timer.)
  state_->runtime->spawn([streams = state_->upstream_streams, grace]() -> net::Task<void> {
    co_await net::sleep_for(grace);
    streams->abort_all();
  });
  state_->server->shutdown(grace);
  state_->runtime->stop();
}

}  // namespace openpcc::gateway

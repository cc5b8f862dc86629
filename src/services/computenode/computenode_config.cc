#include "services/computenode/computenode_config.h"

#include <algorithm>
#include <utility>

#include "attest/tpm/tcti.h"
#include "net/url.h"
#include "services/common/config.h"

namespace openpcc::computenode {
namespace {

namespace fs = std::filesystem;

// The router's limits on routing tags (services/router): a node that exceeds them would never be routed to.
constexpr size_t kMaxTagBytes = 512;
constexpr size_t kMaxTags = 64;

constexpr char kExample[] = R"({
  // Where to listen: host:port, [v6]:port; port 0 picks a free port (the bound address is printed on stdout).
  "listen": "127.0.0.1:8090",
  // Base for the relative paths below (default: the config file's directory).
  "data_dir": ".",
  // The TPM: swtpm:host=H,port=P | mssim:host=H,port=P | device:/dev/tpmrm0. Its PCRs must be fresh (a power
  // cycle per node start): the node measures its boot into them.
  "tpm": "swtpm:host=127.0.0.1,port=2321",
  // The router to register with (heartbeats to <router_url>/node-events). Remove to run unregistered.
  "router_url": "http://127.0.0.1:8084",
  // The router's node registration token (the same file as the router's node_token_file, mode 0600): sent as
  // "Authorization: Bearer <token>" with every heartbeat and the shutdown event.
  "router_token_file": "node.token",
  // The URL the router sends requests to (must end with "/"); health checks go to <public_url>_health.
  // Default: http://<listen host>:<bound port>/.
  // "public_url": "http://10.0.0.5:8090/",
  "tags": ["llm"],                     // routing tags; model=<name> is added for every model below
  "models": ["openpcc-test-engine"],   // the model names this node serves (and badges must allow)
  // The inference engine: http(s)://host:port or openai+http://… (OpenAI-compatible), ollama+http://… (Ollama).
  "engine": "http://127.0.0.1:8000",
  // The model files (a file or a directory) whose digest is measured into PCR 12.
  "model_path": "model",
  // The AuthBank's badge public key (Ed25519, SubjectPublicKeyInfo PEM): badges in requests must verify with it.
  "badge_public_key": "badge.key.pub",
  // This machine has no SEV-SNP/TDX: the TEE report is SIMULATED, signed by this key (generated if missing).
  "simulated_root": "simulated-root.pem",
  // Optional: the transparency bundle of this node's image manifest, attached to the evidence.
  // "image_manifest_bundle": "image.bundle.json",
  "image_id": "local-image",           // the id in the image manifest (openpcc computenode image-manifest)
  "heartbeat_interval_ms": 60000,
  "evidence_refresh_seconds": 21600,   // a fresh quote this often; 0 = only at boot
  "request_timeout_seconds": 300,      // per request, the engine's answer included
  "max_request_bytes": 1310720,        // encrypted request body
  "response_padding_block": 256,       // answers padded to multiples of this before sealing (0 = off)
  "max_connections": 1024,
  "threads": 2,                        // network threads
  "log_level": "info"                  // trace, debug, info, warn, error, off
}
)";

constexpr char kHelp[] =
    "Configuration keys (JSON object; // comments allowed; unknown keys are errors):\n"
    "  listen                    host:port to listen on ([v6]:port for IPv6); port 0 = any free port. Default\n"
    "                            127.0.0.1:8090. Once booted and registered (first heartbeat tried), one line\n"
    "                            'listening on http://HOST:PORT' is printed on stdout.\n"
    "  data_dir                  base directory for relative paths (default: the config file's directory)\n"
    "  tpm                       required. The TPM as a TCTI: swtpm:host=H,port=P, mssim:host=H,port=P or\n"
    "                            device:/dev/tpmrm0. Its PCRs must be fresh: the node measures its (simulated)\n"
    "                            boot and model into them, then creates its request key (REK) bound to them.\n"
    "  router_url                the router's base URL; heartbeats (routing info + evidence) go to\n"
    "                            <router_url>/node-events. Absent: the node does not register.\n"
    "  router_token_file         the router's node registration token (the file its node_token_file names: one\n"
    "                            line, at least 32 random bytes hex-encoded, mode 0600). Sent as\n"
    "                            'Authorization: Bearer <token>' with every heartbeat and shutdown event; a router\n"
    "                            with a token answers 401 to events without it. Absent: events carry no token\n"
    "                            (only a router with allow_unauthenticated_node_events takes them).\n"
    "  public_url                the URL requests reach this node at, ending in '/'; health checks use\n"
    "                            <public_url>_health. Default http://<listen host>:<bound port>/ (required when\n"
    "                            listening on 0.0.0.0 or ::).\n"
    "  tags                      routing tags (default [\"llm\"]); model=<name> is added for each model.\n"
    "                            At most 64 tags of at most 512 bytes each.\n"
    "  models                    required. The model names this node serves; a request's model must be one of\n"
    "                            them and be allowed by its badge.\n"
    "  engine                    required. Inference engine URL: http(s)://host:port or openai+http(s)://…\n"
    "                            (OpenAI-compatible: vLLM, llama.cpp, openpcc engine), ollama+http(s)://…\n"
    "  model_path                required. Model file or directory; its digest is measured into PCR 12 (for the\n"
    "                            built-in test engine: its model directory).\n"
    "  badge_public_key          required. The AuthBank's badge public key (Ed25519 SubjectPublicKeyInfo PEM,\n"
    "                            e.g. badge.key.pub next to the AuthBank's badge_key).\n"
    "  simulated_root            the SIMULATED TEE root key (PEM, mode 0600; default simulated-root.pem),\n"
    "                            generated with its .pub if missing. Clients accept nodes signed by it only if\n"
    "                            their trust policy lists its public key: never in production.\n"
    "  image_manifest_bundle     optional transparency bundle (JSON) of this node's image manifest, attached to\n"
    "                            the evidence as IMAGE_MANIFEST_BUNDLE.\n"
    "  image_id                  the id in this node's image manifest (default local-image); see\n"
    "                            `openpcc computenode image-manifest`.\n"
    "  heartbeat_interval_ms     time between heartbeats (default 60000, at least 100)\n"
    "  evidence_refresh_seconds  how often a fresh quote replaces the evidence (default 21600; 0 = never)\n"
    "  request_timeout_seconds   the longest a request may take, the engine's answer included (default 300)\n"
    "  max_request_bytes         the largest encrypted request body (default 1310720: a 1 MiB prompt body plus\n"
    "                            headers and framing)\n"
    "  response_padding_block    the engine's answer is padded inside its own syntax (SSE comments, JSON\n"
    "                            whitespace) to multiples of this many bytes before it is sealed, so that chunk\n"
    "                            sizes do not show token lengths (default 256; 0 = off; at most 65536)\n"
    "  max_connections           concurrent connections (default 1024)\n"
    "  threads                   network threads (default 2)\n"
    "  log_level                 trace, debug, info, warn, error or off (default info). Requests are logged\n"
    "                            with status, sizes and durations only: never their content.\n";

bool printable_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 32 && c <= 126; });
}

std::unexpected<Error> invalid(std::string message) {
  return make_error(ErrorCode::kInvalidArgument, "config: computenode." + message);
}

}  // namespace

Result<ServiceConfig> parse_service_config(const nlohmann::json& json, const fs::path& base_dir) {
  services::ConfigReader cfg(json, "computenode");
  ServiceConfig out;
  const std::string listen = cfg.string("listen", "127.0.0.1:8090");
  const std::string data_dir = cfg.string("data_dir", "");
  out.tpm = cfg.string("tpm", "");
  out.router_url = cfg.string("router_url", "");
  const std::string router_token_file = cfg.string("router_token_file", "");
  out.public_url = cfg.string("public_url", "");
  const bool has_tags = cfg.has("tags");
  std::vector<std::string> tags = cfg.strings("tags");
  out.models = cfg.strings("models");
  out.engine = cfg.string("engine", "");
  const std::string model_path = cfg.string("model_path", "");
  const std::string badge_key = cfg.string("badge_public_key", "");
  const std::string simulated_root = cfg.string("simulated_root", "simulated-root.pem");
  const std::optional<std::string> bundle = cfg.optional_string("image_manifest_bundle");
  out.image_id = cfg.string("image_id", "local-image");
  out.heartbeat_interval = std::chrono::milliseconds(cfg.integer("heartbeat_interval_ms", 60'000, 100, 86'400'000));
  out.evidence_refresh = std::chrono::seconds(cfg.integer("evidence_refresh_seconds", 21'600, 0, 7 * 86'400));
  out.request_timeout = std::chrono::seconds(cfg.integer("request_timeout_seconds", 300, 1, 86'400));
  out.max_request_bytes = static_cast<size_t>(
      cfg.integer("max_request_bytes", static_cast<int64_t>(kDefaultMaxRequestBytes), 64 << 10, 64 << 20));
  out.response_padding_block = static_cast<size_t>(
      cfg.integer("response_padding_block", static_cast<int64_t>(kDefaultResponsePaddingBlock), 0,
                  static_cast<int64_t>(kMaxResponsePaddingBlock)));
  out.max_connections = static_cast<size_t>(cfg.integer("max_connections", 1024, 1, 1 << 20));
  out.threads = static_cast<unsigned>(cfg.integer("threads", 2, 1, 256));
  out.log_level = cfg.string("log_level", "info");
  if (Status s = cfg.finish(); !s) return std::unexpected(s.error());

  auto address = services::parse_listen_address(listen);
  if (!address) return std::unexpected(wrap_error("config: computenode.listen", address.error()));
  out.host = address->first;
  out.port = address->second;
  out.data_dir = data_dir.empty() ? base_dir : services::resolve_config_path(base_dir, data_dir);

  if (out.tpm.empty()) return invalid("tpm is required (e.g. swtpm:host=127.0.0.1,port=2321)");
  if (auto tcti = tpm::TctiConfig::parse(out.tpm); !tcti) {
    return std::unexpected(wrap_error("config: computenode.tpm", tcti.error()));
  }
  if (!out.router_url.empty()) {
    if (auto url = net::parse_url(out.router_url); !url) {
      return std::unexpected(wrap_error("config: computenode.router_url", url.error()));
    }
  }
  if (!router_token_file.empty()) {
    if (out.router_url.empty()) return invalid("router_token_file is set but router_url is not");
    out.router_token_file = services::resolve_config_path(out.data_dir, router_token_file);
  }
  if (!out.public_url.empty()) {
    if (auto url = net::parse_url(out.public_url); !url) {
      return std::unexpected(wrap_error("config: computenode.public_url", url.error()));
    }
    if (!out.public_url.ends_with('/')) return invalid("public_url must end with '/'");
  } else if (out.host == "0.0.0.0" || out.host == "::") {
    return invalid("public_url is required when listening on all addresses");
  }

  if (out.models.empty()) return invalid("models is required (at least one model name)");
  for (const auto& model : out.models) {
    if (model.empty() || !printable_ascii(model)) {
      return invalid("models: names must be non-empty printable ASCII");
    }
  }
  std::sort(out.models.begin(), out.models.end());
  out.models.erase(std::unique(out.models.begin(), out.models.end()), out.models.end());

  if (!has_tags) tags = {"llm"};
  for (const auto& model : out.models) tags.push_back("model=" + model);
  for (const auto& tag : tags) {
    if (tag.empty() || tag.size() > kMaxTagBytes || !printable_ascii(tag)) {
      return invalid("tags: each tag must be 1.." + std::to_string(kMaxTagBytes) + " printable ASCII bytes");
    }
    if (std::find(out.tags.begin(), out.tags.end(), tag) == out.tags.end()) out.tags.push_back(tag);
  }
  if (out.tags.size() > kMaxTags) {
    return invalid("tags: at most " + std::to_string(kMaxTags) + " tags, models included");
  }

  if (out.engine.empty()) return invalid("engine is required (e.g. http://127.0.0.1:8000)");
  if (model_path.empty()) return invalid("model_path is required");
  out.model_path = services::resolve_config_path(out.data_dir, model_path);
  if (badge_key.empty()) return invalid("badge_public_key is required");
  out.badge_public_key = services::resolve_config_path(out.data_dir, badge_key);
  if (simulated_root.empty()) return invalid("simulated_root is empty");
  out.simulated_root = services::resolve_config_path(out.data_dir, simulated_root);
  if (bundle) {
    if (bundle->empty()) return invalid("image_manifest_bundle is empty (remove it)");
    out.image_manifest_bundle = services::resolve_config_path(out.data_dir, *bundle);
  }
  if (out.image_id.empty()) return invalid("image_id is empty");
  if (!services::is_log_level(out.log_level)) {
    return invalid("log_level must be one of trace, debug, info, warn, error, off");
  }
  return out;
}

Result<ServiceConfig> load_service_config(const fs::path& path) {
  auto file = services::read_service_config_file(path);
  if (!file) return std::unexpected(file.error());
  return parse_service_config(file->json, file->base_dir);
}

std::string example_service_config() { return kExample; }
std::string service_config_help() { return kHelp; }

}  // namespace openpcc::computenode

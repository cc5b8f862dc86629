// `openpcc proxy`: the local OpenAI- and Ollama-compatible API (client/openai_proxy/proxy_server.h) in front of the
// client SDK, until SIGINT or SIGTERM; then the wallet's credits go back to the AuthBank.
// Exit status: 0 stopped by a signal, 1 the client or the server could not start, 2 usage or config error.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "cli/client_config_args.h"
#include "cli/commands.h"
#include "client/client.h"
#include "client/client_config.h"
#include "client/openai_proxy/proxy_server.h"
#include "client/openai_proxy/upstream.h"
#include "client/request_step.h"
#include "net/runtime.h"
#include "services/common/config.h"
#include "services/common/signals.h"

namespace openpcc::cli {
namespace {

namespace proxy = client::openai_proxy;

constexpr char kTokenEnv[] = "OPENPCC_PROXY_TOKEN";

struct ProxyOptions {
  std::string listen = "127.0.0.1:" + std::to_string(proxy::kDefaultProxyPort);
  std::string config;
  std::string token;
  std::vector<std::string> models;
  uint64_t max_request_bytes = 1 << 20;
  int64_t max_request_seconds = 600;
  size_t max_connections = 64;
  std::string log_level = "info";
};

int usage_error(const std::string& message) {
  std::fprintf(stderr, "openpcc proxy: error: %s\n", message.c_str());
  return 2;
}

int start_error(const std::string& message) {
  std::fprintf(stderr, "openpcc proxy: error: %s\n", message.c_str());
  return 1;
}

int run_proxy(const ProxyOptions& opts) {
  // Before any thread exists, so that only wait_for_shutdown_signal() sees SIGINT/SIGTERM.
  services::block_shutdown_signals();
  // Logs go to stderr: stdout carries only the "listening on" line that scripts and tests read.
  auto logger = spdlog::stderr_color_mt("proxy");
  spdlog::set_default_logger(logger);
  const auto level = spdlog::level::from_str(opts.log_level);
  if (level == spdlog::level::off && opts.log_level != "off") return usage_error("unknown --log-level " + opts.log_level);
  spdlog::set_level(level);

  auto address = services::parse_listen_address(opts.listen);
  if (!address) return usage_error("--listen " + opts.listen + ": " + address.error().message);
  proxy::ProxyConfig pc;
  pc.host = address->first;
  pc.port = address->second;
  pc.token = opts.token;
  if (pc.token.empty()) {
    if (const char* env = std::getenv(kTokenEnv); env && *env) pc.token = env;
  }
  pc.max_request_bytes = opts.max_request_bytes;
  pc.max_request_duration = std::chrono::seconds(opts.max_request_seconds);
  pc.max_connections = opts.max_connections;
  if (!proxy::is_loopback_host(pc.host) && pc.token.empty()) {
    return usage_error("--listen " + opts.listen +
                       " is not a loopback address: set a token (--token or $" + kTokenEnv +
                       "), or anyone who reaches the port spends your credits");
  }

  auto config = load_cli_client_config(opts.config);
  if (!config) return usage_error(config.error().message);

  net::Runtime runtime(2);
  auto c = client::Client::create(runtime, std::move(*config));
  if (!c) {
    if (client::step_of(c.error()) == client::Step::kConfig) return usage_error(c.error().message);
    return start_error(c.error().message);
  }
  auto server = proxy::Proxy::start(runtime, pc, proxy::private_upstream(**c, opts.models));
  if (!server) {
    c->reset();
    return start_error(server.error().message);
  }
  spdlog::info("proxy: serving the OpenAI API at {}/v1 and the Ollama API at {}/api{}", (*server)->url(),
               (*server)->url(), pc.token.empty() ? "" : " (bearer token required)");
  std::printf("listening on %s\n", (*server)->url().c_str());
  std::fflush(stdout);

  const int signal = services::wait_for_shutdown_signal();
  spdlog::info("proxy: signal {} received; shutting down", signal);
  (*server)->shutdown(std::chrono::seconds(10));
  server->reset();
  // The credits the wallet holds go back to the AuthBank (else they would wait in its state file).
  auto closed = runtime.block_on([&]() -> net::Task<Status> { co_return co_await (*c)->close(); });
  if (!closed) {
    spdlog::warn("proxy: returning the wallet's credits: {} (they stay in the wallet's state file)",
                 closed.error().message);
  }
  c->reset();  // before the runtime
  spdlog::info("proxy: stopped");
  return 0;
}

constexpr char kProxyFooter[] =
    "Serves, on loopback by default:\n"
    "  POST /v1/chat/completions, /v1/completions   OpenAI API (\"stream\": true → server-sent events,\n"
    "                                               stream_options.include_usage honoured)\n"
    "  POST /api/generate, /api/chat                Ollama API (NDJSON streams unless \"stream\": false)\n"
    "  GET  /v1/models, /v1/models/{id}, /api/tags  the models that verified nodes serve (or --model)\n"
    "Each prompt goes through the relay (OHTTP) to a compute node whose attestation passed the trust policy, tagged\n"
    "model=<the body's model>, paid with an anonymous credit; the answer streams back event by event as it is\n"
    "decrypted. The caller's header fields are not forwarded; the body and the query string are, unchanged.\n\n"
    "Errors use the OpenAI error shape {\"error\": {\"message\", \"type\", \"param\", \"code\"}} on /v1 paths and\n"
    "Ollama's {\"error\": \"…\"} on /api paths; the message starts with the step that failed (request, auth, no\n"
    "verified node, payment, routing, node, engine) or \"proxy:\". An unknown model answers 404 model_not_found.\n\n"
    "Token: with --token or $OPENPCC_PROXY_TOKEN set (the environment keeps it out of `ps`), every request needs\n"
    "\"Authorization: Bearer <token>\" — what the OpenAI SDKs send as their API key. Without one, only loopback\n"
    "listening is allowed. Requests with an Origin header (web pages) and, on loopback, a Host other than\n"
    "localhost / 127.0.0.1 / [::1] are refused.\n\n"
    "Examples:\n"
    "  openpcc dev up && openpcc proxy --listen 127.0.0.1:8765\n"
    "  curl http://127.0.0.1:8765/v1/chat/completions -H 'Content-Type: application/json' \\\n"
    "    -d '{\"model\":\"openpcc-test-engine\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}'\n"
    "  OpenAI SDKs: base URL http://127.0.0.1:8765/v1, API key = the token (any text without one)\n\n"
    "Prints \"listening on http://HOST:PORT\" on stdout once it serves. SIGINT/SIGTERM: stops accepting, lets\n"
    "answers in flight finish (10 s), then returns the wallet's credits to the AuthBank.\n"
    "Exit status: 0 stopped by a signal, 1 the client or the server could not start, 2 usage or config error.\n";

}  // namespace

void add_proxy_command(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<ProxyOptions>();
  auto* cmd = app.add_subcommand(
      "proxy", "Serve an OpenAI- and Ollama-compatible API locally; every prompt goes privately through OpenPCC");
  cmd->add_option("--listen", opts->listen, "HOST:PORT to listen on (0 = any free port)")
      ->default_val(opts->listen);
  add_client_config_option(*cmd, opts->config);
  cmd->add_option("--token", opts->token, "Bearer token callers must present (default: $OPENPCC_PROXY_TOKEN)");
  cmd->add_option("--model", opts->models,
                  "List this model in /v1/models instead of asking the router (repeatable); routing is unchanged");
  cmd->add_option("--max-request-bytes,--max-body", opts->max_request_bytes,
                  "Largest request body in bytes, at most 64 MiB (beyond: 413 in the API's error shape)")
      ->default_val(opts->max_request_bytes)
      ->check(CLI::Range(uint64_t{1}, proxy::kMaxRequestBytesCeiling));
  cmd->add_option("--max-request-seconds", opts->max_request_seconds, "Longest time a request may take")
      ->default_val(opts->max_request_seconds)
      ->check(CLI::Range(int64_t{1}, int64_t{86400}));
  cmd->add_option("--max-connections", opts->max_connections, "Connections served at once (others wait)")
      ->default_val(opts->max_connections)
      ->check(CLI::Range(size_t{1}, size_t{4096}));
  cmd->add_option("--log-level", opts->log_level, "trace, debug, info, warn, error, off")->default_val("info");
  cmd->footer(std::string(kProxyFooter) + "\n" + client::client_config_help());
  cmd->callback([opts, &exit_code] { exit_code = run_proxy(*opts); });
}

}  // namespace openpcc::cli

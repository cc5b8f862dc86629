// `openpcc engine --listen HOST:PORT --model-dir DIR [--token-delay-ms N] [--init-model]`: runs the built-in TEST
// engine (services/engine/test_engine.h) until SIGINT or SIGTERM. It is not a language model: it answers every prompt
// with "You said: <the prompt>" and canned words, so that a compute node and its clients run end to end without one.
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/run_service.h"
#include "services/common/config.h"
#include "services/common/signals.h"
#include "services/engine/test_engine.h"
#include "services/engine/test_model.h"

namespace openpcc::cli {
namespace {

struct EngineOptions {
  std::string listen = "127.0.0.1:0";
  std::string model_dir;
  int64_t token_delay_ms = 0;
  bool init_model = false;
  unsigned threads = 1;
  std::string log_level = "info";
};

int fail(const std::string& message) { return service_error("engine", message); }

int run_engine(const EngineOptions& opts) {
  if (opts.model_dir.empty()) return fail("--model-dir DIR is required (see --help)");
  if (!services::is_log_level(opts.log_level)) {
    return fail("--log-level must be one of " + std::string(services::kLogLevelsHelp));
  }
  auto address = services::parse_listen_address(opts.listen);
  if (!address) return fail("--listen: " + address.error().to_string());
  // Before any thread exists, so that only wait_for_shutdown_signal() sees SIGINT/SIGTERM.
  services::block_shutdown_signals();
  // Logs go to stderr: stdout carries only the "listening on" line that scripts and tests read.
  log_to_stderr("engine", opts.log_level);

  if (opts.init_model) {
    if (auto ok = engine::init_test_model(opts.model_dir); !ok) return fail(ok.error().to_string());
  }
  engine::TestEngineConfig config;
  config.host = address->first;
  config.port = address->second;
  config.model_dir = opts.model_dir;
  config.token_delay = std::chrono::milliseconds(opts.token_delay_ms);
  config.threads = opts.threads;
  auto engine = engine::TestEngine::start(config);
  if (!engine) {
    const bool missing = engine.error().code == ErrorCode::kNotFound;
    return fail(engine.error().to_string() + (missing ? " (--init-model writes one)" : ""));
  }
  spdlog::warn("engine: this is the openpcc TEST engine, not a language model: model '{}' answers every prompt with "
               "'You said: …' and canned words",
               (*engine)->model().name);
  spdlog::info("engine: serving {} on {} (token delay {} ms)", (*engine)->model().name, (*engine)->url(),
               opts.token_delay_ms);
  ServiceRun run;
  run.name = "engine";
  run.grace = std::chrono::seconds(5);
  engine::TestEngine& running = **engine;
  return serve_until_signal(run, RunningService{running.url(), [&running](std::chrono::milliseconds grace) {
                                                  running.shutdown(grace);
                                                }});
}

}  // namespace

void add_engine_command(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<EngineOptions>();
  auto* cmd = app.add_subcommand(
      "engine",
      "Run the built-in TEST inference engine (NOT a language model): OpenAI-compatible and Ollama APIs that answer "
      "every prompt with \"You said: <prompt>\" then canned words, for local stacks and tests");
  cmd->add_option("--listen", opts->listen, "Address to listen on, host:port (port 0 = any free port)")
      ->capture_default_str();
  cmd->add_option("--model-dir", opts->model_dir,
                  "The test model's directory (model.json: name, version, vocabulary); a compute node measures it")
      ->required();
  cmd->add_option("--token-delay-ms", opts->token_delay_ms, "Pause between two generated tokens, in milliseconds")
      ->check(CLI::Range(int64_t{0}, int64_t{60'000}))
      ->capture_default_str();
  cmd->add_flag("--init-model", opts->init_model, "Write the default test model into --model-dir if it has none");
  cmd->add_option("--threads", opts->threads, "Network threads")->check(CLI::Range(1u, 64u))->capture_default_str();
  cmd->add_option("--log-level", opts->log_level, "trace, debug, info, warn, error, off")->capture_default_str();
  cmd->footer(
      "This is a TEST engine, not a language model. It names itself so wherever it shows: model id "
      "\"openpcc-test-engine\", owned_by / system_fingerprint \"openpcc test engine (not a language model)\", and its "
      "Server header.\n\n"
      "Endpoints: GET /, /_health, /v1/models, /api/tags; POST /v1/completions, /v1/chat/completions (SSE when "
      "\"stream\": true, with a usage chunk when stream_options.include_usage is set; JSON with usage otherwise), "
      "POST /api/generate, /api/chat (NDJSON by default, as Ollama; \"stream\": false for one JSON object).\n\n"
      "Answers are deterministic: \"You\", \"said:\", the prompt's words (the last user message for chat), then the "
      "model's vocabulary words, exactly max_tokens (OpenAI) / options.num_predict (Ollama) words, default 16. A token "
      "is a whitespace-separated word, for the usage counts too.\n\n"
      "Prints one line, \"listening on URL\", on stdout once it serves; logs go to stderr. Use the URL as a compute "
      "node's engine (prefix it with \"ollama+\" for the Ollama API).");
  cmd->callback([opts, &exit_code] { exit_code = run_engine(*opts); });
}

}  // namespace openpcc::cli

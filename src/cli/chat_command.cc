// `openpcc chat "prompt"` and `openpcc complete "prompt"`: one private request through the client SDK
// (client/client.h) — the answer's text on stdout as it streams in, a summary of where it ran and what it cost on
// stderr. Exit status: 0 answered, 1 the request failed (the message names the step), 2 usage or config error.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "attest/verify.h"
#include "cli/client_config_args.h"
#include "cli/commands.h"
#include "client/client.h"
#include "client/client_config.h"
#include "client/completion_text.h"
#include "client/request_step.h"
#include "net/runtime.h"

namespace openpcc::cli {
namespace {

constexpr char kDefaultModel[] = "openpcc-test-engine";

struct ChatOptions {
  std::string command;  // "chat" or "complete"
  std::string prompt;
  std::string config;
  std::string model = kDefaultModel;
  int64_t max_tokens = 0;
  bool json = false;
  bool quiet = false;
  bool close_wallet = false;
};

int usage_error(const ChatOptions& opts, const std::string& message) {
  std::fprintf(stderr, "openpcc %s: error: %s\n", opts.command.c_str(), message.c_str());
  return 2;
}

int request_error(const ChatOptions& opts, const Error& error) {
  std::fprintf(stderr, "openpcc %s: request failed: %s\n", opts.command.c_str(), error.message.c_str());
  return 1;
}

client::Request build_request(const ChatOptions& opts) {
  nlohmann::json body = {{"model", opts.model}, {"stream", true}, {"stream_options", {{"include_usage", true}}}};
  client::Request request;
  if (opts.command == "chat") {
    request.path = "/v1/chat/completions";
    body["messages"] = nlohmann::json::array({{{"role", "user"}, {"content", opts.prompt}}});
  } else {
    request.path = "/v1/completions";
    body["prompt"] = opts.prompt;
  }
  if (opts.max_tokens > 0) body["max_tokens"] = opts.max_tokens;
  request.body = to_bytes(body.dump());
  return request;
}

std::string tee_description(const std::string& tee) {
  if (tee == "simulated") return "SIMULATED (no hardware TEE: a local test stack, not private)";
  if (tee == "sev-snp") return "AMD SEV-SNP";
  return tee;
}

void print_summary(const client::Response& response, const client::CompletionText& text) {
  const attest::VerificationReport& report = response.node().report;
  size_t passed = 0;
  for (const auto& check : report.checks) passed += check.status == attest::CheckStatus::kPassed;
  std::fprintf(stderr, "\n--\n");
  std::fprintf(stderr, "node     %s\n", response.node().id.c_str());
  std::fprintf(stderr, "verified %zu/%zu checks passed\n", passed, report.checks.size());
  if (report.node) {
    std::fprintf(stderr, "  TEE    %s\n", tee_description(report.node->tee).c_str());
    std::fprintf(stderr, "  image  %s\n", report.node->image_id.c_str());
    std::fprintf(stderr, "  model  sha256:%s\n", to_hex(report.node->model_digest).c_str());
  }
  if (text.usage()) {
    std::fprintf(stderr, "tokens   %lld in, %lld out\n", static_cast<long long>(text.usage()->prompt_tokens),
                 static_cast<long long>(text.usage()->completion_tokens));
  } else {
    std::fprintf(stderr, "tokens   (no usage record in the answer)\n");
  }
  const int64_t paid = response.credit_value();
  const int64_t refunded = response.refund().value_or(0);
  std::string note;
  if (text.usage()) {
    // The node charges 0.5 per input and 2 per output token and rounds the refund at random to a representable
    // value (fair on average), so one request's charge is coarse.
    const double cost = 0.5 * static_cast<double>(text.usage()->prompt_tokens) +
                        2.0 * static_cast<double>(text.usage()->completion_tokens);
    char buf[128];
    std::snprintf(buf, sizeof buf, " (the tokens cost %.1f; refunds are rounded at random, fair on average)", cost);
    note = buf;
  }
  std::fprintf(stderr, "credits  %lld paid, %lld refunded: %lld charged%s\n", static_cast<long long>(paid),
               static_cast<long long>(refunded), static_cast<long long>(paid - refunded), note.c_str());
}

// The request on the runtime; 0 / 1 as the command's exit status.
net::Task<int> run_request(const ChatOptions& opts, client::Client& c) {
  auto response = co_await c.request(build_request(opts));
  if (!response) co_return request_error(opts, response.error());
  client::CompletionText text;
  for (;;) {
    auto piece = co_await (*response)->read_chunk();
    if (!piece) {
      std::fputs("\n", stdout);
      std::fflush(stdout);
      co_return request_error(opts, piece.error());
    }
    if (!*piece) break;
    if (opts.json) {
      std::fwrite((*piece)->data(), 1, (*piece)->size(), stdout);
      (void)text.feed(**piece);  // for the usage line of the summary
    } else {
      std::fputs(text.feed(**piece).c_str(), stdout);
    }
    std::fflush(stdout);
  }
  const std::string rest = text.finish();
  if (!opts.json) std::fputs(rest.c_str(), stdout);
  std::fputs("\n", stdout);
  std::fflush(stdout);
  if (!opts.quiet) print_summary(**response, text);
  co_return 0;
}

int run_chat(const ChatOptions& opts) {
  if (opts.prompt.empty()) return usage_error(opts, "a prompt is required: openpcc " + opts.command + " \"…\"");
  if (opts.model.empty()) return usage_error(opts, "--model must not be empty");
  // Warnings (a node refused by the trust policy, a refund dropped) go to stderr; stdout carries only the answer.
  auto logger = spdlog::stderr_color_mt("client");
  spdlog::set_default_logger(logger);
  spdlog::set_level(opts.quiet ? spdlog::level::err : spdlog::level::warn);

  auto config = load_cli_client_config(opts.config);
  if (!config) return usage_error(opts, config.error().message);

  net::Runtime runtime(2);
  auto c = client::Client::create(runtime, std::move(*config));
  if (!c) {
    if (client::step_of(c.error()) == client::Step::kConfig) return usage_error(opts, c.error().message);
    return request_error(opts, c.error());
  }
  int status = runtime.block_on([&]() -> net::Task<int> { co_return co_await run_request(opts, **c); });
  if (opts.close_wallet) {
    auto closed = runtime.block_on([&]() -> net::Task<Status> { co_return co_await (*c)->close(); });
    if (!closed) std::fprintf(stderr, "openpcc %s: closing the wallet: %s\n", opts.command.c_str(),
                              closed.error().message.c_str());
  }
  c->reset();  // before the runtime: the wallet keeps its credits in its state file for the next run
  return status;
}

void add_one(CLI::App& app, int& exit_code, const std::string& name, const std::string& description,
             const std::string& path) {
  auto opts = std::make_shared<ChatOptions>();
  opts->command = name;
  auto* cmd = app.add_subcommand(name, description);
  cmd->add_option("prompt", opts->prompt, "The prompt");
  add_client_config_option(*cmd, opts->config);
  cmd->add_option("--model", opts->model, "Model to ask (default openpcc-test-engine)");
  cmd->add_option("--max-tokens", opts->max_tokens, "Most tokens to generate (default: the engine's)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  cmd->add_flag("--json", opts->json, "Print the raw streamed body (SSE) instead of the text");
  cmd->add_flag("--quiet", opts->quiet, "No summary on stderr");
  cmd->add_flag("--close", opts->close_wallet,
                "Return the wallet's credits to the AuthBank afterwards (default: keep them for the next request)");
  cmd->footer("Sends POST " + path +
              " with \"stream\": true through the OHTTP relay to a compute node whose attestation passed the trust "
              "policy, paid with an anonymous credit. The answer's text goes to stdout as it streams in; a summary "
              "(node, its verification, tokens, credits paid and refunded) to stderr.\n\n" +
              client::client_config_help() +
              "\nExit status: 0 answered, 1 the request failed (the message starts with the step: auth, no verified "
              "node, payment, routing, node, engine), 2 usage or config error.");
  cmd->callback([opts, &exit_code] { exit_code = run_chat(*opts); });
}

}  // namespace

void add_chat_commands(CLI::App& app, int& exit_code) {
  add_one(app, exit_code, "chat", "Ask a model privately (chat completion) through the OpenPCC stack",
          "/v1/chat/completions");
  add_one(app, exit_code, "complete", "Complete a prompt privately (text completion) through the OpenPCC stack",
          "/v1/completions");
}

}  // namespace openpcc::cli

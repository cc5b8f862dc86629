// `openpcc dev up | down | status`: the whole system on this machine (cli/dev_stack.h).
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "devstack/dev_stack.h"

namespace openpcc::cli {
namespace {

constexpr char kDevHelp[] =
    "The local stack: AuthBank (with a dev account and API key), relay, gateway, BlindBank, router, transparency log "
    "(with the currency key, OHTTP keys and image manifest published and signed), N compute nodes each booted on its "
    "own swtpm (a real TPM 2.0 emulator; the TEE report is SIMULATED), and the built-in TEST engine (it echoes the "
    "prompt; it is not a language model) unless --engine names a real one.\n\n"
    "Everything lives in the data directory (default ./openpcc-dev): keys, databases, configs, logs/<service>.log. "
    "Keys and the dev account are made on the first `up` and reused.\n\n"
    "  openpcc dev up [--nodes N] [--engine URL]      start; returns when every node is routable\n"
    "  openpcc chat \"Hello\"                            a private request through relay → gateway → router → node\n"
    "  openpcc dev status                             what runs\n"
    "  openpcc dev down                               stop everything (data stays)\n";

int fail(const std::string& message) {
  std::fprintf(stderr, "openpcc dev: error: %s\n", message.c_str());
  return 1;
}

}  // namespace

void add_dev_command(CLI::App& app, int& exit_code) {
  auto* dev = app.add_subcommand("dev", "Run the whole system locally (dev up / down / status)");
  dev->footer(kDevHelp);
  dev->require_subcommand(1);

  auto up = std::make_shared<devstack::DevUpOptions>();
  auto* up_cmd = dev->add_subcommand("up", "Start the local stack and wait until it serves requests");
  up_cmd->add_option("--data-dir", up->data_dir, "Data directory")->default_val("openpcc-dev");
  up_cmd->add_option("--nodes", up->nodes, "Compute nodes, each with its own swtpm")->default_val(1)->check(
      CLI::Range(1, 16));
  up_cmd->add_option("--engine", up->engine,
                     "Inference engine for the nodes: openai+http://HOST:PORT or ollama+http://HOST:PORT "
                     "(default: the built-in test engine)");
  up_cmd->add_option("--model", up->model, "Model the nodes serve (default: openpcc-test-engine)");
  up_cmd->add_option("--token-delay-ms", up->token_delay_ms, "Test engine: delay between streamed tokens")
      ->default_val(20);
  up_cmd->add_option("--currency-key-bits", up->currency_key_bits, "Currency key size on first start")
      ->default_val(2048);
  up_cmd->add_flag("--quiet", up->quiet, "Print only errors");
  up_cmd->callback([up, &exit_code] {
    auto stack = devstack::DevStack::up(*up);
    if (!stack) {
      exit_code = fail(stack.error().message);
      return;
    }
    (*stack)->detach();  // the stack outlives this command; `openpcc dev down` stops it
    exit_code = 0;
  });

  auto down_dir = std::make_shared<std::string>("openpcc-dev");
  auto* down_cmd = dev->add_subcommand("down", "Stop the local stack (its data stays)");
  down_cmd->add_option("--data-dir", *down_dir, "Data directory")->default_val("openpcc-dev");
  down_cmd->callback([down_dir, &exit_code] {
    auto s = devstack::dev_down(*down_dir);
    exit_code = s ? 0 : fail(s.error().message);
  });

  auto status_dir = std::make_shared<std::string>("openpcc-dev");
  auto* status_cmd = dev->add_subcommand("status", "Show the local stack's processes");
  status_cmd->add_option("--data-dir", *status_dir, "Data directory")->default_val("openpcc-dev");
  status_cmd->callback([status_dir, &exit_code] {
    auto s = devstack::dev_status(*status_dir);
    exit_code = s ? 0 : fail(s.error().message);
  });
}

}  // namespace openpcc::cli

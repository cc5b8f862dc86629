// `openpcc router --config FILE`: runs the router (services/router/router_service.h) until SIGINT or SIGTERM.
// `--print-example-config` prints an annotated configuration.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "services/common/signals.h"
#include "services/router/router_service.h"

namespace openpcc::cli {
namespace {

struct RouterOptions {
  std::string config;
  bool print_example = false;
};

int fail(const std::string& message) {
  std::fprintf(stderr, "openpcc router: error: %s\n", message.c_str());
  return 1;
}

int run_router(const RouterOptions& opts) {
  if (opts.print_example) {
    std::fputs(router::example_service_config().c_str(), stdout);
    return 0;
  }
  if (opts.config.empty()) return fail("--config FILE is required (see --help, --print-example-config)");
  // Before any thread exists, so that only wait_for_shutdown_signal() sees SIGINT/SIGTERM.
  services::block_shutdown_signals();

  auto config = router::load_service_config(opts.config);
  if (!config) return fail(config.error().to_string());
  // Logs go to stderr: stdout carries only the "listening on" line that scripts and tests read.
  auto logger = spdlog::stderr_color_mt("router");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(config->log_level));

  bool generating = false;
  auto progress = [&generating, bits = config->currency_key_bits](int, int) {
    if (!generating) {
      generating = true;
      spdlog::info("router: no currency key yet; generating a {}-bit key with safe primes (can take minutes)", bits);
    }
    return true;
  };
  auto service = router::Service::start(*config, progress);
  if (!service) return fail(service.error().to_string());
  spdlog::info("router: serving on {} with database {}", (*service)->url(),
               config->database.starts_with("sqlite:") ? config->database : std::string("postgresql"));
  std::printf("listening on %s\n", (*service)->url().c_str());
  std::fflush(stdout);

  const int signal = services::wait_for_shutdown_signal();
  spdlog::info("router: signal {} received; shutting down", signal);
  (*service)->shutdown(std::chrono::seconds(10));
  spdlog::info("router: stopped");
  return 0;
}

}  // namespace

void add_router_command(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<RouterOptions>();
  auto* cmd = app.add_subcommand(
      "router",
      "Run the router: compute nodes register with it (node events, health checks); clients ask it for nodes "
      "(compute manifests, paid with an attestation token) and send it their encrypted requests, which it forwards "
      "to one of their candidate nodes, charging the credit and returning the node's refund");
  cmd->add_option("--config", opts->config, "Configuration file (JSON; keys below)");
  cmd->add_flag("--print-example-config", opts->print_example, "Print an annotated example configuration and exit");
  cmd->footer(router::service_config_help());
  cmd->callback([opts, &exit_code] { exit_code = run_router(*opts); });
}

}  // namespace openpcc::cli

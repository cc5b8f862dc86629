// `openpcc relay --config FILE`: runs the OHTTP relay (services/relay/relay_service.h) until SIGINT or SIGTERM.
// `--print-example-config` prints an annotated configuration.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "services/common/signals.h"
#include "services/relay/relay_service.h"

namespace openpcc::cli {
namespace {

struct RelayOptions {
  std::string config;
  bool print_example = false;
};

int fail(const std::string& message) {
  std::fprintf(stderr, "openpcc relay: error: %s\n", message.c_str());
  return 1;
}

int run_relay(const RelayOptions& opts) {
  if (opts.print_example) {
    std::fputs(relay::example_service_config().c_str(), stdout);
    return 0;
  }
  if (opts.config.empty()) return fail("--config FILE is required (see --help, --print-example-config)");
  // Before any thread exists, so that only wait_for_shutdown_signal() sees SIGINT/SIGTERM.
  services::block_shutdown_signals();

  auto config = relay::load_service_config(opts.config);
  if (!config) return fail(config.error().to_string());
  // Logs go to stderr: stdout carries only the "listening on" line that scripts and tests read.
  auto logger = spdlog::stderr_color_mt("relay");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(config->log_level));

  auto service = relay::Service::start(*config);
  if (!service) return fail(service.error().to_string());
  spdlog::info("relay: serving on {}, forwarding to {}", (*service)->url(), config->gateway_url);
  std::printf("listening on %s\n", (*service)->url().c_str());
  std::fflush(stdout);

  const int signal = services::wait_for_shutdown_signal();
  spdlog::info("relay: signal {} received; shutting down", signal);
  (*service)->shutdown(std::chrono::seconds(10));
  spdlog::info("relay: stopped");
  return 0;
}

}  // namespace

void add_relay_command(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<RelayOptions>();
  auto* cmd = app.add_subcommand(
      "relay",
      "Run the OHTTP relay: passes clients' encapsulated requests to the gateway and the answers back, without "
      "anything that identifies the client");
  cmd->add_option("--config", opts->config, "Configuration file (JSON; keys below)");
  cmd->add_flag("--print-example-config", opts->print_example, "Print an annotated example configuration and exit");
  cmd->footer(relay::service_config_help());
  cmd->callback([opts, &exit_code] { exit_code = run_relay(*opts); });
}

}  // namespace openpcc::cli

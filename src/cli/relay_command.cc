// `openpcc relay --config FILE`: runs the OHTTP relay (services/relay/relay_service.h) until SIGINT or SIGTERM.
// `--print-example-config` prints an annotated configuration.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/run_service.h"
#include "services/relay/relay_service.h"

namespace openpcc::cli {
namespace {

struct RelayOptions {
  std::string config;
  bool print_example = false;
};

int run_relay(const RelayOptions& opts) {
  if (opts.print_example) {
    std::fputs(relay::example_service_config().c_str(), stdout);
    return 0;
  }
  ServiceRun run;
  run.name = "relay";
  run.config_path = opts.config;
  return run_service(run, relay::load_service_config, [](const relay::ServiceConfig& config) {
    auto service = relay::Service::start(config);
    if (service) spdlog::info("relay: serving on {}, forwarding to {}", (*service)->url(), config.gateway_url);
    return service;
  });
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

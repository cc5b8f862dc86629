// `openpcc router --config FILE`: runs the router (services/router/router_service.h) until SIGINT or SIGTERM.
// `--print-example-config` prints an annotated configuration.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/run_service.h"
#include "services/router/router_service.h"

namespace openpcc::cli {
namespace {

struct RouterOptions {
  std::string config;
  bool print_example = false;
};

int run_router(const RouterOptions& opts) {
  if (opts.print_example) {
    std::fputs(router::example_service_config().c_str(), stdout);
    return 0;
  }
  ServiceRun run;
  run.name = "router";
  run.config_path = opts.config;
  return run_service(run, router::load_service_config, [](const router::ServiceConfig& config) {
    bool generating = false;
    auto progress = [&generating, bits = config.currency_key_bits](int, int) {
      if (!generating) {
        generating = true;
        spdlog::info("router: no currency key yet; generating a {}-bit key with safe primes (can take minutes)",
                     bits);
      }
      return true;
    };
    auto service = router::Service::start(config, progress);
    if (service) {
      spdlog::info("router: serving on {} with database {}", (*service)->url(),
                   config.database.starts_with("sqlite:") ? config.database : std::string("postgresql"));
    }
    return service;
  });
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

// `openpcc blindbank --config FILE`: runs the BlindBank service (services/blindbank/blindbank_service.h) until
// SIGINT or SIGTERM. `--print-example-config` prints an annotated configuration.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/run_service.h"
#include "services/blindbank/blindbank_service.h"

namespace openpcc::cli {
namespace {

struct BlindBankOptions {
  std::string config;
  bool print_example = false;
};

int run_blindbank(const BlindBankOptions& opts) {
  if (opts.print_example) {
    std::fputs(blindbank::example_service_config().c_str(), stdout);
    return 0;
  }
  ServiceRun run;
  run.name = "blindbank";
  run.config_path = opts.config;
  return run_service(run, blindbank::load_service_config, [](const blindbank::ServiceConfig& config) {
    bool generating = false;
    auto progress = [&generating, bits = config.currency_key_bits](int, int) {
      if (!generating) {
        generating = true;
        spdlog::info("blindbank: no currency key yet; generating a {}-bit key with safe primes (can take minutes)",
                     bits);
      }
      return true;
    };
    auto service = blindbank::Service::start(config, progress);
    if (service) {
      spdlog::info("blindbank: serving on {} with database {}", (*service)->url(),
                   config.database.starts_with("sqlite:") ? config.database : std::string("postgresql"));
    }
    return service;
  });
}

}  // namespace

void add_blindbank_command(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<BlindBankOptions>();
  auto* cmd = app.add_subcommand(
      "blindbank",
      "Run the BlindBank: anonymous accounts that take credits in (deposit), blind-sign new credits out (withdraw, "
      "exchange) and issue the whole balance as one credit (withdraw-full)");
  cmd->add_option("--config", opts->config, "Configuration file (JSON; keys below)");
  cmd->add_flag("--print-example-config", opts->print_example, "Print an annotated example configuration and exit");
  cmd->footer(blindbank::service_config_help());
  cmd->callback([opts, &exit_code] { exit_code = run_blindbank(*opts); });
}

}  // namespace openpcc::cli

// `openpcc gateway --config FILE`: runs the OHTTP gateway (services/gateway/gateway_service.h) until SIGINT or
// SIGTERM. `--print-example-config` prints an annotated configuration.
//
// `openpcc gateway keys --config FILE --ohttp-keys OUT --rotation-periods OUT`: writes the gateway's key
// configurations (application/ohttp-keys) and their rotation periods (JSON), generating missing seed files, for
// `openpcc tlog publish --ohttp-keys OUT --rotation-periods OUT` to sign. Runs no service.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/run_service.h"
#include "common/bytes.h"
#include "services/common/key_files.h"
#include "services/gateway/gateway_service.h"

namespace openpcc::cli {
namespace {

struct GatewayOptions {
  std::string config;
  bool print_example = false;
};

struct GatewayKeysOptions {
  std::string config;
  std::string ohttp_keys;
  std::string rotation_periods;
};

int fail(const std::string& message) { return service_error("gateway", message); }

int run_gateway(const GatewayOptions& opts) {
  if (opts.print_example) {
    std::fputs(gateway::example_service_config().c_str(), stdout);
    return 0;
  }
  ServiceRun run;
  run.name = "gateway";
  run.config_path = opts.config;
  return run_service(run, gateway::load_service_config, [](const gateway::ServiceConfig& config) {
    auto service = gateway::Service::start(config);
    if (!service) return service;
    for (const auto& period : (*service)->keys().periods) {
      spdlog::info("gateway: key {} active from {} until {}", period.key_id,
                   transparency::format_rfc3339(period.active_from),
                   transparency::format_rfc3339(period.active_until));
    }
    spdlog::info("gateway: serving on {}; bank {}, router {}", (*service)->url(), config.bank_url, config.router_url);
    return service;
  });
}

int run_keys(const GatewayKeysOptions& opts) {
  if (opts.config.empty() || opts.ohttp_keys.empty() || opts.rotation_periods.empty()) {
    return fail("gateway keys needs --config, --ohttp-keys and --rotation-periods");
  }
  auto config = gateway::load_service_config(opts.config);
  if (!config) return fail(config.error().to_string());
  auto material = gateway::load_gateway_keys(*config);
  if (!material) return fail(material.error().to_string());
  if (auto ok = services::write_public_file_atomically(opts.ohttp_keys, material->ohttp_keys); !ok) {
    return fail(opts.ohttp_keys + ": " + ok.error().to_string());
  }
  const std::string periods = transparency::key_rotation_periods_to_json(material->periods) + "\n";
  if (auto ok = services::write_public_file_atomically(opts.rotation_periods, as_bytes(periods)); !ok) {
    return fail(opts.rotation_periods + ": " + ok.error().to_string());
  }
  std::fprintf(stderr, "openpcc gateway keys: wrote %zu key configuration(s) to %s and their periods to %s\n",
               material->periods.size(), opts.ohttp_keys.c_str(), opts.rotation_periods.c_str());
  return 0;
}

}  // namespace

void add_gateway_command(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<GatewayOptions>();
  auto* cmd = app.add_subcommand(
      "gateway",
      "Run the Oblivious HTTP gateway: decapsulates requests that arrive through the relay, forwards the allowed ones "
      "to the BlindBank or the router, and encapsulates their answers (streamed chunk by chunk)");
  cmd->add_option("--config", opts->config, "Configuration file (JSON; keys below)");
  cmd->add_flag("--print-example-config", opts->print_example, "Print an annotated example configuration and exit");
  cmd->footer(gateway::service_config_help());

  auto keys_opts = std::make_shared<GatewayKeysOptions>();
  auto* keys = cmd->add_subcommand(
      "keys", "Write the gateway's key configurations and rotation periods for `openpcc tlog publish` (no service)");
  keys->add_option("--config", keys_opts->config, "The gateway's configuration file")->required();
  keys->add_option("--ohttp-keys", keys_opts->ohttp_keys, "Output: application/ohttp-keys file")->required();
  keys->add_option("--rotation-periods", keys_opts->rotation_periods, "Output: rotation periods JSON file")
      ->required();
  keys->callback([keys_opts, &exit_code] { exit_code = run_keys(*keys_opts); });

  // `openpcc gateway keys …` writes the key files, not the service.
  cmd->callback([opts, cmd, &exit_code] {
    if (cmd->got_subcommand("keys")) return;
    exit_code = run_gateway(*opts);
  });
}

}  // namespace openpcc::cli

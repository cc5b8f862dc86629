// `openpcc tlog --config FILE`: runs the transparency log service (services/tlog/tlog_service.h) until SIGINT or
// SIGTERM. `--print-example-config` prints an annotated configuration; `--new-publisher-token` makes a publisher
// token and prints it with the hash that goes into the configuration.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/run_service.h"
#include "services/tlog/publisher_token.h"
#include "services/tlog/tlog_service.h"

namespace openpcc::cli {
namespace {

struct TlogOptions {
  std::string config;
  bool print_example = false;
  bool new_token = false;
};

int run_tlog(const TlogOptions& opts) {
  if (opts.print_example) {
    std::fputs(tlog::example_service_config().c_str(), stdout);
    return 0;
  }
  if (opts.new_token) {
    const std::string token = tlog::generate_publisher_token();
    std::printf("publisher token (give it to the publisher; shown once): %s\n", token.c_str());
    std::printf("for publisher_token_hashes in the tlog config:          %s\n",
                tlog::publisher_token_hash(token).c_str());
    return 0;
  }
  ServiceRun run;
  run.name = "tlog";
  run.config_path = opts.config;
  return run_service(run, tlog::load_service_config, [](const tlog::ServiceConfig& config) {
    auto service = tlog::Service::start(config);
    if (!service) return service;
    auto head = (*service)->log().checkpoint();
    spdlog::info("tlog: serving {} on {} with database {}; {} entries", config.origin, (*service)->url(),
                 config.database.starts_with("sqlite:") ? config.database : std::string("postgresql"),
                 head ? head->checkpoint.size : 0);
    spdlog::info("tlog: verifier key {} (also in {})", (*service)->verifier_key(),
                 tlog::verifier_key_path(config.log_key).string());
    if (config.publisher_token_hashes.empty()) {
      spdlog::warn("tlog: no publisher tokens configured: appends are refused");
    }
    return service;
  });
}

}  // namespace

void add_tlog_command(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<TlogOptions>();
  auto* cmd = app.add_subcommand(
      "tlog",
      "Run the transparency log: an append-only Merkle log (RFC 9162) of signed statements whose heads are published "
      "as signed checkpoints (C2SP tlog-checkpoint), with inclusion and consistency proofs over HTTP");
  cmd->add_option("--config", opts->config, "Configuration file (JSON; keys below)");
  cmd->add_flag("--print-example-config", opts->print_example, "Print an annotated example configuration and exit");
  cmd->add_flag("--new-publisher-token", opts->new_token,
                "Make a publisher token; print it and the SHA-256 that goes into publisher_token_hashes");
  cmd->footer(tlog::service_config_help());
  add_tlog_publish_subcommand(*cmd, exit_code);
  // `openpcc tlog publish …` runs the publisher, not the service.
  cmd->callback([opts, cmd, &exit_code] {
    if (cmd->got_subcommand("publish")) return;
    exit_code = run_tlog(*opts);
  });
}

}  // namespace openpcc::cli

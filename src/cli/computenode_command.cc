// `openpcc computenode --config FILE`: runs a compute node (services/computenode/computenode_service.h) until SIGINT
// or SIGTERM. `openpcc computenode image-manifest --config FILE` prints the image manifest of such a node without
// touching a TPM, so that a publisher can log it before the node starts. `--print-example-config` prints an annotated
// configuration.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <memory>
#include <string>

#include "attest/image_manifest.h"
#include "cli/commands.h"
#include "cli/run_service.h"
#include "common/bytes.h"
#include "services/computenode/computenode_service.h"
#include "services/computenode/node_boot.h"

namespace openpcc::cli {
namespace {

struct ComputeNodeOptions {
  std::string config;
  bool print_example = false;
  std::string manifest_config;
};

int fail(const std::string& message) { return service_error("computenode", message); }

int run_image_manifest(const std::string& path) {
  auto config = computenode::load_service_config(path);
  if (!config) return fail(config.error().to_string());
  auto manifest = computenode::node_image_manifest(*config);
  if (!manifest) return fail(manifest.error().to_string());
  std::printf("%s\n", attest::to_json(*manifest).c_str());
  return 0;
}

int run_computenode(const ComputeNodeOptions& opts) {
  if (opts.print_example) {
    std::fputs(computenode::example_service_config().c_str(), stdout);
    return 0;
  }
  ServiceRun run;
  run.name = "computenode";
  run.config_path = opts.config;
  run.stopping = "deregistering and shutting down";
  return run_service(run, computenode::load_service_config, [](const computenode::ServiceConfig& config) {
    auto service = computenode::Service::start(config);
    if (service) {
      spdlog::info("computenode: node {} serving {} model(s) on {} (registered as {}; REK {})", (*service)->node_id(),
                   config.models.size(), (*service)->url(), (*service)->public_url(),
                   to_hex((*service)->node().rek_public_key()));
    }
    return service;
  });
}

}  // namespace

void add_computenode_command(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<ComputeNodeOptions>();
  auto* cmd = app.add_subcommand(
      "computenode",
      "Run a compute node: boot it on a TPM (measured boot, PCR-bound request key, SIMULATED TEE report), register "
      "with the router, decrypt requests inside the TPM, run them on an inference engine and stream encrypted answers");
  cmd->add_option("--config", opts->config, "Configuration file (JSON; keys below)");
  cmd->add_flag("--print-example-config", opts->print_example, "Print an annotated example configuration and exit");
  cmd->footer(computenode::service_config_help());

  auto* manifest = cmd->add_subcommand(
      "image-manifest",
      "Print the image manifest (JSON) of nodes run with this configuration: the PCR values their quotes show. "
      "Needs no TPM; publish it with `openpcc tlog publish --image-manifest`.");
  manifest->add_option("--config", opts->manifest_config, "The node's configuration file")->required();
  manifest->callback([opts, &exit_code] { exit_code = run_image_manifest(opts->manifest_config); });

  cmd->callback([opts, cmd, &exit_code] {
    if (cmd->got_subcommand("image-manifest")) return;
    exit_code = run_computenode(*opts);
  });
}

}  // namespace openpcc::cli

#include "cli/commands.h"

namespace openpcc::cli {

void register_commands(CLI::App& app, int& exit_code) {
  add_conformance_command(app, exit_code);
  add_keygen_command(app, exit_code);
  add_authbank_command(app, exit_code);
  add_blindbank_command(app, exit_code);
  add_tlog_command(app, exit_code);
  add_compute_boot_command(app, exit_code);
  add_verify_command(app, exit_code);
  add_gateway_command(app, exit_code);
  add_relay_command(app, exit_code);
  add_engine_command(app, exit_code);
  add_router_command(app, exit_code);
  add_computenode_command(app, exit_code);
  add_dev_command(app, exit_code);
  add_chat_commands(app, exit_code);
  add_proxy_command(app, exit_code);
}

}  // namespace openpcc::cli

// Subcommand registry of the `openpcc` binary. Each command lives in its own file with a registration function that
// adds it to the app; the command writes its exit status into the `int` that main owns.
#pragma once

#include <CLI/CLI.hpp>

namespace openpcc::cli {

// Adds every subcommand to `app`. `exit_code` must outlive app.parse().
void register_commands(CLI::App& app, int& exit_code);

// Per-command registration hooks.
void add_conformance_command(CLI::App& app, int& exit_code);
void add_keygen_command(CLI::App& app, int& exit_code);
void add_authbank_command(CLI::App& app, int& exit_code);
void add_blindbank_command(CLI::App& app, int& exit_code);
void add_tlog_command(CLI::App& app, int& exit_code);
void add_compute_boot_command(CLI::App& app, int& exit_code);
void add_verify_command(CLI::App& app, int& exit_code);
void add_gateway_command(CLI::App& app, int& exit_code);
void add_relay_command(CLI::App& app, int& exit_code);
void add_engine_command(CLI::App& app, int& exit_code);
void add_router_command(CLI::App& app, int& exit_code);
void add_computenode_command(CLI::App& app, int& exit_code);
void add_dev_command(CLI::App& app, int& exit_code);
void add_chat_commands(CLI::App& app, int& exit_code);  // `openpcc chat`, `openpcc complete`
void add_proxy_command(CLI::App& app, int& exit_code);
// `openpcc tlog publish`, under the tlog command.
void add_tlog_publish_subcommand(CLI::App& tlog, int& exit_code);

}  // namespace openpcc::cli

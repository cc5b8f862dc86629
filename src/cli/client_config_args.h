// The client config of the commands that run the client SDK (`openpcc chat`, `complete`, `proxy`): which file, and
// loading it with the messages those commands print.
//
//   add_client_config_option(*cmd, opts->config);
//   auto config = load_cli_client_config(opts->config);       // --config, else $OPENPCC_CLIENT_CONFIG, else default
//   if (!config) return usage_error(config.error().message);  // "<path>: <why>[ (start a local stack …)]"
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "client/client_config.h"
#include "common/error.h"

namespace openpcc::cli {

// Where `openpcc dev up` writes the client config, relative to the working directory.
inline constexpr char kDefaultClientConfigPath[] = "openpcc-dev/client.json";
inline constexpr char kClientConfigEnv[] = "OPENPCC_CLIENT_CONFIG";

// Adds --config FILE (bound to `value`) with its help text.
CLI::Option* add_client_config_option(CLI::App& command, std::string& value);

// `flag` when given, else $OPENPCC_CLIENT_CONFIG when set and not empty, else kDefaultClientConfigPath.
std::string client_config_path(const std::string& flag);

// Loads the config at client_config_path(flag). On failure the message is "<path>: <reason>", plus a hint to start a
// local stack when --config was not given and the file does not exist; the code is the loader's.
Result<client::ClientConfig> load_cli_client_config(const std::string& flag);

}  // namespace openpcc::cli

#include "cli/client_config_args.h"

#include <cstdlib>
#include <filesystem>

namespace openpcc::cli {

CLI::Option* add_client_config_option(CLI::App& command, std::string& value) {
  return command.add_option("--config", value,
                            "Client config file (default: $OPENPCC_CLIENT_CONFIG, else ./openpcc-dev/client.json)");
}

std::string client_config_path(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv(kClientConfigEnv); env && *env) return env;
  return kDefaultClientConfigPath;
}

Result<client::ClientConfig> load_cli_client_config(const std::string& flag) {
  const std::string path = client_config_path(flag);
  auto config = client::load_client_config(path);
  if (config) return config;
  std::string hint;
  // Not for --config: a missing file named on the command line is a typo, not a missing stack.
  if (flag.empty() && !std::filesystem::exists(path)) {
    hint = " (start a local stack with `openpcc dev up`, or pass --config FILE)";
  }
  return make_error(config.error().code, path + ": " + config.error().message + hint);
}

}  // namespace openpcc::cli

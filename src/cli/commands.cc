#include "cli/commands.h"

namespace openpcc::cli {

void register_commands(CLI::App& app, int& exit_code) {
  (void)app; (void)exit_code;  // commands are added as their concepts land
}

}  // namespace openpcc::cli

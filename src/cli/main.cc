// The `openpcc` binary: one subcommand per tool or service.
#include <CLI/CLI.hpp>

#include <string>

#include "cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"openpcc: private AI inference (OpenPCC) — services, tools and the conformance harness"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(OPENPCC_VERSION_STRING));
  int exit_code = 0;
  openpcc::cli::register_commands(app, exit_code);
  CLI11_PARSE(app, argc, argv);
  return exit_code;
}

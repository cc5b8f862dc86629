// The `openpcc` binary: one subcommand per tool or service.
#include <CLI/CLI.hpp>

#include <cstdlib>
#include <string>

#include "cli/commands.h"

int main(int argc, char** argv) {
  // tpm2-tss logs every TPM error and every malformed structure to stderr on its own, including expected ones
  // (TPM_RC_INITIALIZE at startup, evicting an empty slot, untrusted evidence that does not parse). Our errors carry
  // the decoded TPM response code, so keep its logger quiet unless the user asks for it (TSS2_LOG=all+debug).
  setenv("TSS2_LOG", "all+none", /*overwrite=*/0);
  CLI::App app{"openpcc: private AI inference (OpenPCC) — services, tools and the conformance harness"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(OPENPCC_VERSION_STRING));
  int exit_code = 0;
  openpcc::cli::register_commands(app, exit_code);
  CLI11_PARSE(app, argc, argv);
  return exit_code;
}

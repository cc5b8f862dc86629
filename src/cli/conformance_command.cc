// `openpcc conformance`: the JSON Lines conformance harness on stdin/stdout (docs/CONFORMANCE.md).
#include <iostream>

#include "cli/commands.h"
#include "conformance/harness.h"

namespace openpcc::cli {

void add_conformance_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand(
      "conformance",
      "Read JSON Lines operations (hpke.*, bhttp.*, ohttp.*, rsa_blind.*, rsa.*, currency.*, merkle.*, sevsnp.*) on "
      "stdin and write one JSON result line per input line to stdout, in order. Bytes are lowercase hex; a bad line answers {\"error\": ...} and the run goes on. "
      "See docs/CONFORMANCE.md.");
  cmd->callback([&exit_code] {
    std::ios::sync_with_stdio(false);
    auto harness = conformance::Harness::with_all_operations();
    harness.run(std::cin, std::cout);
    exit_code = 0;
  });
}

}  // namespace openpcc::cli

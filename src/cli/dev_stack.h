// The local stack behind `openpcc dev up` / `openpcc dev down` / `openpcc dev status`: every service of the system
// as its own process on loopback, with keys, databases, configs and logs in one data directory.
//
//   data_dir/
//     stack.json                 what runs: name, pid, URL and log of every process (written by up, read by down)
//     client.json                the client configuration `openpcc chat` uses (API key file, trust policy, wallet)
//     trust-policy.json          simulated TEE root + transparency log key + publisher key + image manifest bundle
//     keys/                      currency key (+ JWK + bundle), badge key, publisher key and token, API key,
//                                simulated hardware root
//     <service>/<service>.json   one config per service (tlog, blindbank, router, gateway, relay, authbank, engine,
//                                node-N); money/money.db is the money database the banks and the router share
//     logs/<service>.log         each process's stdout and stderr
//
// Keys are generated on the first `up` and kept; later `up`s reuse them (and the dev account and its API key).
// Publishing: the currency key, the gateway's OHTTP keys (with rotation periods) and the nodes' image manifest are
// signed with the publisher key and appended to the stack's transparency log; clients trust only what verifies
// there.
#pragma once

#include <filesystem>
#include <string>

#include "common/error.h"

namespace openpcc::cli::dev {

struct DevUpOptions {
  std::filesystem::path data_dir = "openpcc-dev";
  int nodes = 1;
  // An inference engine URL for the nodes (openai+http://…, ollama+http://…); empty = the built-in test engine.
  std::string engine;
  // The models the nodes serve (and the dev account's badge allows). Empty = the test engine's model.
  std::string model;
  int token_delay_ms = 20;  // built-in test engine: delay between streamed tokens
  int currency_key_bits = 2048;
  bool quiet = false;
};

// Starts the stack; returns once every node is registered and routable. On failure, whatever was started is
// stopped again and the error names the step and shows the failing service's log tail.
Status dev_up(const DevUpOptions& options);

// Stops every process recorded in data_dir/stack.json (nodes first), then removes stack.json. Data stays.
Status dev_down(const std::filesystem::path& data_dir);

// Prints each recorded process with its state (running / stopped) and URL. kNotFound if no stack was started.
Status dev_status(const std::filesystem::path& data_dir);

}  // namespace openpcc::cli::dev

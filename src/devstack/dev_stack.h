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

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"

namespace openpcc::devstack {

struct DevUpOptions {
  std::filesystem::path data_dir = "openpcc-dev";
  int nodes = 1;
  // An inference engine URL for the nodes (openai+http://…, ollama+http://…); empty = the built-in test engine.
  std::string engine;
  // The model the nodes serve (and the dev account's badge allows). Empty = the test engine's model.
  std::string model;
  int token_delay_ms = 20;  // built-in test engine: delay between streamed tokens
  int currency_key_bits = 2048;
  bool quiet = false;
  // The `openpcc` binary to run the services with. Empty = this process's own executable.
  std::string binary;
  // The AuthBank serves HTTPS with a self-signed certificate (the client trusts it through client.json's ca_file).
  // Tests that record the AuthBank's traffic turn it off.
  bool authbank_tls = true;
  // Called once per service, before anything starts, with the URL the service will listen on; returns the URL the
  // other parties use to reach it. Tests put a recording proxy there (the privacy proofs). Default: the URL itself.
  // Services: "tlog", "engine", "blindbank", "router", "gateway", "relay", "authbank", "node-N".
  std::function<std::string(const std::string& service, const std::string& url)> expose;
};

struct StackProcess {
  std::string name;
  pid_t pid = -1;
  std::string url;  // where it listens
  std::filesystem::path log;
  std::string expect;  // what its command line contains (guards against recycled pids)
  std::vector<std::string> argv;
};

// A running stack. Destroying it stops every process unless detach() was called (`openpcc dev up` detaches, so the
// stack outlives the command; `openpcc dev down` stops it later from stack.json).
class DevStack {
 public:
  // Starts the stack; returns once every node is registered and routable. On failure, whatever was started is
  // stopped again and the error names the step and shows the failing service's log tail.
  static Result<std::unique_ptr<DevStack>> up(DevUpOptions options);

  ~DevStack();
  DevStack(const DevStack&) = delete;
  DevStack& operator=(const DevStack&) = delete;

  const std::filesystem::path& data_dir() const;
  // data_dir/client.json: what `openpcc chat --config` and client::load_client_config read.
  std::filesystem::path client_config() const;
  const std::vector<StackProcess>& processes() const;
  // The URL a service listens on (not the exposed one). Empty if there is no such service.
  std::string url(const std::string& service) const;

  // Fault injection for tests: SIGKILL a service now, or restart it (SIGTERM, then the same command line, waiting
  // for its "listening on" line). Restarting a node restarts its swtpm too (a new power cycle: a fresh boot).
  Status kill(const std::string& service);
  Status restart(const std::string& service);
  // Waits until the router routes to `nodes` nodes (its /metrics), up to `timeout`.
  Status wait_until_routable(int nodes, std::chrono::milliseconds timeout);
  // An abrupt OHTTP key rotation: the gateway's keys are replaced by one new key (the next key id, a new seed,
  // active from a minute ago), the gateway is restarted with only that key (requests under the old one get a key
  // error), and the new key statement is published to the log, into the bundle the AuthBank serves (it re-reads the
  // file per request, so it needs no restart). Returns the new key id. Clients that still hold the old key recover
  // by fetching the AuthBank's config again (client/ohttp_transport.h).
  Result<int> rotate_gateway_key();

  // Leaves the processes running when this object is destroyed.
  void detach();
  // Stops every process (nodes first) and removes stack.json.
  void down();

  struct State;
 private:
  explicit DevStack(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// Stops every process recorded in data_dir/stack.json (nodes first), then removes stack.json. Data stays.
Status dev_down(const std::filesystem::path& data_dir);

// Prints each recorded process with its state (running / stopped) and URL. kNotFound if no stack was started.
Status dev_status(const std::filesystem::path& data_dir);

}  // namespace openpcc::devstack

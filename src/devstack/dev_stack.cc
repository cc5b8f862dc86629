#include "devstack/dev_stack.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>
#include <vector>

#include "common/loopback_port.h"
#include "devstack/processes.h"
#include "net/client.h"
#include "services/authbank/authbank_service.h"
#include "common/random.h"
#include "common/secure.h"
#include "services/common/key_files.h"
#include "services/tlog/publisher_token.h"
#include "transparency/predicates.h"

namespace openpcc::devstack {

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr char kTestEngineModel[] = "openpcc-test-engine";
constexpr char kStackFile[] = "stack.json";

Status write_text(const fs::path& path, const std::string& text) {
  return services::write_public_file_atomically(path, as_bytes(text));
}

Status write_json(const fs::path& path, const json& value) { return write_text(path, value.dump(2) + "\n"); }

Result<std::string> read_text(const fs::path& path) {
  auto bytes = services::read_public_file(path);
  if (!bytes) return std::unexpected(bytes.error());
  return std::string(bytes->begin(), bytes->end());
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

std::unexpected<Error> step_error(std::string_view step, const Error& e) {
  return std::unexpected(Error{e.code, std::string(step) + ": " + e.message});
}

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<std::vector<StackProcess>> read_stack(const fs::path& dir) {
  auto text = read_text(dir / kStackFile);
  if (!text) return std::unexpected(text.error());
  auto parsed = json::parse(*text, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object() || !parsed.contains("processes") ||
      !parsed["processes"].is_array()) {
    return make_error(ErrorCode::kDecode, (dir / kStackFile).string() + " is not a stack file");
  }
  std::vector<StackProcess> out;
  for (const auto& p : parsed["processes"]) {
    if (!p.is_object() || !p.contains("pid") || !p["pid"].is_number_integer()) continue;
    StackProcess sp;
    sp.name = p.value("name", "");
    sp.pid = p["pid"].get<pid_t>();
    sp.url = p.value("url", "");
    sp.log = p.value("log", "");
    sp.expect = p.value("expect", "openpcc");
    out.push_back(std::move(sp));
  }
  return out;
}

// The router's /metrics reports routable nodes as openpcc_router_nodes{grade="ok"} N.
Result<int> routable_nodes(const std::string& router_url) {
  net::ClientOptions options;
  options.connect_timeout = 2s;
  options.read_timeout = 2s;
  auto got = net::fetch_blocking(net::ClientRequest("GET", router_url + "/metrics"), options);
  if (!got) return std::unexpected(got.error());
  if (got->status != 200) {
    return make_error(ErrorCode::kUnavailable, "router /metrics answered " + std::to_string(got->status));
  }
  std::istringstream lines(std::string(got->body.begin(), got->body.end()));
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("openpcc_router_nodes{grade=\"ok\"} ")) {
      return std::atoi(line.substr(line.find(' ') + 1).c_str());
    }
  }
  return 0;
}

}  // namespace

struct DevStack::State {
  DevUpOptions opts;
  std::string bin;
  fs::path dir;
  std::vector<StackProcess> processes;
  bool detached = false;

  std::string model;
  std::string money_db;
  std::map<std::string, int> ports;            // service → listen port
  std::map<std::string, std::string> exposed;  // service → the URL others use
  std::map<std::string, int> swtpm_ports;      // node → swtpm server port
  // Held from the choice of the ports until the stack object goes (swtpm's until it starts: it binds without
  // SO_REUSEADDR), so that another stack starting meanwhile cannot choose them too.
  std::vector<LoopbackPortReservation> port_reservations;
  std::map<std::string, LoopbackPortReservation> swtpm_reservations;

  void say(const std::string& line) const {
    if (!opts.quiet) std::fprintf(stderr, "%s\n", line.c_str());
  }
  fs::path log_of(const std::string& name) const { return dir / "logs" / (name + ".log"); }
  std::string listen_url(const std::string& service) const {
    const bool tls = service == "authbank" && opts.authbank_tls;
    return std::string(tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(ports.at(service));
  }
  std::string listen_address(const std::string& service) const {
    return "127.0.0.1:" + std::to_string(ports.at(service));
  }

  Result<std::string> run(const std::vector<std::string>& args, const std::string& log_name) {
    std::vector<std::string> argv{bin};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_to_completion(argv, log_of(log_name));
  }

  StackProcess* find(const std::string& name) {
    for (auto& p : processes) {
      if (p.name == name) return &p;
    }
    return nullptr;
  }

  // Starts a process and, for services, waits for its "listening on URL" line.
  Status launch(const std::string& name, std::vector<std::string> argv, const std::string& expect,
                bool wait_listening) {
    const fs::path log = log_of(name);
    const uint64_t offset = file_size_or_zero(log);
    auto pid = spawn_detached(argv, log);
    if (!pid) return std::unexpected(pid.error());
    StackProcess record{name, *pid, ports.contains(name) ? listen_url(name) : "", log, expect, argv};
    if (auto* existing = find(name)) {
      *existing = record;
    } else {
      processes.push_back(record);
    }
    if (wait_listening) {
      auto url = wait_for_listening(*pid, log, offset, 120s);
      if (!url) return std::unexpected(Error{url.error().code, name + " " + url.error().message});
    }
    return {};
  }

  Status start_service(const std::string& name, const std::vector<std::string>& args) {
    std::vector<std::string> argv{bin};
    argv.insert(argv.end(), args.begin(), args.end());
    if (auto s = launch(name, std::move(argv), "openpcc", true); !s) return step_error(name, s.error());
    say("  " + name + std::string(name.size() < 18 ? 18 - name.size() : 1, ' ') + listen_url(name));
    return {};
  }

  Status start_swtpm(const std::string& node) {
    const fs::path tpm = dir / node / "tpm";
    std::error_code ec;
    fs::remove_all(tpm, ec);  // a fresh TPM: a node is measured once per power cycle
    fs::create_directories(tpm, ec);
    if (ec) return make_error(ErrorCode::kIo, "cannot create " + tpm.string());
    const int port = swtpm_ports.at(node);
    std::vector<std::string> argv = {"swtpm",
                                     "socket",
                                     "--tpm2",
                                     "--tpmstate",
                                     "dir=" + tpm.string(),
                                     "--server",
                                     "type=tcp,port=" + std::to_string(port) + ",bindaddr=127.0.0.1",
                                     "--ctrl",
                                     "type=tcp,port=" + std::to_string(port + 1) + ",bindaddr=127.0.0.1",
                                     "--flags",
                                     "not-need-init,startup-clear"};
    for (const char* candidate : {"/usr/bin/swtpm", "/usr/local/bin/swtpm"}) {
      if (access(candidate, X_OK) == 0) argv[0] = candidate;
    }
    if (argv[0] == "swtpm") {
      return make_error(ErrorCode::kNotFound, "swtpm is not installed (scripts/setup.sh installs it: apt-get install swtpm)");
    }
    if (auto held = swtpm_reservations.find(node); held != swtpm_reservations.end()) held->second.release();
    if (auto s = launch(node + "-swtpm", std::move(argv), "swtpm", false); !s) return s;
    // Wait until it accepts connections (a bare TCP connect: swtpm would read anything sent as a TPM command).
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (tcp_port_open(port)) return {};
      std::this_thread::sleep_for(50ms);
    }
    return make_error(ErrorCode::kUnavailable, node + " swtpm did not start; see " + log_of(node + "-swtpm").string());
  }

  Status publish(const std::vector<std::string>& what, const fs::path& out, const std::string& label) {
    std::vector<std::string> args{"tlog",      "publish", "--log", listen_url("tlog"), "--token-file",
                                  (dir / "keys" / "publisher.token").string(), "--key",
                                  (dir / "keys" / "publisher.key").string(), "--out", out.string()};
    args.insert(args.end(), what.begin(), what.end());
    auto ran = run(args, "publish");
    if (!ran) return step_error("publishing " + label, ran.error());
    say("  published " + label + " → " + out.lexically_relative(dir).string());
    return {};
  }

  // The gateway's public keys and rotation periods from its config (`openpcc gateway keys`), then signed into the
  // log and the bundle the AuthBank serves.
  Status export_gateway_keys() {
    const fs::path gw = dir / "gateway";
    auto keys = run({"gateway", "keys", "--config", (gw / "gateway.json").string(), "--ohttp-keys",
                     (gw / "ohttp-keys.bin").string(), "--rotation-periods", (gw / "rotation-periods.json").string()},
                    "gateway");
    if (!keys) return step_error("gateway keys", keys.error());
    return {};
  }
  Status publish_gateway_keys() {
    const fs::path gw = dir / "gateway";
    return publish({"--ohttp-keys", (gw / "ohttp-keys.bin").string(), "--rotation-periods",
                    (gw / "rotation-periods.json").string()},
                   gw / "ohttp-keys.bundle.json", "the gateway's OHTTP keys");
  }

  Status prepare();
  Status prepare_keys();
  Status start_tlog();
  Status start_engine();
  Status start_banks_and_router();
  Status start_gateway_and_relay();
  Status start_authbank();
  Status start_nodes();
  Status write_client_files();
  Status write_stack_file() const;
  void stop_all();
};

Status DevStack::State::prepare() {
  for (const char* sub : {"keys", "logs", "tlog", "money", "authbank", "blindbank", "router", "gateway", "relay",
                          "engine"}) {
    std::error_code ec;
    fs::create_directories(dir / sub, ec);
    if (ec) return make_error(ErrorCode::kIo, "cannot create " + (dir / sub).string() + ": " + ec.message());
  }
  ::chmod((dir / "keys").c_str(), 0700);
  money_db = "sqlite:" + (dir / "money" / "money.db").string();
  model = opts.model.empty() ? std::string(kTestEngineModel) : opts.model;

  // Every port is chosen before anything starts, so that each party's config can name the others (through
  // opts.expose, which tests use to put a recording proxy in front of a service).
  std::vector<std::string> services = {"tlog", "blindbank", "router", "gateway", "relay", "authbank"};
  if (opts.engine.empty()) services.push_back("engine");
  for (int i = 1; i <= opts.nodes; ++i) services.push_back("node-" + std::to_string(i));
  // Reserved, not just picked: a port picked and not yet listened on could be picked again, by this loop or by
  // another stack starting at the same time.
  for (const auto& s : services) {
    auto held = reserve_loopback_ports(1);
    if (!held) return std::unexpected(held.error());
    ports[s] = held->port();
    port_reservations.push_back(std::move(*held));
  }
  for (int i = 1; i <= opts.nodes; ++i) {
    auto held = reserve_loopback_ports(2);
    if (!held) return std::unexpected(held.error());
    const std::string node = "node-" + std::to_string(i);
    swtpm_ports[node] = held->port();
    swtpm_reservations[node] = std::move(*held);
  }
  for (const auto& s : services) {
    exposed[s] = opts.expose ? opts.expose(s, listen_url(s)) : listen_url(s);
  }
  if (!opts.engine.empty()) exposed["engine"] = opts.engine;
  return {};
}

Status DevStack::State::prepare_keys() {
  const fs::path keys = dir / "keys";
  if (!fs::exists(keys / "currency.key")) {
    say("  generating the currency key (RSA-" + std::to_string(opts.currency_key_bits) +
        " with safe primes; seconds to a minute)");
    auto ran = run({"keygen", "currency", "--out", (keys / "currency.key").string(), "--bits",
                    std::to_string(opts.currency_key_bits)},
                   "keygen");
    if (!ran) return step_error("currency key", ran.error());
  }
  if (!fs::exists(keys / "currency.jwk")) {
    auto ran = run({"keygen", "jwk", "--public-key", (keys / "currency.key.pub").string(), "--out",
                    (keys / "currency.jwk").string()},
                   "keygen");
    if (!ran) return step_error("currency key JWK", ran.error());
  }
  for (const char* name : {"badge.key", "publisher.key"}) {
    if (fs::exists(keys / name)) continue;
    auto ran = run({"keygen", "badge", "--out", (keys / name).string()}, "keygen");
    if (!ran) return step_error(name, ran.error());
  }
  // The router's node registration token: fresh on every `up` (every service restarts then, so nothing holds the old
  // one), shared by the router (node_token_file) and the nodes (router_token_file).
  // (32 random bytes, hex: the router's minimum, router/node_token.h. This library does not link the router's.)
  SecretBytes token_bytes(32);
  fill_random(token_bytes.mutable_span());
  Bytes token_text = to_bytes(to_hex(token_bytes.span()) + "\n");
  const WipeOnExit wipe_token(token_text);
  if (auto w = services::write_secret_file_atomically(keys / "node.token", token_text,
                                                       services::ExistingFile::kReplace);
      !w) {
    return step_error("node token", w.error());
  }
  if (!fs::exists(keys / "publisher.token")) {
    const std::string token = tlog::generate_publisher_token();
    if (auto w = services::write_secret_file_atomically(keys / "publisher.token", as_bytes(token + "\n"),
                                                         services::ExistingFile::kReplace);
        !w) {
      return step_error("publisher token", w.error());
    }
  }
  return {};
}

Status DevStack::State::start_tlog() {
  auto token = services::read_secret_file(dir / "keys" / "publisher.token");
  if (!token) return step_error("publisher token", token.error());
  const std::string hash = tlog::publisher_token_hash(trim(to_string(token->span())));
  const json config = {{"listen", listen_address("tlog")},
                       {"database", "sqlite:tlog.db"},
                       {"origin", "openpcc-dev.local/log"},
                       {"log_key", "tlog.key"},
                       {"publisher_token_hashes", {hash}},
                       {"publisher_keys", {(dir / "keys" / "publisher.key.pub").string()}}};
  if (auto w = write_json(dir / "tlog" / "tlog.json", config); !w) return w;
  if (auto s = start_service("tlog", {"tlog", "--config", (dir / "tlog" / "tlog.json").string()}); !s) return s;
  return publish({"--currency-jwk", (dir / "keys" / "currency.jwk").string()}, dir / "keys" / "currency.bundle.json",
                 "the currency key");
}

Status DevStack::State::start_engine() {
  if (!opts.engine.empty()) {
    say("  engine            " + opts.engine + " (external)");
    return {};
  }
  if (auto s = start_service("engine", {"engine", "--listen", listen_address("engine"), "--model-dir",
                                        (dir / "engine" / "model").string(), "--init-model", "--token-delay-ms",
                                        std::to_string(opts.token_delay_ms)});
      !s) {
    return s;
  }
  say("                    (the built-in TEST engine: it echoes; it is not a language model)");
  return {};
}

Status DevStack::State::start_banks_and_router() {
  const std::string currency_key = (dir / "keys" / "currency.key").string();
  const json blindbank = {
      {"listen", listen_address("blindbank")}, {"database", money_db}, {"currency_key", currency_key}};
  if (auto w = write_json(dir / "blindbank" / "blindbank.json", blindbank); !w) return w;
  if (auto s = start_service("blindbank", {"blindbank", "--config", (dir / "blindbank" / "blindbank.json").string()});
      !s) {
    return s;
  }
  const json router = {{"listen", listen_address("router")},
                       {"database", money_db},
                       {"currency_key", currency_key},
                       {"node_token_file", (dir / "keys" / "node.token").string()},
                       {"health", {{"interval_ms", 2000}, {"min_checks", 1}}}};
  if (auto w = write_json(dir / "router" / "router.json", router); !w) return w;
  return start_service("router", {"router", "--config", (dir / "router" / "router.json").string()});
}

Status DevStack::State::start_gateway_and_relay() {
  const auto now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  const json gateway = {
      {"listen", listen_address("gateway")},
      {"keys",
       {{{"key_id", 1},
         {"kem", "x25519-kyber768"},
         {"seed_file", "ohttp-key-1.seed"},
         {"active_from", transparency::format_rfc3339(now - std::chrono::hours(1))},
         {"active_until", transparency::format_rfc3339(now + std::chrono::hours(24 * 90))}}}},
      {"key_statement", "ohttp-keys.bundle.json"},
      {"bank_url", exposed.at("blindbank")},
      {"router_url", exposed.at("router")}};
  const fs::path gw = dir / "gateway";
  if (auto w = write_json(gw / "gateway.json", gateway); !w) return w;
  if (auto k = export_gateway_keys(); !k) return k;
  if (auto p = publish_gateway_keys(); !p) return p;
  if (auto s = start_service("gateway", {"gateway", "--config", (gw / "gateway.json").string()}); !s) return s;

  const json relay = {{"listen", listen_address("relay")}, {"gateway_url", exposed.at("gateway") + "/"}};
  if (auto w = write_json(dir / "relay" / "relay.json", relay); !w) return w;
  return start_service("relay", {"relay", "--config", (dir / "relay" / "relay.json").string()});
}

Status DevStack::State::start_authbank() {
  const fs::path ab = dir / "authbank";
  json config = {{"listen", listen_address("authbank")},
                 {"database", money_db},
                 {"currency_key", (dir / "keys" / "currency.key").string()},
                 {"badge_key", (dir / "keys" / "badge.key").string()},
                 {"relays", {exposed.at("relay")}},
                 {"currency_key_bundle", (dir / "keys" / "currency.bundle.json").string()},
                 {"ohttp_keys_bundle", (dir / "gateway" / "ohttp-keys.bundle.json").string()}};
  if (opts.authbank_tls) config["tls"] = {{"self_signed", true}, {"hosts", {"localhost", "127.0.0.1"}}};
  if (auto w = write_json(ab / "authbank.json", config); !w) return w;

  // The dev account: created once, with an API key kept in keys/api.key and funds for many requests.
  const fs::path api_key_file = dir / "keys" / "api.key";
  if (!fs::exists(api_key_file)) {
    auto cfg = authbank::load_service_config(ab / "authbank.json");
    if (!cfg) return step_error("authbank config", cfg.error());
    auto ledger = authbank::open_ledger(*cfg);
    if (!ledger) return step_error("authbank database", ledger.error());
    const int64_t now = unix_now();
    auto account = (*ledger)->create_account("dev", "developer", std::vector<std::string>{model}, now);
    if (!account) return step_error("dev account", account.error());
    if (auto f = (*ledger)->add_funds(account->id, 1'000'000'000'000, now); !f) return step_error("funds", f.error());
    auto key = (*ledger)->issue_key(account->id, std::nullopt, now);
    if (!key) return step_error("API key", key.error());
    if (auto w = services::write_secret_file_atomically(api_key_file, as_bytes(key->key.text() + "\n"),
                                                         services::ExistingFile::kReplace);
        !w) {
      return step_error("API key file", w.error());
    }
    say("  dev account " + std::to_string(account->id) + " created; its API key is in keys/api.key");
  }
  return start_service("authbank", {"authbank", "--config", (ab / "authbank.json").string()});
}

Status DevStack::State::start_nodes() {
  // One image for all nodes: the same simulated firmware and model, hence one manifest and one bundle.
  for (int i = 1; i <= opts.nodes; ++i) {
    const std::string name = "node-" + std::to_string(i);
    const fs::path nd = dir / name;
    if (auto s = start_swtpm(name); !s) return s;
    const json node = {{"listen", listen_address(name)},
                       {"public_url", exposed.at(name) + "/"},
                       {"tpm", "swtpm:host=127.0.0.1,port=" + std::to_string(swtpm_ports.at(name))},
                       {"router_url", exposed.at("router")},
                       {"router_token_file", (dir / "keys" / "node.token").string()},
                       {"models", {model}},
                       // The built-in test engine speaks both APIs; the Ollama adapter serves both (/api/* and /v1/*).
                       {"engine", opts.engine.empty() ? "ollama+" + exposed.at("engine") : opts.engine},
                       {"model_path", (dir / "engine" / "model").string()},
                       {"badge_public_key", (dir / "keys" / "badge.key.pub").string()},
                       {"simulated_root", (dir / "keys" / "simulated-root.pem").string()},
                       {"image_manifest_bundle", (dir / "keys" / "image.bundle.json").string()},
                       {"heartbeat_interval_ms", 2000}};
    if (auto w = write_json(nd / "node.json", node); !w) return w;
    if (i == 1) {
      auto manifest = run({"computenode", "image-manifest", "--config", (nd / "node.json").string()}, name);
      if (!manifest) return step_error("image manifest", manifest.error());
      if (auto w = write_text(dir / "keys" / "image-manifest.json", *manifest); !w) return w;
      if (auto p = publish({"--image-manifest", (dir / "keys" / "image-manifest.json").string()},
                           dir / "keys" / "image.bundle.json", "the nodes' image manifest");
          !p) {
        return p;
      }
    }
    if (auto s = start_service(name, {"computenode", "--config", (nd / "node.json").string()}); !s) return s;
  }
  return {};
}

Status DevStack::State::write_client_files() {
  auto vkey = read_text(dir / "tlog" / "tlog.key.vkey");
  if (!vkey) return step_error("log verifier key", vkey.error());
  const json policy = {{"accept_simulated_tee", true},
                       {"simulated_roots", {(dir / "keys" / "simulated-root.pem.pub").string()}},
                       {"transparency",
                        {{"log_key", trim(*vkey)},
                         {"publisher_keys", {(dir / "keys" / "publisher.key.pub").string()}},
                         {"image_manifest_bundles", {(dir / "keys" / "image.bundle.json").string()}}}}};
  if (auto w = write_json(dir / "trust-policy.json", policy); !w) return w;
  json client = {{"authbank_url", exposed.at("authbank")},
                 {"api_key_file", (dir / "keys" / "api.key").string()},
                 {"trust_policy", (dir / "trust-policy.json").string()},
                 {"wallet", {{"state_file", (dir / "wallet.state").string()}, {"max_delay_ms", 100}}}};
  if (opts.authbank_tls) client["ca_file"] = (dir / "authbank" / "authbank-tls-cert.pem").string();
  return write_json(dir / "client.json", client);
}

Status DevStack::State::write_stack_file() const {
  json list = json::array();
  for (const auto& p : processes) {
    list.push_back({{"name", p.name}, {"pid", p.pid}, {"url", p.url}, {"log", p.log.string()}, {"expect", p.expect}});
  }
  return write_json(dir / kStackFile, json{{"processes", list}});
}

void DevStack::State::stop_all() {
  // Reverse start order: nodes (which deregister) before the router, each swtpm after its node.
  for (auto it = processes.rbegin(); it != processes.rend(); ++it) stop_process(it->pid, 10s);
  processes.clear();
  std::error_code ec;
  fs::remove(dir / kStackFile, ec);
}

Result<std::unique_ptr<DevStack>> DevStack::up(DevUpOptions options) {
  auto state = std::make_unique<State>();
  state->opts = std::move(options);
  state->bin = state->opts.binary.empty() ? self_binary() : state->opts.binary;
  state->dir = fs::absolute(state->opts.data_dir);
  if (state->opts.nodes < 1 || state->opts.nodes > 16) {
    return make_error(ErrorCode::kInvalidArgument, "nodes must be 1..16");
  }
  if (auto running = read_stack(state->dir); running) {
    for (const auto& p : *running) {
      if (process_running(p.pid, p.expect)) {
        return make_error(ErrorCode::kConflict, "a stack is already running in " + state->dir.string() + " (" +
                                                    p.name + ", pid " + std::to_string(p.pid) +
                                                    "): run `openpcc dev down --data-dir " + state->dir.string() +
                                                    "` first");
      }
    }
  }
  std::unique_ptr<DevStack> stack(new DevStack(std::move(state)));
  State& s = *stack->state_;
  s.say("starting the local OpenPCC stack in " + s.dir.string());
  for (auto step : {&State::prepare, &State::prepare_keys, &State::start_tlog, &State::start_engine,
                    &State::start_banks_and_router, &State::start_gateway_and_relay, &State::start_authbank,
                    &State::start_nodes}) {
    if (auto r = (s.*step)(); !r) return std::unexpected(r.error());  // ~DevStack stops what runs
    // Record progress as we go, so that `dev down` can clean up after an interrupted `up`.
    if (auto w = s.write_stack_file(); !w) return std::unexpected(w.error());
  }
  s.say("  waiting until the router routes to " + std::to_string(s.opts.nodes) + " node(s)…");
  if (auto r = stack->wait_until_routable(s.opts.nodes, 60s); !r) return std::unexpected(r.error());
  if (auto r = s.write_client_files(); !r) return std::unexpected(r.error());
  if (auto r = s.write_stack_file(); !r) return std::unexpected(r.error());
  s.say("ready. Send a private request:\n  openpcc chat --config " + (s.dir / "client.json").string() +
        " \"Hello there\"\nstop it with: openpcc dev down --data-dir " + s.dir.string());
  return stack;
}

DevStack::DevStack(std::unique_ptr<State> state) : state_(std::move(state)) {}

DevStack::~DevStack() {
  if (!state_->detached) state_->stop_all();
}

const fs::path& DevStack::data_dir() const { return state_->dir; }
fs::path DevStack::client_config() const { return state_->dir / "client.json"; }
const std::vector<StackProcess>& DevStack::processes() const { return state_->processes; }

std::string DevStack::url(const std::string& service) const {
  return state_->ports.contains(service) ? state_->listen_url(service) : std::string();
}

Status DevStack::kill(const std::string& service) {
  auto* p = state_->find(service);
  if (!p) return make_error(ErrorCode::kNotFound, "no service " + service);
  ::kill(p->pid, SIGKILL);
  stop_process(p->pid, 0ms);  // reaps it
  return {};
}

Status DevStack::restart(const std::string& service) {
  auto* p = state_->find(service);
  if (!p) return make_error(ErrorCode::kNotFound, "no service " + service);
  stop_process(p->pid, 10s);
  if (service.starts_with("node-")) {
    if (auto* tpm = state_->find(service + "-swtpm")) stop_process(tpm->pid, 5s);
    if (auto s = state_->start_swtpm(service); !s) return s;
    p = state_->find(service);
  }
  const auto argv = p->argv;
  if (auto s = state_->launch(service, argv, p->expect, true); !s) return s;
  return state_->write_stack_file();
}

Status DevStack::wait_until_routable(int nodes, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int seen = 0;
  std::string last_error;
  while (std::chrono::steady_clock::now() < deadline) {
    auto n = routable_nodes(state_->listen_url("router"));
    if (n && *n >= nodes) return {};
    if (n) seen = *n;
    if (!n) last_error = n.error().message;
    std::this_thread::sleep_for(250ms);
  }
  return make_error(ErrorCode::kTimeout,
                    "the router routes to " + std::to_string(seen) + " of " + std::to_string(nodes) + " nodes after " +
                        std::to_string(timeout.count() / 1000) + " s" +
                        (last_error.empty() ? "" : " (" + last_error + ")") +
                        "; see logs/router.log and logs/node-*.log in " + state_->dir.string());
}

Result<int> DevStack::rotate_gateway_key() {
  State& s = *state_;
  if (!s.find("gateway")) return make_error(ErrorCode::kNotFound, "no service gateway");
  const fs::path config_path = s.dir / "gateway" / "gateway.json";
  auto text = read_text(config_path);
  if (!text) return step_error("gateway config", text.error());
  json config = json::parse(*text, nullptr, false);
  if (config.is_discarded() || !config.is_object() || !config.contains("keys") || !config["keys"].is_array()) {
    return make_error(ErrorCode::kDecode, config_path.string() + " has no key list");
  }
  int next_id = 0;
  for (const auto& key : config["keys"]) {
    if (key.is_object() && key.contains("key_id") && key["key_id"].is_number_integer()) {
      next_id = std::max(next_id, key["key_id"].get<int>() + 1);
    }
  }
  if (next_id > 255) return make_error(ErrorCode::kLimitExceeded, "gateway key ids are exhausted (0..255)");
  const auto now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  json key = json::object();
  key["key_id"] = next_id;
  key["kem"] = "x25519-kyber768";
  key["seed_file"] = "ohttp-key-" + std::to_string(next_id) + ".seed";
  key["active_from"] = transparency::format_rfc3339(now - std::chrono::minutes(1));
  key["active_until"] = transparency::format_rfc3339(now + std::chrono::hours(24 * 90));
  config["keys"] = json::array();
  config["keys"].push_back(std::move(key));
  if (auto w = write_json(config_path, config); !w) return std::unexpected(w.error());
  if (auto k = s.export_gateway_keys(); !k) return std::unexpected(k.error());  // creates the seed
  // The gateway before the statement: once the statement is out, the key it names is served.
  if (auto r = restart("gateway"); !r) return step_error("restarting the gateway", r.error());
  if (auto p = s.publish_gateway_keys(); !p) return std::unexpected(p.error());
  s.say("  gateway OHTTP key rotated to key id " + std::to_string(next_id));
  return next_id;
}

void DevStack::detach() { state_->detached = true; }
void DevStack::down() { state_->stop_all(); }

Status dev_down(const fs::path& data_dir) {
  const fs::path dir = fs::absolute(data_dir);
  auto processes = read_stack(dir);
  if (!processes) {
    if (processes.error().code == ErrorCode::kNotFound) {
      return make_error(ErrorCode::kNotFound, "no stack runs in " + dir.string() + " (no " + kStackFile + ")");
    }
    return std::unexpected(processes.error());
  }
  size_t stopped = 0;
  for (auto it = processes->rbegin(); it != processes->rend(); ++it) {
    if (!process_running(it->pid, it->expect)) continue;
    stop_process(it->pid, 10s);
    ++stopped;
    std::fprintf(stderr, "stopped %s (pid %d)\n", it->name.c_str(), static_cast<int>(it->pid));
  }
  std::error_code ec;
  fs::remove(dir / kStackFile, ec);
  std::fprintf(stderr, "the stack in %s is stopped (%zu processes); its data is kept\n", dir.c_str(), stopped);
  return {};
}

Status dev_status(const fs::path& data_dir) {
  const fs::path dir = fs::absolute(data_dir);
  auto processes = read_stack(dir);
  if (!processes) {
    if (processes.error().code == ErrorCode::kNotFound) {
      return make_error(ErrorCode::kNotFound, "no stack was started in " + dir.string());
    }
    return std::unexpected(processes.error());
  }
  for (const auto& p : *processes) {
    std::printf("%-14s %-8s pid %-7d %s\n", p.name.c_str(), process_running(p.pid, p.expect) ? "running" : "STOPPED",
                static_cast<int>(p.pid), p.url.c_str());
  }
  return {};
}

}  // namespace openpcc::devstack

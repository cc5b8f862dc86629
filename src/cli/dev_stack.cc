#include "cli/dev_stack.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>
#include <vector>

#include "cli/dev_processes.h"
#include "net/client.h"
#include "services/authbank/authbank_service.h"
#include "services/common/key_files.h"
#include "services/tlog/publisher_token.h"
#include "transparency/predicates.h"

namespace openpcc::cli::dev {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;

constexpr char kTestEngineModel[] = "openpcc-test-engine";
constexpr char kStackFile[] = "stack.json";

struct Process {
  std::string name;
  pid_t pid = -1;
  std::string url;
  fs::path log;
  std::string expect;  // what its command line contains (guards against recycled pids)
};

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

Status step_error(std::string_view step, const Error& e) {
  return make_error(e.code, std::string(step) + ": " + e.message);
}

Result<std::vector<Process>> read_stack(const fs::path& dir);

class Stack {
 public:
  Stack(DevUpOptions options) : opts_(std::move(options)), bin_(self_binary()) {
    dir_ = fs::absolute(opts_.data_dir);
  }
  ~Stack() {
    if (committed_) return;
    stop_all();
    std::error_code ec;
    fs::remove(dir_ / kStackFile, ec);
  }

  Status up();

 private:
  void say(const std::string& line) const {
    if (!opts_.quiet) std::fprintf(stderr, "%s\n", line.c_str());
  }
  fs::path log_of(const std::string& name) const { return dir_ / "logs" / (name + ".log"); }

  // `openpcc args...` to completion, stdout returned.
  Result<std::string> run(const std::vector<std::string>& args, const std::string& log_name) {
    std::vector<std::string> argv{bin_};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_to_completion(argv, log_of(log_name));
  }

  // `openpcc <service> --config FILE`, waiting for its "listening on URL" line.
  Result<std::string> start_service(const std::string& name, const std::vector<std::string>& args) {
    std::vector<std::string> argv{bin_};
    argv.insert(argv.end(), args.begin(), args.end());
    return start_process(name, argv, "openpcc", 90s);
  }

  Result<std::string> start_process(const std::string& name, const std::vector<std::string>& argv,
                                    const std::string& expect, std::chrono::milliseconds timeout) {
    const fs::path log = log_of(name);
    const uint64_t offset = file_size_or_zero(log);
    auto pid = spawn_detached(argv, log);
    if (!pid) return std::unexpected(pid.error());
    processes_.push_back(Process{name, *pid, "", log, expect});
    auto url = wait_for_listening(*pid, log, offset, timeout);
    if (!url) return std::unexpected(Error{url.error().code, name + " " + url.error().message});
    processes_.back().url = *url;
    return url;
  }

  Status publish(const std::vector<std::string>& what, const fs::path& out, const std::string& label) {
    std::vector<std::string> args{"tlog",  "publish", "--log", tlog_url_, "--token-file",
                                  (dir_ / "keys" / "publisher.token").string(), "--key",
                                  (dir_ / "keys" / "publisher.key").string(), "--out", out.string()};
    args.insert(args.end(), what.begin(), what.end());
    auto ran = run(args, "publish");
    if (!ran) return step_error("publishing " + label, ran.error());
    say("  published " + label + " → " + out.lexically_relative(dir_).string());
    return {};
  }

  Status prepare_directories();
  Status prepare_keys();
  Status start_tlog();
  Status start_engine();
  Status start_banks_and_router();
  Status start_gateway_and_relay();
  Status start_authbank();
  Status start_nodes();
  Status wait_until_routable();
  Status write_client_files();
  Status write_stack_file() const;
  void stop_all();

  DevUpOptions opts_;
  std::string bin_;
  fs::path dir_;
  std::vector<Process> processes_;
  bool committed_ = false;

  std::string model_;
  std::string tlog_url_, engine_url_, blindbank_url_, router_url_, gateway_url_, relay_url_, authbank_url_;
  std::string money_db_;
  std::vector<std::string> node_urls_;
};

Status Stack::prepare_directories() {
  for (const char* sub : {"keys", "logs", "tlog", "money", "authbank", "blindbank", "router", "gateway", "relay",
                          "engine"}) {
    std::error_code ec;
    fs::create_directories(dir_ / sub, ec);
    if (ec) return make_error(ErrorCode::kIo, "cannot create " + (dir_ / sub).string() + ": " + ec.message());
  }
  ::chmod((dir_ / "keys").c_str(), 0700);
  money_db_ = "sqlite:" + (dir_ / "money" / "money.db").string();
  model_ = opts_.model.empty() ? std::string(kTestEngineModel) : opts_.model;
  return {};
}

Status Stack::prepare_keys() {
  const fs::path keys = dir_ / "keys";
  if (!fs::exists(keys / "currency.key")) {
    say("  generating the currency key (RSA-" + std::to_string(opts_.currency_key_bits) +
        " with safe primes; seconds to a minute)");
    auto ran = run({"keygen", "currency", "--out", (keys / "currency.key").string(), "--bits",
                    std::to_string(opts_.currency_key_bits)},
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

Status Stack::start_tlog() {
  auto token = services::read_secret_file(dir_ / "keys" / "publisher.token");
  if (!token) return step_error("publisher token", token.error());
  const std::string hash = tlog::publisher_token_hash(trim(to_string(token->span())));
  const json config = {{"listen", "127.0.0.1:0"},
                       {"database", "sqlite:tlog.db"},
                       {"origin", "openpcc-dev.local/log"},
                       {"log_key", "tlog.key"},
                       {"publisher_token_hashes", {hash}},
                       {"publisher_keys", {(dir_ / "keys" / "publisher.key.pub").string()}},
                       {"log_level", "info"}};
  if (auto w = write_json(dir_ / "tlog" / "tlog.json", config); !w) return w;
  auto url = start_service("tlog", {"tlog", "--config", (dir_ / "tlog" / "tlog.json").string()});
  if (!url) return step_error("transparency log", url.error());
  tlog_url_ = *url;
  say("  transparency log   " + tlog_url_);
  return publish({"--currency-jwk", (dir_ / "keys" / "currency.jwk").string()},
                 dir_ / "keys" / "currency.bundle.json", "the currency key");
}

Status Stack::start_engine() {
  if (!opts_.engine.empty()) {
    engine_url_ = opts_.engine;
    say("  inference engine   " + engine_url_ + " (external)");
    return {};
  }
  auto url = start_service("engine", {"engine", "--listen", "127.0.0.1:0", "--model-dir",
                                      (dir_ / "engine" / "model").string(), "--init-model", "--token-delay-ms",
                                      std::to_string(opts_.token_delay_ms)});
  if (!url) return step_error("test engine", url.error());
  engine_url_ = *url;
  say("  inference engine   " + engine_url_ + " (built-in TEST engine: echoes, not a language model)");
  return {};
}

Status Stack::start_banks_and_router() {
  const std::string currency_key = (dir_ / "keys" / "currency.key").string();
  const json blindbank = {{"listen", "127.0.0.1:0"}, {"database", money_db_}, {"currency_key", currency_key}};
  if (auto w = write_json(dir_ / "blindbank" / "blindbank.json", blindbank); !w) return w;
  auto bank = start_service("blindbank", {"blindbank", "--config", (dir_ / "blindbank" / "blindbank.json").string()});
  if (!bank) return step_error("blindbank", bank.error());
  blindbank_url_ = *bank;
  say("  blindbank          " + blindbank_url_);

  const json router = {{"listen", "127.0.0.1:0"},
                       {"database", money_db_},
                       {"currency_key", currency_key},
                       {"health", {{"interval_ms", 2000}, {"min_checks", 1}}}};
  if (auto w = write_json(dir_ / "router" / "router.json", router); !w) return w;
  auto url = start_service("router", {"router", "--config", (dir_ / "router" / "router.json").string()});
  if (!url) return step_error("router", url.error());
  router_url_ = *url;
  say("  router             " + router_url_);
  return {};
}

Status Stack::start_gateway_and_relay() {
  const auto now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  const json gateway = {
      {"listen", "127.0.0.1:0"},
      {"keys",
       {{{"key_id", 1},
         {"kem", "x25519-kyber768"},
         {"seed_file", "ohttp-key-1.seed"},
         {"active_from", transparency::format_rfc3339(now - std::chrono::hours(1))},
         {"active_until", transparency::format_rfc3339(now + std::chrono::hours(24 * 90))}}}},
      {"key_statement", "ohttp-keys.bundle.json"},
      {"bank_url", blindbank_url_},
      {"router_url", router_url_}};
  const fs::path gw = dir_ / "gateway";
  if (auto w = write_json(gw / "gateway.json", gateway); !w) return w;
  auto keys = run({"gateway", "keys", "--config", (gw / "gateway.json").string(), "--ohttp-keys",
                   (gw / "ohttp-keys.bin").string(), "--rotation-periods", (gw / "rotation-periods.json").string()},
                  "gateway");
  if (!keys) return step_error("gateway keys", keys.error());
  if (auto p = publish({"--ohttp-keys", (gw / "ohttp-keys.bin").string(), "--rotation-periods",
                        (gw / "rotation-periods.json").string()},
                       gw / "ohttp-keys.bundle.json", "the gateway's OHTTP keys");
      !p) {
    return p;
  }
  auto url = start_service("gateway", {"gateway", "--config", (gw / "gateway.json").string()});
  if (!url) return step_error("gateway", url.error());
  gateway_url_ = *url;
  say("  gateway            " + gateway_url_);

  const json relay = {{"listen", "127.0.0.1:0"}, {"gateway_url", gateway_url_ + "/"}};
  if (auto w = write_json(dir_ / "relay" / "relay.json", relay); !w) return w;
  auto relay_url = start_service("relay", {"relay", "--config", (dir_ / "relay" / "relay.json").string()});
  if (!relay_url) return step_error("relay", relay_url.error());
  relay_url_ = *relay_url;
  say("  relay              " + relay_url_);
  return {};
}

Status Stack::start_authbank() {
  const fs::path ab = dir_ / "authbank";
  const json config = {{"listen", "127.0.0.1:0"},
                       {"database", money_db_},
                       {"currency_key", (dir_ / "keys" / "currency.key").string()},
                       {"badge_key", (dir_ / "keys" / "badge.key").string()},
                       {"relays", {relay_url_}},
                       {"currency_key_bundle", (dir_ / "keys" / "currency.bundle.json").string()},
                       {"ohttp_keys_bundle", (dir_ / "gateway" / "ohttp-keys.bundle.json").string()},
                       {"tls", {{"self_signed", true}, {"hosts", {"localhost", "127.0.0.1"}}}}};
  if (auto w = write_json(ab / "authbank.json", config); !w) return w;

  // The dev account: created once, with an API key kept in keys/api.key and funds for many requests.
  const fs::path api_key_file = dir_ / "keys" / "api.key";
  if (!fs::exists(api_key_file)) {
    auto cfg = authbank::load_service_config(ab / "authbank.json");
    if (!cfg) return step_error("authbank config", cfg.error());
    auto ledger = authbank::open_ledger(*cfg);
    if (!ledger) return step_error("authbank database", ledger.error());
    const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    auto account = (*ledger)->create_account("dev", "developer", std::vector<std::string>{model_}, now);
    if (!account) return step_error("dev account", account.error());
    if (auto f = (*ledger)->add_funds(account->id, 1'000'000'000'000, now); !f) return step_error("funds", f.error());
    auto key = (*ledger)->issue_key(account->id, std::nullopt, now);
    if (!key) return step_error("API key", key.error());
    if (auto w = services::write_secret_file_atomically(api_key_file, as_bytes(key->key.text() + "\n"),
                                                         services::ExistingFile::kReplace);
        !w) {
      return step_error("API key file", w.error());
    }
    say("  dev account " + std::to_string(account->id) + " created with an API key (keys/api.key)");
  }
  auto url = start_service("authbank", {"authbank", "--config", (ab / "authbank.json").string()});
  if (!url) return step_error("authbank", url.error());
  authbank_url_ = *url;
  say("  authbank           " + authbank_url_);
  return {};
}

Status Stack::start_nodes() {
  // One image for all nodes: the same simulated firmware and model, hence one manifest and one bundle.
  for (int i = 1; i <= opts_.nodes; ++i) {
    const std::string name = "node-" + std::to_string(i);
    const fs::path nd = dir_ / name;
    std::error_code ec;
    fs::remove_all(nd / "tpm", ec);  // a fresh TPM: a node is measured once per power cycle
    fs::create_directories(nd / "tpm", ec);
    if (ec) return make_error(ErrorCode::kIo, "cannot create " + (nd / "tpm").string());
    auto port = free_port_pair();
    if (!port) return step_error(name + " swtpm", port.error());
    const std::vector<std::string> swtpm = {
        "/usr/bin/swtpm",
        "socket",
        "--tpm2",
        "--tpmstate",
        "dir=" + (nd / "tpm").string(),
        "--server",
        "type=tcp,port=" + std::to_string(*port) + ",bindaddr=127.0.0.1",
        "--ctrl",
        "type=tcp,port=" + std::to_string(*port + 1) + ",bindaddr=127.0.0.1",
        "--flags",
        "not-need-init,startup-clear"};
    const fs::path swtpm_log = log_of(name + "-swtpm");
    auto pid = spawn_detached(swtpm, swtpm_log);
    if (!pid) return step_error(name + " swtpm", pid.error());
    processes_.push_back(Process{name + "-swtpm", *pid, "tcp://127.0.0.1:" + std::to_string(*port), swtpm_log,
                                 "swtpm"});

    const json node = {{"listen", "127.0.0.1:0"},
                       {"tpm", "swtpm:host=127.0.0.1,port=" + std::to_string(*port)},
                       {"router_url", router_url_},
                       {"models", {model_}},
                       {"engine", engine_url_},
                       {"model_path", (dir_ / "engine" / "model").string()},
                       {"badge_public_key", (dir_ / "keys" / "badge.key.pub").string()},
                       {"simulated_root", (dir_ / "keys" / "simulated-root.pem").string()},
                       {"image_manifest_bundle", (dir_ / "keys" / "image.bundle.json").string()},
                       {"heartbeat_interval_ms", 2000}};
    if (auto w = write_json(nd / "node.json", node); !w) return w;

    if (i == 1) {
      auto manifest = run({"computenode", "image-manifest", "--config", (nd / "node.json").string()}, name);
      if (!manifest) return step_error("image manifest", manifest.error());
      if (auto w = write_text(dir_ / "keys" / "image-manifest.json", *manifest); !w) return w;
      if (auto p = publish({"--image-manifest", (dir_ / "keys" / "image-manifest.json").string()},
                           dir_ / "keys" / "image.bundle.json", "the nodes' image manifest");
          !p) {
        return p;
      }
    }
    // swtpm needs a moment to listen; the node retries its TPM connection only briefly.
    std::this_thread::sleep_for(200ms);
    auto url = start_service(name, {"computenode", "--config", (nd / "node.json").string()});
    if (!url) return step_error(name, url.error());
    node_urls_.push_back(*url);
    say("  " + name + "             " + *url + " (swtpm on port " + std::to_string(*port) + ")");
  }
  return {};
}

// The router's /metrics reports routable nodes as openpcc_router_nodes{grade="ok"} N.
Result<int> routable_nodes(const std::string& router_url) {
  auto got = net::fetch_blocking(net::ClientRequest("GET", router_url + "/metrics"));
  if (!got) return std::unexpected(got.error());
  if (got->status != 200) return make_error(ErrorCode::kUnavailable, "router /metrics answered " +
                                                                         std::to_string(got->status));
  std::istringstream lines(std::string(got->body.begin(), got->body.end()));
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("openpcc_router_nodes{grade=\"ok\"} ")) return std::stoi(line.substr(line.find(' ') + 1));
  }
  return 0;
}

Status Stack::wait_until_routable() {
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  int seen = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    auto n = routable_nodes(router_url_);
    if (n && *n >= opts_.nodes) return {};
    if (n) seen = *n;
    std::this_thread::sleep_for(250ms);
  }
  return make_error(ErrorCode::kTimeout, "the router has " + std::to_string(seen) + " of " +
                                             std::to_string(opts_.nodes) +
                                             " nodes routable after 60 s; see logs/router.log and logs/node-*.log");
}

Status Stack::write_client_files() {
  auto vkey = read_text(dir_ / "tlog" / "tlog.key.vkey");
  if (!vkey) return step_error("log verifier key", vkey.error());
  const json policy = {{"accept_simulated_tee", true},
                       {"simulated_roots", {(dir_ / "keys" / "simulated-root.pem.pub").string()}},
                       {"transparency",
                        {{"log_key", trim(*vkey)},
                         {"publisher_keys", {(dir_ / "keys" / "publisher.key.pub").string()}},
                         {"image_manifest_bundles", {(dir_ / "keys" / "image.bundle.json").string()}}}}};
  if (auto w = write_json(dir_ / "trust-policy.json", policy); !w) return w;
  const json client = {{"authbank_url", authbank_url_},
                       {"api_key_file", (dir_ / "keys" / "api.key").string()},
                       {"ca_file", (dir_ / "authbank" / "authbank-tls-cert.pem").string()},
                       {"trust_policy", (dir_ / "trust-policy.json").string()},
                       {"wallet", {{"state_file", (dir_ / "wallet.state").string()}, {"max_delay_ms", 100}}}};
  return write_json(dir_ / "client.json", client);
}

Status Stack::write_stack_file() const {
  json list = json::array();
  for (const auto& p : processes_) {
    list.push_back({{"name", p.name}, {"pid", p.pid}, {"url", p.url}, {"log", p.log.string()}, {"expect", p.expect}});
  }
  return write_json(dir_ / kStackFile, json{{"processes", list}});
}

void Stack::stop_all() {
  // Reverse start order: nodes (which deregister) before the router, swtpm after its node.
  for (auto it = processes_.rbegin(); it != processes_.rend(); ++it) stop_process(it->pid, 10s);
  processes_.clear();
}

Status Stack::up() {
  if (auto running = read_stack(dir_); running) {
    for (const auto& p : *running) {
      if (process_running(p.pid, p.expect)) {
        return make_error(ErrorCode::kConflict, "a stack is already running in " + dir_.string() + " (" + p.name +
                                                    ", pid " + std::to_string(p.pid) +
                                                    "): run `openpcc dev down --data-dir " + dir_.string() +
                                                    "` first");
      }
    }
  }
  if (opts_.nodes < 1 || opts_.nodes > 16) return make_error(ErrorCode::kInvalidArgument, "--nodes must be 1..16");
  say("starting the local OpenPCC stack in " + dir_.string());
  for (auto step : {&Stack::prepare_directories, &Stack::prepare_keys, &Stack::start_tlog, &Stack::start_engine,
                    &Stack::start_banks_and_router, &Stack::start_gateway_and_relay, &Stack::start_authbank,
                    &Stack::start_nodes}) {
    if (auto s = (this->*step)(); !s) return s;
    // Record progress as we go, so that `dev down` can clean up after an interrupted `up`.
    if (auto w = write_stack_file(); !w) return w;
  }
  say("  waiting until the router routes to " + std::to_string(opts_.nodes) + " node(s)…");
  if (auto s = wait_until_routable(); !s) return s;
  if (auto s = write_client_files(); !s) return s;
  if (auto s = write_stack_file(); !s) return s;
  committed_ = true;
  say("ready. Send a private request:\n  openpcc chat --config " + (dir_ / "client.json").string() +
      " \"Hello there\"\nstop it with: openpcc dev down --data-dir " + dir_.string());
  return {};
}

Result<std::vector<Process>> read_stack(const fs::path& dir) {
  auto text = read_text(dir / kStackFile);
  if (!text) return std::unexpected(text.error());
  auto parsed = json::parse(*text, nullptr, false);
  if (parsed.is_discarded() || !parsed.contains("processes") || !parsed["processes"].is_array()) {
    return make_error(ErrorCode::kDecode, (dir / kStackFile).string() + " is not a stack file");
  }
  std::vector<Process> out;
  for (const auto& p : parsed["processes"]) {
    if (!p.is_object() || !p.value("pid", json()).is_number_integer()) continue;
    out.push_back(Process{p.value("name", ""), p["pid"].get<pid_t>(), p.value("url", ""), p.value("log", ""),
                          p.value("expect", "openpcc")});
  }
  return out;
}

}  // namespace

Status dev_up(const DevUpOptions& options) {
  Stack stack(options);
  return stack.up();
}

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
  std::fprintf(stderr, "stack in %s stopped (%zu processes); data kept\n", dir.c_str(), stopped);
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

}  // namespace openpcc::cli::dev

// `openpcc authbank --config FILE` runs the AuthBank; `openpcc authbank admin …` manages accounts, API keys and
// funds directly in the configured database (services/authbank/ledger.h).
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/run_service.h"
#include "currency/nonce.h"
#include "services/authbank/authbank_service.h"
#include "services/authbank/ledger.h"

namespace openpcc::cli {
namespace {

constexpr char kAuthBankHelp[] =
    "Run the AuthBank: the identified bank where an API key buys anonymous credits.\n\n"
    "Endpoints (protobuf bodies, API key in the cf-authorization header): GET /api/config, POST /api/auth "
    "(withdraw a blind-signed credit plus a badge), POST /api/attestationRequest (free attestation token, rate "
    "limited per account), POST /api/refund, GET /_health.\n\n"
    "Keys (currency RSA key, badge Ed25519 key) and a self-signed TLS certificate are generated into the data "
    "directory on first start if the config asks for them. Prints `listening on URL` once bound; SIGINT or SIGTERM "
    "shuts down gracefully. --print-example-config shows every setting. Manage accounts with `openpcc authbank "
    "admin`.";

constexpr char kAdminHelp[] =
    "Manage AuthBank accounts directly in the configured database (works while the service runs; every change is "
    "one transaction with its journal row).\n\n"
    "  openpcc authbank admin create-account --config authbank.json --org acme --label alice --models llama3:8b\n"
    "  openpcc authbank admin issue-key --config authbank.json --account 1 --expires-in 90d\n"
    "  openpcc authbank admin add-funds --config authbank.json --account 1 --amount 1000000\n"
    "  openpcc authbank admin balance --config authbank.json --account 1\n"
    "  openpcc authbank admin list-accounts --config authbank.json\n"
    "  openpcc authbank admin revoke-key --config authbank.json --key-id 0123456789abcdef";

struct ServeOptions {
  std::string config;
  bool print_example = false;
};

struct AdminOptions {
  std::string config;
  std::string organization;
  std::string label;
  std::string models;
  int64_t account = 0;
  std::string expires_in = "90d";
  std::string key_id;
  int64_t amount = 0;
};

int fail(const std::string& message) { return service_error("authbank", message); }

std::string utc_time(int64_t unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

std::vector<std::string> split_models(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    std::string item = text.substr(start, comma - start);
    if (!item.empty()) out.push_back(std::move(item));
    start = comma + 1;
  }
  return out;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ",") + item;
  return out;
}

// "90d", "12h", "30m", "45s" → seconds; "never" → nullopt. Anything else is an error.
Result<std::optional<int64_t>> parse_duration(const std::string& text) {
  if (text == "never") return std::optional<int64_t>();
  if (text.size() < 2) return make_error(ErrorCode::kInvalidArgument, "bad duration " + text);
  int64_t unit = 0;
  switch (text.back()) {
    case 'd': unit = 86400; break;
    case 'h': unit = 3600; break;
    case 'm': unit = 60; break;
    case 's': unit = 1; break;
    default: return make_error(ErrorCode::kInvalidArgument, "duration needs a unit d, h, m or s: " + text);
  }
  int64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size() - 1, n);
  if (ec != std::errc() || end != text.data() + text.size() - 1 || n <= 0 || n > 100LL * 365 * 86400 / unit) {
    return make_error(ErrorCode::kInvalidArgument, "bad duration " + text);
  }
  return std::optional<int64_t>(n * unit);
}

int serve(const ServeOptions& opts) {
  if (opts.print_example) {
    std::fputs(authbank::example_service_config().c_str(), stdout);
    return 0;
  }
  ServiceRun run;
  run.name = "authbank";
  run.config_path = opts.config;
  return run_service(run, authbank::load_service_config, [](const authbank::ServiceConfig& config) {
    const bool terminal = ::isatty(STDERR_FILENO) == 1;
    long candidates = 0;
    auto progress = [&](int stage, int) {
      if (stage == 0 && terminal && ++candidates % 50 == 0) {
        std::fprintf(stderr, "\rsearching for safe primes: %ld candidates", candidates);
        std::fflush(stderr);
      }
      return true;
    };
    auto service = authbank::Service::start(config, progress);
    if (terminal && candidates >= 50) std::fputs("\n", stderr);
    if (!service) return service;
    if (auto cert = (*service)->certificate_file()) {
      spdlog::info("authbank: TLS certificate {} (clients trust this file)", cert->string());
    }
    return service;
  });
}

// Admin commands: open the configured database and run one ledger call.
Result<std::unique_ptr<authbank::Ledger>> open_admin_ledger(const AdminOptions& opts) {
  auto config = authbank::load_service_config(opts.config);
  if (!config) return std::unexpected(config.error());
  return authbank::open_ledger(*config);
}

int create_account(const AdminOptions& opts) {
  auto ledger = open_admin_ledger(opts);
  if (!ledger) return fail(ledger.error().to_string());
  auto account =
      (*ledger)->create_account(opts.organization, opts.label, split_models(opts.models), currency::unix_now());
  if (!account) return fail(account.error().to_string());
  std::printf("created account %lld (organization %s, label %s, models %s)\n", static_cast<long long>(account->id),
              account->organization.c_str(), account->label.c_str(),
              account->models.empty() ? "(none: no badge)" : join(account->models).c_str());
  return 0;
}

int issue_key(const AdminOptions& opts) {
  auto duration = parse_duration(opts.expires_in);
  if (!duration) return fail(duration.error().message);
  auto ledger = open_admin_ledger(opts);
  if (!ledger) return fail(ledger.error().to_string());
  const int64_t now = currency::unix_now();
  std::optional<int64_t> expires_at;
  if (*duration) expires_at = now + **duration;
  auto issued = (*ledger)->issue_key(opts.account, expires_at, now);
  if (!issued) return fail(issued.error().to_string());
  // The key alone on stdout (for `KEY=$(openpcc authbank admin issue-key …)`), the rest on stderr.
  std::printf("%s\n", issued->key.text().c_str());
  std::fflush(stdout);
  std::fprintf(stderr, "key id %s for account %lld, %s. It is shown only this once: store it now.\n",
               issued->record.key_id.c_str(), static_cast<long long>(opts.account),
               expires_at ? ("expires " + utc_time(*expires_at)).c_str() : "never expires");
  return 0;
}

int revoke_key(const AdminOptions& opts) {
  auto ledger = open_admin_ledger(opts);
  if (!ledger) return fail(ledger.error().to_string());
  if (Status s = (*ledger)->revoke_key(opts.key_id, currency::unix_now()); !s) return fail(s.error().to_string());
  std::printf("revoked key %s\n", opts.key_id.c_str());
  return 0;
}

int add_funds(const AdminOptions& opts) {
  auto ledger = open_admin_ledger(opts);
  if (!ledger) return fail(ledger.error().to_string());
  auto account = (*ledger)->add_funds(opts.account, opts.amount, currency::unix_now());
  if (!account) return fail(account.error().to_string());
  std::printf("account %lld balance %lld\n", static_cast<long long>(account->id),
              static_cast<long long>(account->balance));
  return 0;
}

int balance(const AdminOptions& opts) {
  auto ledger = open_admin_ledger(opts);
  if (!ledger) return fail(ledger.error().to_string());
  auto account = (*ledger)->account(opts.account);
  if (!account) return fail(account.error().to_string());
  std::printf("%lld\n", static_cast<long long>(account->balance));
  return 0;
}

int list_accounts(const AdminOptions& opts) {
  auto ledger = open_admin_ledger(opts);
  if (!ledger) return fail(ledger.error().to_string());
  auto accounts = (*ledger)->list_accounts();
  if (!accounts) return fail(accounts.error().to_string());
  const int64_t now = currency::unix_now();
  std::printf("%-6s %-20s %-20s %16s %5s  %-20s %s\n", "id", "organization", "label", "balance", "keys", "created",
              "models");
  for (const auto& a : *accounts) {
    auto keys = (*ledger)->list_keys(a.id);
    if (!keys) return fail(keys.error().to_string());
    int active = 0;
    for (const auto& k : *keys) active += (!k.revoked_at && (!k.expires_at || now < *k.expires_at)) ? 1 : 0;
    std::printf("%-6lld %-20s %-20s %16lld %5d  %-20s %s\n", static_cast<long long>(a.id), a.organization.c_str(),
                a.label.c_str(), static_cast<long long>(a.balance), active, utc_time(a.created_at).c_str(),
                join(a.models).c_str());
  }
  return 0;
}

// Adds `--config` to an admin subcommand.
void config_option(CLI::App* cmd, AdminOptions& opts) {
  cmd->add_option("--config", opts.config, "The AuthBank's config file (its database is used)")
      ->required()
      ->check(CLI::ExistingFile);
}

}  // namespace

void add_authbank_command(CLI::App& app, int& exit_code) {
  auto* authbank = app.add_subcommand("authbank", kAuthBankHelp);
  authbank->require_subcommand(0, 1);
  auto serve_opts = std::make_shared<ServeOptions>();
  authbank->add_option("--config", serve_opts->config, "Config file (JSON; see --print-example-config)");
  authbank->add_flag("--print-example-config", serve_opts->print_example, "Print an annotated example config");
  authbank->callback([authbank, serve_opts, &exit_code] {
    if (!authbank->get_subcommands().empty()) return;  // an admin command ran
    exit_code = serve(*serve_opts);
  });

  auto* admin = authbank->add_subcommand("admin", kAdminHelp);
  admin->require_subcommand(1);
  auto opts = std::make_shared<AdminOptions>();

  auto* create = admin->add_subcommand("create-account", "Create an account; prints its id");
  config_option(create, *opts);
  create->add_option("--org", opts->organization, "Organization id")->required();
  create->add_option("--label", opts->label, "User label")->required();
  create->add_option("--models", opts->models, "Models the account's badges allow, comma-separated");
  create->callback([opts, &exit_code] { exit_code = create_account(*opts); });

  auto* issue = admin->add_subcommand("issue-key", "Issue an API key (printed once on stdout)");
  config_option(issue, *opts);
  issue->add_option("--account", opts->account, "Account id")->required();
  issue->add_option("--expires-in", opts->expires_in, "Lifetime: Nd, Nh, Nm, Ns or never")->default_val("90d");
  issue->callback([opts, &exit_code] { exit_code = issue_key(*opts); });

  auto* revoke = admin->add_subcommand("revoke-key", "Revoke an API key by its id");
  config_option(revoke, *opts);
  revoke->add_option("--key-id", opts->key_id, "Key id (16 hex characters, as issue-key printed)")->required();
  revoke->callback([opts, &exit_code] { exit_code = revoke_key(*opts); });

  auto* funds = admin->add_subcommand("add-funds", "Add credit units to an account's balance");
  config_option(funds, *opts);
  funds->add_option("--account", opts->account, "Account id")->required();
  funds->add_option("--amount", opts->amount, "Amount (credit units, > 0)")->required();
  funds->callback([opts, &exit_code] { exit_code = add_funds(*opts); });

  auto* bal = admin->add_subcommand("balance", "Print an account's balance");
  config_option(bal, *opts);
  bal->add_option("--account", opts->account, "Account id")->required();
  bal->callback([opts, &exit_code] { exit_code = balance(*opts); });

  auto* list = admin->add_subcommand("list-accounts", "List accounts with balances and active key counts");
  config_option(list, *opts);
  list->callback([opts, &exit_code] { exit_code = list_accounts(*opts); });
}

}  // namespace openpcc::cli

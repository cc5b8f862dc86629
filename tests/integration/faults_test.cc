// Faults on the whole stack as processes (devstack::DevStack): a node killed while it streams an answer, a router
// restarted under running nodes, the gateway's OHTTP key rotated under a long-lived client, and the money database
// locked by another writer or on a full disk. What the user sees and what happens to the money is asserted; the
// forwarding outcomes are documented in docs/ROUTER.md ("Forwarding outcomes").
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "client/client.h"
#include "client/completion_text.h"
#include "client/request_step.h"
#include "currency/issuer.h"
#include "devstack/dev_stack.h"
#include "net/client.h"
#include "net/runtime.h"
#include "services/authbank/authbank_service.h"
#include "services/authbank/ledger.h"
#include "services/blindbank/blindbank.h"
#include "services/common/key_files.h"
#include "store/database.h"
#include "support/service_process.h"
#include "support/temp_dir.h"
#include "wire/ohttp_key_config.h"

extern char** environ;

namespace openpcc {
namespace {

using namespace std::chrono_literals;
using test_support::run_openpcc;

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// `openpcc args...` in the background with stdout and stderr in files.
class BackgroundCommand {
 public:
  BackgroundCommand(const std::vector<std::string>& args, std::filesystem::path out, std::filesystem::path err)
      : out_(std::move(out)), err_(std::move(err)) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<std::string> all{OPENPCC_BINARY};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
  }
  ~BackgroundCommand() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      wait();
    }
  }
  bool started() const { return pid_ > 0; }
  std::string out() const { return read_file(out_); }
  std::string err() const { return read_file(err_); }
  // Exit status, or -1 after `timeout`.
  int wait(std::chrono::milliseconds timeout = 60s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (pid_ > 0 && std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(20ms);
    }
    return -1;
  }

 private:
  std::filesystem::path out_, err_;
  pid_t pid_ = -1;
};

// Holds SQLite's write lock on a database file (BEGIN EXCLUSIVE; in WAL mode readers go on, writers wait) until
// destroyed: another process hogging the database.
class SqliteWriteLock {
 public:
  explicit SqliteWriteLock(const std::filesystem::path& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) return;
    sqlite3_busy_timeout(db_, 10000);  // a service may be in the middle of a short write
    locked_ = sqlite3_exec(db_, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr) == SQLITE_OK;
  }
  ~SqliteWriteLock() {
    if (locked_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    sqlite3_close_v2(db_);
  }
  bool locked() const { return locked_; }
  std::string error() const { return db_ ? sqlite3_errmsg(db_) : "cannot open"; }

 private:
  sqlite3* db_ = nullptr;
  bool locked_ = false;
};

// Sets other processes' file size limit (RLIMIT_FSIZE) to 0 until destroyed: every write to a file fails with
// EFBIG, as on a full disk (services ignore SIGXFSZ, services/common/signals.h). Unprivileged: only the soft limit
// moves, and back.
class FullDisk {
 public:
  explicit FullDisk(std::vector<pid_t> pids) {
    for (pid_t pid : pids) {
      rlimit old{};
      if (prlimit(pid, RLIMIT_FSIZE, nullptr, &old) != 0) {
        error_ = "prlimit " + std::to_string(pid) + ": " + std::strerror(errno);
        return;
      }
      rlimit none = old;
      none.rlim_cur = 0;
      if (prlimit(pid, RLIMIT_FSIZE, &none, nullptr) != 0) {
        error_ = "prlimit " + std::to_string(pid) + ": " + std::strerror(errno);
        return;
      }
      saved_.emplace_back(pid, old);
    }
  }
  ~FullDisk() { clear(); }
  void clear() {
    for (auto& [pid, old] : saved_) prlimit(pid, RLIMIT_FSIZE, &old, nullptr);
    saved_.clear();
  }
  const std::string& error() const { return error_; }

 private:
  std::vector<std::pair<pid_t, rlimit>> saved_;
  std::string error_;
};

// A client SDK object created once and kept across faults, as an application keeps it: its own AuthBank account
// (so that its money can be accounted for exactly) and its own wallet state file.
struct LongLivedClient {
  std::unique_ptr<net::Runtime> runtime;
  std::unique_ptr<client::Client> client;
  int64_t account_id = 0;
  int64_t funds = 0;

  LongLivedClient() = default;
  LongLivedClient(LongLivedClient&&) = default;
  ~LongLivedClient() {
    client.reset();  // outside the runtime's threads, before the runtime
    runtime.reset();
  }

  // A streamed chat request read to its end: the answer's text, or the error of the step that failed.
  Result<std::string> chat(const std::string& prompt) {
    return runtime->block_on([&]() -> net::Task<Result<std::string>> {
      client::Request request;
      request.path = "/v1/chat/completions";
      const nlohmann::json body = {{"model", "openpcc-test-engine"},
                                   {"messages", {{{"role", "user"}, {"content", prompt}}}},
                                   {"stream", true},
                                   {"max_tokens", 8}};
      request.body = to_bytes(body.dump());
      auto response = co_await client->request(std::move(request));
      if (!response) co_return std::unexpected(response.error());
      auto bytes = co_await (*response)->read_all();
      if (!bytes) co_return std::unexpected(bytes.error());
      client::CompletionText text;
      std::string out = text.feed(*bytes);
      out += text.finish();
      co_return out;
    });
  }

  // Returns every credit to the AuthBank (wallet::Wallet::close).
  Status close() {
    return runtime->block_on([&]() -> net::Task<Status> { co_return co_await client->close(); });
  }
};

class FaultsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test_support::TempDir("openpcc-faults");
    devstack::DevUpOptions options;
    options.data_dir = dir_->path() / "stack";
    options.binary = OPENPCC_BINARY;
    options.token_delay_ms = 100;  // answers take seconds: time to kill a node in the middle of one
    options.currency_key_bits = 1024;
    options.quiet = true;
    auto stack = devstack::DevStack::up(options);
    if (!stack) {
      setup_error_ = new std::string(stack.error().to_string());
      return;
    }
    stack_ = stack->release();
  }
  static void TearDownTestSuite() {
    delete stack_;
    stack_ = nullptr;
    delete dir_;
    dir_ = nullptr;
    delete setup_error_;
    setup_error_ = nullptr;
  }
  void SetUp() override { ASSERT_EQ(setup_error_, nullptr) << *setup_error_; }

  static test_support::CommandOutput chat(const std::string& prompt) {
    return run_openpcc({"chat", "--config", stack_->client_config().string(), "--max-tokens", "8", prompt});
  }

  static Result<authbank::ServiceConfig> authbank_config() {
    return authbank::load_service_config(stack_->data_dir() / "authbank" / "authbank.json");
  }

  static std::filesystem::path money_db() { return stack_->data_dir() / "money" / "money.db"; }

  static pid_t pid_of(const std::string& service) {
    for (const auto& p : stack_->processes()) {
      if (p.name == service) return p.pid;
    }
    return -1;
  }

  // A funded account of its own and a client for it, created from the stack's client config.
  static Result<LongLivedClient> long_lived_client(const std::string& name) {
    auto ab = authbank_config();
    if (!ab) return std::unexpected(ab.error());
    LongLivedClient out;
    out.funds = 1'000'000'000;
    std::string api_key;
    {
      auto ledger = authbank::open_ledger(*ab);
      if (!ledger) return std::unexpected(ledger.error());
      const int64_t now = static_cast<int64_t>(std::time(nullptr));
      auto account = (*ledger)->create_account("faults", name, std::vector<std::string>{"openpcc-test-engine"}, now);
      if (!account) return std::unexpected(account.error());
      out.account_id = account->id;
      if (auto f = (*ledger)->add_funds(account->id, out.funds, now); !f) return std::unexpected(f.error());
      auto key = (*ledger)->issue_key(account->id, std::nullopt, now);
      if (!key) return std::unexpected(key.error());
      api_key = key->key.text();
    }
    auto config = client::load_client_config(stack_->client_config());
    if (!config) return std::unexpected(config.error());
    config->api_key = api_key;
    config->wallet.state_file = dir_->path() / ("wallet-" + name + ".state");
    // A request normally pays with a credit in hand; one whose credits are too close to their expiry (the last
    // minutes of an hour) waits for a new one from the bank, and gives up after this with the bank's last error.
    config->wallet.payment_timeout = 20s;
    out.runtime = std::make_unique<net::Runtime>(2);
    auto c = client::Client::create(*out.runtime, *config);
    if (!c) return std::unexpected(c.error());
    out.client = std::move(*c);
    return out;
  }

  static Result<int64_t> balance(int64_t account_id) {
    auto ab = authbank_config();
    if (!ab) return std::unexpected(ab.error());
    auto ledger = authbank::open_ledger(*ab);
    if (!ledger) return std::unexpected(ledger.error());
    auto account = (*ledger)->account(account_id);
    if (!account) return std::unexpected(account.error());
    return account->balance;
  }

  // Nothing half-written: SQLite's own integrity check, every AuthBank balance equal to the sum of its journal, and
  // the BlindBank's balances equal to its journal and its deposits minus withdrawals.
  static void expect_books_consistent() {
    auto db = store::open_database("sqlite:" + money_db().string());
    ASSERT_TRUE(db) << db.error().to_string();
    auto integrity = (*db)->query("PRAGMA integrity_check");
    ASSERT_TRUE(integrity) << integrity.error().to_string();
    ASSERT_EQ(integrity->size(), 1u);
    EXPECT_EQ(integrity->front().text(0).value_or("?"), "ok");

    auto ab = authbank_config();
    ASSERT_TRUE(ab) << ab.error().to_string();
    auto ledger = authbank::open_ledger(*ab);
    ASSERT_TRUE(ledger) << ledger.error().to_string();
    auto off = (*ledger)->audit();
    ASSERT_TRUE(off) << off.error().to_string();
    EXPECT_TRUE(off->empty()) << off->size() << " AuthBank accounts differ from their journal";

    auto key = services::load_currency_key(stack_->data_dir() / "keys" / "currency.key");
    ASSERT_TRUE(key) << key.error().to_string();
    auto issuer = currency::Issuer::create(std::move(*key));
    ASSERT_TRUE(issuer) << issuer.error().to_string();
    auto bank = blindbank::BlindBank::open(*db, std::move(*issuer));
    ASSERT_TRUE(bank) << bank.error().to_string();
    auto audit = (*bank)->audit();
    ASSERT_TRUE(audit) << audit.error().to_string();
    EXPECT_TRUE(audit->consistent()) << "BlindBank journal " << audit->journal_delta << " vs balances "
                                     << audit->balances;
  }

  // After close(): every unit the wallet took from the AuthBank went back, was spent (less the refunds), or is the
  // banks' stochastic rounding; and the account's balance says the same.
  static void expect_money_conserved(LongLivedClient& c) {
    Status closed = c.close();
    ASSERT_TRUE(closed) << closed.error().to_string();
    const auto status = c.client->wallet().status();
    EXPECT_TRUE(status.closed);
    const wallet::Counters& t = status.totals;
    EXPECT_EQ(t.lost, 0);
    EXPECT_EQ(t.from_source + t.refunds_received + t.rounding, t.returned_to_source + t.spent + t.spent_unknown)
        << "from " << t.from_source << " refunds " << t.refunds_received << " rounding " << t.rounding
        << " returned " << t.returned_to_source << " spent " << t.spent << " spent_unknown " << t.spent_unknown;
    auto after = balance(c.account_id);
    ASSERT_TRUE(after) << after.error().to_string();
    EXPECT_EQ(*after, c.funds - t.from_source + t.returned_to_source);
  }

  // A request refused because the money database cannot be written: the router could not record the credit's spend
  // (routing, 503), or — when the wallet had to fetch a fresh credit first — the bank could not sell one (payment,
  // naming the bank's 503). Either way the user reads why.
  static void expect_storage_refusal(const Error& error) {
    const auto step = client::step_of(error);
    EXPECT_TRUE(step == client::Step::kRouting || step == client::Step::kPayment) << error.to_string();
    if (step == client::Step::kRouting) {
      EXPECT_NE(error.message.find("503"), std::string::npos) << error.to_string();
    }
    EXPECT_NE(error.message.find("temporarily unavailable"), std::string::npos) << error.to_string();
  }

  // The gateway's count of encapsulated requests refused for their key (its /metrics).
  static int64_t gateway_key_errors() {
    auto got = net::fetch_blocking(net::ClientRequest("GET", stack_->url("gateway") + "/metrics"));
    if (!got || got->status != 200) return -1;
    std::istringstream lines(std::string(got->body.begin(), got->body.end()));
    for (std::string line; std::getline(lines, line);) {
      if (line.find("requests_total") != std::string::npos && line.find("outcome=\"key_error\"") != std::string::npos) {
        return std::atoll(line.substr(line.rfind(' ') + 1).c_str());
      }
    }
    return 0;
  }

  static test_support::TempDir* dir_;
  static devstack::DevStack* stack_;
  static std::string* setup_error_;
};

test_support::TempDir* FaultsTest::dir_ = nullptr;
devstack::DevStack* FaultsTest::stack_ = nullptr;
std::string* FaultsTest::setup_error_ = nullptr;

TEST_F(FaultsTest, RouterRestartedNodesReRegisterAndRequestsResume) {
  auto before = chat("before the restart");
  ASSERT_EQ(before.status, 0) << before.out;
  ASSERT_TRUE(stack_->restart("router"));
  // The router keeps no registry on disk: the nodes' next heartbeats (every 2 s in the dev stack) bring them back.
  ASSERT_TRUE(stack_->wait_until_routable(1, 30s));
  auto after = chat("after the restart");
  ASSERT_EQ(after.status, 0) << after.out;
  EXPECT_NE(after.out.find("after the restart"), std::string::npos) << after.out;
}

TEST_F(FaultsTest, NodeKilledMidStreamFailsTheRequestByNameAndTheStackRecovers) {
  BackgroundCommand chat_cmd({"chat", "--config", stack_->client_config().string(), "--max-tokens", "60",
                              "a long answer please"},
                             dir_->path() / "chat.out", dir_->path() / "chat.err");
  ASSERT_TRUE(chat_cmd.started());
  // Wait for the first streamed words, then kill the node that is producing them.
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (chat_cmd.out().find("You said") == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_NE(chat_cmd.out().find("You said"), std::string::npos) << chat_cmd.err();
  ASSERT_TRUE(stack_->kill("node-1"));
  const int status = chat_cmd.wait();
  EXPECT_EQ(status, 1) << chat_cmd.out() << chat_cmd.err();
  EXPECT_NE(chat_cmd.err().find("node"), std::string::npos) << "the error names the node step: " << chat_cmd.err();
  // Only part of the answer arrived (60 words at 100 ms each would take 6 s).
  EXPECT_EQ(chat_cmd.err().find("checks passed"), std::string::npos) << "no success summary for a cut answer";

  // A new node process on a fresh TPM power cycle registers, and requests succeed again.
  ASSERT_TRUE(stack_->restart("node-1"));
  ASSERT_TRUE(stack_->wait_until_routable(1, 60s));
  // The router can count the killed process's entry as routable for a moment more (until its health checks meet the
  // new node's id at that URL, or the new node's heartbeat supersedes it while its own grade is still unknown), so
  // recovery means: a request succeeds within the bound. A request that finds no verified node spends nothing.
  auto again = chat("after the node came back");
  const auto recovery_deadline = std::chrono::steady_clock::now() + 60s;
  while (again.status != 0 && std::chrono::steady_clock::now() < recovery_deadline) {
    std::this_thread::sleep_for(500ms);
    again = chat("after the node came back");
  }
  EXPECT_EQ(again.status, 0) << again.out;
}

TEST_F(FaultsTest, RotatedOhttpKeyTheSameClientRefreshesItsKeysAndSucceeds) {
  auto c = long_lived_client("rotation");
  ASSERT_TRUE(c) << c.error().to_string();
  auto before = c->chat("before the rotation");
  ASSERT_TRUE(before) << before.error().to_string();
  EXPECT_NE(before->find("before the rotation"), std::string::npos) << *before;

  auto key_id = stack_->rotate_gateway_key();
  ASSERT_TRUE(key_id) << key_id.error().to_string();
  // The gateway now lists only the new key: the client's key is gone, not merely older.
  auto listed = net::fetch_blocking(net::ClientRequest("GET", stack_->url("gateway") + "/ohttp-keys"));
  ASSERT_TRUE(listed && listed->status == 200);
  auto configs = wire::ohttp::parse_key_configs(listed->body, /*skip_unsupported=*/true);
  ASSERT_TRUE(configs) << configs.error().to_string();
  ASSERT_EQ(configs->size(), 1u);
  EXPECT_EQ(static_cast<int>(configs->front().key_id), *key_id);

  // The same Client object: its first request under the old key is refused, it re-reads the AuthBank's verified
  // bundle once and sends again under the new key.
  auto after = c->chat("after the rotation");
  ASSERT_TRUE(after) << after.error().to_string();
  EXPECT_NE(after->find("after the rotation"), std::string::npos) << *after;
  EXPECT_GE(gateway_key_errors(), 1) << "the old key was never tried: this proves nothing";
  auto again = c->chat("and once more");
  ASSERT_TRUE(again) << again.error().to_string();
  expect_money_conserved(*c);
}

TEST_F(FaultsTest, LockedMoneyDatabaseIsAClear503NothingHalfWrittenAndRecovers) {
  auto c = long_lived_client("locked");
  ASSERT_TRUE(c) << c.error().to_string();
  auto before = c->chat("before the lock");
  ASSERT_TRUE(before) << before.error().to_string();
  expect_books_consistent();
  {
    SqliteWriteLock lock(money_db());
    ASSERT_TRUE(lock.locked()) << lock.error();
    // The long-lived client has credits in hand: the router cannot record the spend, answers 503 and keeps none.
    auto refused = c->chat("while the database is locked");
    ASSERT_FALSE(refused) << *refused;
    expect_storage_refusal(refused.error());

    // A new `openpcc chat` cannot even be authenticated (the AuthBank records each key's use): a clear error, in
    // bounded time (the database's busy timeout and retries), not a hang.
    BackgroundCommand chat_cmd({"chat", "--config", stack_->client_config().string(), "--max-tokens", "8",
                                "while the database is locked"},
                               dir_->path() / "locked.out", dir_->path() / "locked.err");
    ASSERT_TRUE(chat_cmd.started());
    EXPECT_EQ(chat_cmd.wait(120s), 1) << chat_cmd.out() << chat_cmd.err();
    EXPECT_NE(chat_cmd.err().find("auth: "), std::string::npos) << chat_cmd.err();
    EXPECT_NE(chat_cmd.err().find("temporarily unavailable"), std::string::npos) << chat_cmd.err();
  }
  expect_books_consistent();

  // The lock is gone: both the CLI and the long-lived client work again.
  auto cli = chat("after the lock");
  EXPECT_EQ(cli.status, 0) << cli.out;
  EXPECT_NE(cli.out.find("after the lock"), std::string::npos) << cli.out;
  auto after = c->chat("after the lock");
  ASSERT_TRUE(after) << after.error().to_string();
  EXPECT_NE(after->find("after the lock"), std::string::npos) << *after;
  expect_money_conserved(*c);
  expect_books_consistent();
}

TEST_F(FaultsTest, FullDiskUnderTheMoneyDatabaseIsAClear503NothingHalfWrittenAndRecovers) {
  auto c = long_lived_client("full-disk");
  ASSERT_TRUE(c) << c.error().to_string();
  auto before = c->chat("before the disk filled up");
  ASSERT_TRUE(before) << before.error().to_string();
  const std::vector<pid_t> writers = {pid_of("authbank"), pid_of("blindbank"), pid_of("router")};
  for (pid_t pid : writers) ASSERT_GT(pid, 0);
  {
    FullDisk full(writers);  // every process that writes the money database
    ASSERT_EQ(full.error(), "");
    auto refused = c->chat("while the disk is full");
    ASSERT_FALSE(refused) << *refused;
    expect_storage_refusal(refused.error());

    BackgroundCommand chat_cmd({"chat", "--config", stack_->client_config().string(), "--max-tokens", "8",
                                "while the disk is full"},
                               dir_->path() / "full.out", dir_->path() / "full.err");
    ASSERT_TRUE(chat_cmd.started());
    EXPECT_EQ(chat_cmd.wait(120s), 1) << chat_cmd.out() << chat_cmd.err();
    EXPECT_NE(chat_cmd.err().find("auth: "), std::string::npos) << chat_cmd.err();
    EXPECT_NE(chat_cmd.err().find("temporarily unavailable"), std::string::npos) << chat_cmd.err();
    // Still running: a full disk is an error, not a kill (SIGXFSZ is ignored).
    for (pid_t pid : writers) EXPECT_EQ(::kill(pid, 0), 0) << "process " << pid << " died";
  }
  expect_books_consistent();

  auto cli = chat("after space was freed");
  EXPECT_EQ(cli.status, 0) << cli.out;
  EXPECT_NE(cli.out.find("after space was freed"), std::string::npos) << cli.out;
  auto after = c->chat("after space was freed");
  ASSERT_TRUE(after) << after.error().to_string();
  expect_money_conserved(*c);
  expect_books_consistent();
}

}  // namespace
}  // namespace openpcc

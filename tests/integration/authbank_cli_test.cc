// The real `openpcc` binary: `openpcc authbank admin …` on a temporary SQLite database, and `openpcc authbank
// --config` as a process served over HTTPS (self-signed certificate) to AuthBankClient, with admin commands changing
// the same database while it runs, and a graceful SIGTERM.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "currency/credit_request.h"
#include "currency/credit_verifier.h"
#include "net/client.h"
#include "net/runtime.h"
#include "services/authbank/authbank_client.h"
#include "services/authbank/authbank_service.h"
#include "services/common/http_transport.h"
#include "services/common/key_files.h"
#include "support/temp_dir.h"

namespace openpcc::authbank {
namespace {

using namespace std::chrono_literals;

struct Output {
  int status = -1;  // exit code, or 128 + signal
  std::string out;
  std::string err;
};

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// A child process running the openpcc binary with `args`, stdout and stderr on pipes.
class Child {
 public:
  explicit Child(const std::vector<std::string>& args) {
    int out[2], err[2];
    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) return;
    std::vector<std::string> argv = {OPENPCC_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> raw;
    for (auto& a : argv) raw.push_back(a.data());
    raw.push_back(nullptr);
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], 1);
      dup2(err[1], 2);
      execv(raw[0], raw.data());
      _exit(127);
    }
    ::close(out[1]);
    ::close(err[1]);
    out_ = out[0];
    err_ = err[0];
  }
  ~Child() {
    if (pid_ > 0 && status_ < 0) {
      ::kill(pid_, SIGKILL);
      wait();
    }
    close_fd(out_);
    close_fd(err_);
  }

  pid_t pid() const { return pid_; }

  // Reads stdout until a full line arrives or `timeout` passes; "" on timeout or EOF.
  std::string read_line(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      if (auto nl = out_buffer_.find('\n'); nl != std::string::npos) {
        std::string line = out_buffer_.substr(0, nl);
        out_buffer_.erase(0, nl + 1);
        return line;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                                std::chrono::steady_clock::now());
      if (left <= 0ms) return "";
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buffer[4096];
      ssize_t n = ::read(out_, buffer, sizeof buffer);
      if (n <= 0) return "";
      out_buffer_.append(buffer, static_cast<size_t>(n));
    }
  }

  // Collects the rest of both streams and the exit status.
  Output wait() {
    Output o;
    o.out = out_buffer_ + drain(out_);
    o.err = drain(err_);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    o.status = status_;
    return o;
  }

 private:
  static std::string drain(int& fd) {
    std::string all;
    if (fd < 0) return all;
    char buffer[4096];
    ssize_t n;
    while ((n = ::read(fd, buffer, sizeof buffer)) > 0) all.append(buffer, static_cast<size_t>(n));
    close_fd(fd);
    return all;
  }

  pid_t pid_ = -1;
  int out_ = -1;
  int err_ = -1;
  int status_ = -1;
  std::string out_buffer_;
};

Output run(const std::vector<std::string>& args) { return Child(args).wait(); }

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string test_key_pem() { return read_file(std::string(OPENPCC_TEST_DATA_DIR) + "/authbank-currency-key-1024.pem"); }

class AuthBankCli : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    config_ = (dir_ / "authbank.json").string();
    ASSERT_TRUE(services::write_secret_file_atomically(dir_ / "currency.key", as_bytes(test_key_pem())).has_value());
    nlohmann::json json = {
        {"listen", "127.0.0.1:0"},
        {"database", "sqlite:money.db"},
        {"relays", {"https://relay.example"}},
        {"tls", {{"self_signed", true}}},
        {"log_level", "info"},
    };
    std::ofstream(config_) << json.dump(2);
  }

  Output admin(std::vector<std::string> args) {
    args.insert(args.begin(), {"authbank", "admin"});
    args.push_back("--config");
    args.push_back(config_);
    return run(args);
  }

  int64_t create_account(const std::string& label, const std::string& models) {
    auto o = admin({"create-account", "--org", "acme", "--label", label, "--models", models});
    EXPECT_EQ(o.status, 0) << o.err;
    std::smatch m;
    EXPECT_TRUE(std::regex_search(o.out, m, std::regex(R"(^created account (\d+) )"))) << o.out;
    return m.empty() ? -1 : std::stoll(m[1]);
  }

  std::string issue_key(int64_t account, const std::string& expires_in = "90d") {
    auto o = admin({"issue-key", "--account", std::to_string(account), "--expires-in", expires_in});
    EXPECT_EQ(o.status, 0) << o.err;
    EXPECT_TRUE(std::regex_match(o.out, std::regex(R"(opcc_[A-Za-z0-9_-]{43}\n)"))) << o.out;
    return o.out.substr(0, o.out.size() - 1);
  }

  openpcc::test_support::TempDir dir_;
  std::string config_;
};

TEST_F(AuthBankCli, AdminCommands) {
  const int64_t id = create_account("alice", "qwen3:1.7b,llama3:8b");
  EXPECT_EQ(id, 1);
  EXPECT_EQ(create_account("bob", ""), 2);

  auto issued = admin({"issue-key", "--account", "1"});
  ASSERT_EQ(issued.status, 0) << issued.err;
  ASSERT_TRUE(std::regex_match(issued.out, std::regex(R"(opcc_[A-Za-z0-9_-]{43}\n)"))) << issued.out;
  const std::string key = issued.out.substr(0, issued.out.size() - 1);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(issued.err, m, std::regex(R"(key id ([0-9a-f]{16}) for account 1, expires \d{4}-)")))
      << issued.err;
  const std::string key_id = m[1];
  EXPECT_EQ(key_id, ApiKey::parse(key)->id());

  auto funds = admin({"add-funds", "--account", "1", "--amount", "5000"});
  EXPECT_EQ(funds.status, 0) << funds.err;
  EXPECT_EQ(funds.out, "account 1 balance 5000\n");
  EXPECT_EQ(admin({"add-funds", "--account", "1", "--amount", "12"}).out, "account 1 balance 5012\n");
  EXPECT_EQ(admin({"balance", "--account", "1"}).out, "5012\n");
  EXPECT_EQ(admin({"balance", "--account", "2"}).out, "0\n");

  auto list = admin({"list-accounts"});
  EXPECT_EQ(list.status, 0) << list.err;
  EXPECT_TRUE(std::regex_search(list.out, std::regex(R"(\n1 +acme +alice +5012 +1 .*llama3:8b,qwen3:1\.7b)")))
      << list.out;
  EXPECT_TRUE(std::regex_search(list.out, std::regex(R"(\n2 +acme +bob +0 +0 )"))) << list.out;

  // The key is stored only as its hash: nowhere in the database files.
  for (const auto& entry : std::filesystem::directory_iterator(dir_.path())) {
    if (entry.path().filename().string().starts_with("money.db")) {
      EXPECT_EQ(read_file(entry.path()).find(key.substr(5)), std::string::npos) << entry.path();
    }
  }

  auto revoked = admin({"revoke-key", "--key-id", key_id});
  EXPECT_EQ(revoked.status, 0) << revoked.err;
  EXPECT_EQ(revoked.out, "revoked key " + key_id + "\n");
  EXPECT_TRUE(std::regex_search(admin({"list-accounts"}).out, std::regex(R"(\n1 +acme +alice +5012 +0 )")));

  auto never = admin({"issue-key", "--account", "2", "--expires-in", "never"});
  EXPECT_EQ(never.status, 0);
  EXPECT_NE(never.err.find("never expires"), std::string::npos);

  // Failures: a message on stderr, exit status 1, nothing on stdout.
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"revoke-key", "--key-id", "0000000000000000"},
           {"issue-key", "--account", "9"},
           {"issue-key", "--account", "1", "--expires-in", "soon"},
           {"add-funds", "--account", "1", "--amount", "0"},
           {"add-funds", "--account", "9", "--amount", "5"},
           {"balance", "--account", "9"},
           {"create-account", "--org", "", "--label", "x"},
       }) {
    auto o = admin(args);
    EXPECT_EQ(o.status, 1) << args[0] << ": " << o.out << o.err;
    EXPECT_TRUE(o.out.empty()) << o.out;
    EXPECT_NE(o.err.find("error"), std::string::npos) << o.err;
  }
  EXPECT_EQ(admin({"balance", "--account", "1"}).out, "5012\n");
  EXPECT_NE(run({"authbank", "admin", "balance", "--account", "1", "--config", (dir_ / "missing.json").string()})
                .status,
            0);
}

TEST_F(AuthBankCli, ExampleConfigIsValid) {
  auto o = run({"authbank", "--print-example-config"});
  ASSERT_EQ(o.status, 0);
  std::ofstream(dir_ / "example.json") << o.out;
  auto config = load_service_config(dir_ / "example.json");
  ASSERT_TRUE(config.has_value()) << config.error().to_string();
  EXPECT_EQ(config->port, 8443);
  EXPECT_TRUE(config->tls.has_value());
  EXPECT_EQ(config->database, "sqlite:" + (dir_ / "money.db").string());
  EXPECT_EQ(config->currency_key_bundle, dir_ / "currency-key.bundle.json");
  EXPECT_EQ(config->ohttp_keys_bundle, dir_ / "ohttp-keys.bundle.json");
  auto no_config = run({"authbank"});
  EXPECT_EQ(no_config.status, 1);
  EXPECT_NE(no_config.err.find("--config"), std::string::npos);
}

TEST_F(AuthBankCli, ServesOverHttpsAndStopsOnSigterm) {
  const int64_t account = create_account("alice", "llama3:8b");
  const std::string key = issue_key(account);
  ASSERT_EQ(admin({"add-funds", "--account", std::to_string(account), "--amount", "1000"}).status, 0);

  Child server({"authbank", "--config", config_});
  const std::string line = server.read_line(60s);
  std::smatch m;
  ASSERT_TRUE(std::regex_match(line, m, std::regex(R"(listening on (https://127\.0\.0\.1:\d+))"))) << line;
  const std::string url = m[1];
  ASSERT_TRUE(std::filesystem::exists(dir_ / "authbank-tls-cert.pem"));
  EXPECT_TRUE(std::filesystem::exists(dir_ / "badge.key"));

  net::Runtime rt(1);
  net::ClientOptions options;
  options.ca_file = (dir_ / "authbank-tls-cert.pem").string();
  AuthBankClient bank(services::direct_transport(net::Client::create(options).value()), url, key);

  auto config = rt.block_on([&]() -> net::Task<Result<pb::AuthConfigResponse>> { co_return co_await bank.config(); });
  ASSERT_TRUE(config.has_value()) << config.error().to_string();
  EXPECT_EQ(config->relays(0).url(), "https://relay.example");
  // No bundles configured: none sent (the currency key reaches clients only as a signed statement).
  EXPECT_FALSE(config->has_currency_key_bundle());
  EXPECT_FALSE(config->has_ohttp_key_configs_bundle());
  auto private_key = crypto::RsaPrivateKey::from_pem(test_key_pem());
  ASSERT_TRUE(private_key.has_value());
  const crypto::RsaPublicKey currency_key_value = private_key->public_key();
  const crypto::RsaPublicKey* currency_key = &currency_key_value;

  const auto value = *currency::Value::from_amount(400);
  auto pending = currency::begin_credit(*currency_key, value).value();
  auto got = rt.block_on([&]() -> net::Task<Result<BlindSignature>> {
    co_return co_await bank.withdraw(value, pending.blinded_message());
  });
  ASSERT_TRUE(got.has_value()) << got.error().to_string();
  auto credit = pending.finish(got->blind_signature);
  ASSERT_TRUE(credit.has_value());
  EXPECT_TRUE(currency::CreditVerifier::create(*currency_key)->verify(*credit, currency::unix_now()).has_value());
  EXPECT_EQ(admin({"balance", "--account", std::to_string(account)}).out, "600\n");

  // Funds added and keys revoked by the admin command take effect in the running service.
  ASSERT_EQ(admin({"add-funds", "--account", std::to_string(account), "--amount", "400"}).status, 0);
  auto refunded = rt.block_on([&]() -> net::Task<Status> { co_return co_await bank.refund(*credit); });
  ASSERT_TRUE(refunded.has_value()) << refunded.error().to_string();
  EXPECT_EQ(admin({"balance", "--account", std::to_string(account)}).out, "1400\n");
  ASSERT_EQ(admin({"revoke-key", "--key-id", ApiKey::parse(key)->id()}).status, 0);
  auto denied = rt.block_on([&]() -> net::Task<Result<pb::AuthConfigResponse>> { co_return co_await bank.config(); });
  ASSERT_FALSE(denied.has_value());
  EXPECT_EQ(denied.error().code, ErrorCode::kUnauthenticated);

  ASSERT_EQ(::kill(server.pid(), SIGTERM), 0);
  Output done = server.wait();
  EXPECT_EQ(done.status, 0) << done.err;
  EXPECT_NE(done.err.find("shutting down"), std::string::npos) << done.err;
  // The log names accounts and outcomes, never the key.
  EXPECT_NE(done.err.find("withdraw account=" + std::to_string(account) + " amount=400 ok"), std::string::npos)
      << done.err;
  EXPECT_EQ(done.err.find(key.substr(5)), std::string::npos);
}

}  // namespace
}  // namespace openpcc::authbank

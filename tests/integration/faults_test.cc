// Faults on the whole stack as processes (devstack::DevStack): a node killed while it streams an answer, and a
// router restarted under running nodes. What the user sees and what happens to the money is asserted; the outcomes
// are documented in docs/ROUTER.md ("Forwarding outcomes").
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "devstack/dev_stack.h"
#include "support/service_process.h"
#include "support/temp_dir.h"

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
  auto again = chat("after the node came back");
  EXPECT_EQ(again.status, 0) << again.out;
}

}  // namespace
}  // namespace openpcc

// `openpcc chat` / `openpcc complete` without a stack: the exit statuses and messages of usage and config errors
// (2) and of a request that fails at its first step (1, naming the step). The request path itself is tested with
// the SDK in tests/unit/client (full_stack_test.cc runs the whole stack in process).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "common/random.h"

namespace openpcc::cli {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// A valid signed-note verifier key (any log: nothing here gets as far as checking a bundle).
constexpr char kLogKey[] = "openpcc-dev.local/log+16275124+AVDxBzAYDEhgg+3JslFR/G+rWCT7LwsSfEl1uIrPWaRw";

struct Run {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

Run run_openpcc(const std::vector<std::string>& args, const std::vector<std::pair<std::string, std::string>>& env = {},
                const fs::path& cwd = {}) {
  Run result;
  int fds[2];
  EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  std::vector<std::string> storage = {OPENPCC_BINARY};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    ::dup2(fds[1], STDERR_FILENO);
    ::unsetenv("OPENPCC_CLIENT_CONFIG");
    for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(126);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  bool timed_out = false;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left <= 0ms) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[4096];
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n <= 0) break;
    result.output.append(buf, static_cast<size_t>(n));
  }
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::close(fds[0]);
  EXPECT_FALSE(timed_out);
  if (!timed_out && WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  return result;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

class ChatCommandTest : public ::testing::Test {
 protected:
  void SetUp() override { fs::create_directories(dir_); }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::binary | std::ios::trunc) << text;
  }
  // A client config whose trust policy has a transparency section, pointing at an AuthBank that is not there.
  fs::path config(const std::string& authbank_url, bool transparency = true) {
    auto keygen = run_openpcc({"keygen", "badge", "--out", (dir_ / "publisher.key").string()});
    EXPECT_EQ(keygen.exit_code, 0) << keygen.output;
    if (transparency) {
      write("trust.json", std::string(R"({"transparency": {"log_key": ")") + kLogKey +
                              R"(", "publisher_keys": ["publisher.key.pub"]}})");
    } else {
      write("trust.json", "{}");
    }
    write("client.json", R"({"authbank_url": ")" + authbank_url +
                             R"(", "api_key": "k", "trust_policy": "trust.json", "wallet": {"state_file": "w.state"}})");
    return dir_ / "client.json";
  }

  fs::path dir_ = fs::temp_directory_path() / ("openpcc-chat-" + to_hex(random_bytes(6)));
};

TEST_F(ChatCommandTest, HelpNamesTheOptionsAndExitStatuses) {
  for (const char* cmd : {"chat", "complete"}) {
    auto run = run_openpcc({cmd, "--help"});
    EXPECT_EQ(run.exit_code, 0) << run.output;
    for (const char* word : {"--config", "--model", "--max-tokens", "--json", "--quiet", "OPENPCC_CLIENT_CONFIG",
                             "trust_policy", "Exit status"}) {
      EXPECT_TRUE(contains(run.output, word)) << cmd << " --help lacks " << word;
    }
  }
}

TEST_F(ChatCommandTest, UsageAndConfigErrorsExit2) {
  auto run = run_openpcc({"chat"});
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_TRUE(contains(run.output, "a prompt is required")) << run.output;

  // Default config path: ./openpcc-dev/client.json, relative to the working directory.
  run = run_openpcc({"chat", "hello"}, {}, dir_);
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_TRUE(contains(run.output, "openpcc-dev/client.json")) << run.output;

  // $OPENPCC_CLIENT_CONFIG, then --config over it.
  run = run_openpcc({"complete", "hello"}, {{"OPENPCC_CLIENT_CONFIG", (dir_ / "from-env.json").string()}});
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_TRUE(contains(run.output, "from-env.json")) << run.output;
  run = run_openpcc({"complete", "--config", (dir_ / "flag.json").string(), "hello"},
                    {{"OPENPCC_CLIENT_CONFIG", (dir_ / "from-env.json").string()}});
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_TRUE(contains(run.output, "flag.json")) << run.output;

  write("bad.json", R"({"authbank_url": "https://x", "unknown_key": 1})");
  run = run_openpcc({"chat", "--config", (dir_ / "bad.json").string(), "hello"});
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_TRUE(contains(run.output, "unknown_key")) << run.output;

  // A trust policy that cannot verify the AuthBank's keys.
  run = run_openpcc({"chat", "--config", config("https://127.0.0.1:1", false).string(), "hello"});
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_TRUE(contains(run.output, "transparency")) << run.output;
}

TEST_F(ChatCommandTest, AnUnreachableAuthBankIsAnAuthFailure) {
  auto run = run_openpcc({"chat", "--config", config("http://127.0.0.1:1").string(), "hello"});
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_TRUE(contains(run.output, "request failed: auth: ")) << run.output;
}

}  // namespace
}  // namespace openpcc::cli

// Runs the real `openpcc` binary for process-level tests: one-shot commands (run_openpcc) and long-running services
// (ServiceProcess, which waits for the "listening on URL" line every service prints on stdout once bound).
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/error.h"

extern char** environ;

namespace openpcc::test_support {

struct CommandOutput {
  int status = -1;  // exit code, or 128 + signal
  std::string out;
};

// Runs `openpcc args...` to completion (stderr is left to the test's log); stdout is returned.
inline CommandOutput run_openpcc(const std::vector<std::string>& args) {
  CommandOutput result;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return result;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  std::vector<std::string> all{OPENPCC_BINARY};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    return result;
  }
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0) result.out.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

// A service process (`openpcc <service> --config FILE`); killed with SIGKILL when destroyed unless stopped first.
class ServiceProcess {
 public:
  ServiceProcess() = default;
  ServiceProcess(const ServiceProcess&) = delete;
  ServiceProcess& operator=(const ServiceProcess&) = delete;
  ~ServiceProcess() { kill_now(); }

  // Starts it with stderr appended to `log_path` and returns the URL from its "listening on URL" line.
  Result<std::string> start(const std::vector<std::string>& args, const std::string& log_path,
                            std::chrono::seconds timeout = std::chrono::seconds(60)) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return make_error(ErrorCode::kIo, "pipe");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    std::vector<std::string> all{OPENPCC_BINARY};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    if (rc != 0) {
      close(fds[0]);
      pid_ = -1;
      return make_error(ErrorCode::kIo, "posix_spawn failed");
    }
    std::string line;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      pollfd p{fds[0], POLLIN, 0};
      if (poll(&p, 1, 200) <= 0) continue;
      char buf[256];
      const ssize_t n = read(fds[0], buf, sizeof buf);
      if (n <= 0) break;  // exited
      line.append(buf, static_cast<size_t>(n));
    }
    close(fds[0]);
    constexpr std::string_view kPrefix = "listening on ";
    const auto newline = line.find('\n');
    const auto at = line.find(kPrefix);
    if (newline == std::string::npos || at == std::string::npos || at > newline) {
      kill_now();
      return make_error(ErrorCode::kUnavailable, "service did not start (see " + log_path + "): '" + line + "'");
    }
    return line.substr(at + kPrefix.size(), newline - at - kPrefix.size());
  }

  // SIGTERM, then the exit status (-1 if it did not exit within 20 s; it is killed then).
  int stop() {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    int status = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    kill_now();
    return -1;
  }

  void kill_now() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
};

}  // namespace openpcc::test_support

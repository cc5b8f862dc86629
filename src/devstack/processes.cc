#include "devstack/processes.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/loopback_port.h"

namespace openpcc::devstack {
namespace {

std::vector<char*> to_argv(std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  return argv;
}

// Child side of a fork: redirect, then exec. Only async-signal-safe calls.
[[noreturn]] void exec_child(char* const* argv, int out_fd, bool new_session) {
  if (new_session) setsid();
  const int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd >= 0) dup2(null_fd, STDIN_FILENO);
  dup2(out_fd, STDOUT_FILENO);
  dup2(out_fd, STDERR_FILENO);
  // Services block SIGINT/SIGTERM themselves; start from a clean mask.
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  execv(argv[0], argv);
  _exit(127);
}

bool exited(pid_t pid) {
  int status = 0;
  const pid_t r = waitpid(pid, &status, WNOHANG);
  if (r == pid) return true;
  if (r < 0 && errno == ECHILD) return kill(pid, 0) != 0;  // not our child: gone when kill fails
  return false;
}

}  // namespace

std::string self_binary() {
  std::error_code ec;
  auto path = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("openpcc") : path.string();
}

Result<pid_t> spawn_detached(const std::vector<std::string>& argv_in, const std::filesystem::path& log) {
  const int out = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (out < 0) return make_error(ErrorCode::kIo, "cannot open " + log.string() + ": " + std::strerror(errno));
  auto args = argv_in;
  auto argv = to_argv(args);
  const pid_t pid = fork();
  if (pid == 0) exec_child(argv.data(), out, /*new_session=*/true);
  close(out);
  if (pid < 0) return make_error(ErrorCode::kIo, std::string("fork: ") + std::strerror(errno));
  return pid;
}

uint64_t file_size_or_zero(const std::filesystem::path& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  return ec ? 0 : size;
}

std::string tail_of(const std::filesystem::path& path, size_t lines) {
  std::ifstream in(path);
  std::vector<std::string> all;
  for (std::string line; std::getline(in, line);) all.push_back(line);
  std::string out;
  for (size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i) out += "  " + all[i] + "\n";
  return out;
}

Result<std::string> wait_for_listening(pid_t pid, const std::filesystem::path& log, uint64_t offset,
                                       std::chrono::milliseconds timeout) {
  constexpr std::string_view kPrefix = "listening on ";
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    std::ifstream in(log, std::ios::binary);
    if (in) {
      in.seekg(static_cast<std::streamoff>(offset));
      for (std::string line; std::getline(in, line);) {
        if (line.starts_with(kPrefix) && in) return line.substr(kPrefix.size());  // a complete line
      }
    }
    if (exited(pid)) {
      return make_error(ErrorCode::kUnavailable,
                        "exited before it was ready; last lines of " + log.string() + ":\n" + tail_of(log, 12));
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return make_error(ErrorCode::kUnavailable,
                        "not ready after " + std::to_string(timeout.count() / 1000) + " s; last lines of " +
                            log.string() + ":\n" + tail_of(log, 12));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

bool process_running(pid_t pid, std::string_view expected) {
  if (pid <= 0 || kill(pid, 0) != 0) return false;
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string cmdline = ss.str();
  for (char& c : cmdline) {
    if (c == '\0') c = ' ';
  }
  // A zombie has an empty command line: it is not running any more.
  return !cmdline.empty() && cmdline.find(expected) != std::string::npos;
}

void stop_process(pid_t pid, std::chrono::milliseconds grace) {
  if (pid <= 0) return;
  kill(pid, SIGTERM);
  const auto term_deadline = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < term_deadline) {
    if (exited(pid)) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  kill(pid, SIGKILL);
  const auto kill_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (std::chrono::steady_clock::now() < kill_deadline) {
    if (exited(pid)) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
}

Result<std::string> run_to_completion(const std::vector<std::string>& argv_in, const std::filesystem::path& log) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return make_error(ErrorCode::kIo, "pipe failed");
  const int err = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (err < 0) {
    close(fds[0]);
    close(fds[1]);
    return make_error(ErrorCode::kIo, "cannot open " + log.string());
  }
  auto args = argv_in;
  auto argv = to_argv(args);
  const pid_t pid = fork();
  if (pid == 0) {
    const int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null_fd >= 0) dup2(null_fd, STDIN_FILENO);
    dup2(fds[1], STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(fds[1]);
  close(err);
  if (pid < 0) {
    close(fds[0]);
    return make_error(ErrorCode::kIo, "fork failed");
  }
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = read(fds[0], buf, sizeof buf);
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string command;
    for (const auto& a : argv_in) command += (command.empty() ? "" : " ") + a;
    return make_error(ErrorCode::kInternal, "`" + command + "` failed; last lines of " + log.string() + ":\n" +
                                                tail_of(log, 12) + out);
  }
  return out;
}

bool tcp_port_open(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

Result<int> free_port() { return pick_loopback_port(1); }

Result<int> free_port_pair() { return pick_loopback_port(2); }

}  // namespace openpcc::devstack

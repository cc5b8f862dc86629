// A throwaway software TPM 2.0 (swtpm) for one test or benchmark, so that TPM code runs against a real TPM
// implementation (libtpms) and nothing is mocked.
//
//   auto tpm = openpcc::test_support::Swtpm::start();
//   ASSERT_TRUE(tpm) << tpm.error().to_string();
//   auto device = openpcc::tpm::TpmDevice::open(*openpcc::tpm::TctiConfig::parse((*tpm)->tcti()));
//
// Each Swtpm is its own process with fresh state in its own temporary directory:
//   swtpm socket --tpm2 --tpmstate dir=<dir> --server type=tcp,port=P,bindaddr=127.0.0.1
//                --ctrl type=tcp,port=P+1,bindaddr=127.0.0.1 --flags not-need-init,startup-clear
// on a free consecutive port pair on loopback (tpm2-tss's swtpm TCTI uses port and port + 1). start() returns once
// the server accepts connections. The destructor stops the process (SIGTERM, then SIGKILL after 2 s), reaps it and
// deletes the directory, also when a test assertion fails. If the test process dies without running destructors
// (crash, SIGKILL), the kernel kills swtpm too (PR_SET_PDEATHSIG); only the small state directory is left behind.
// PR_SET_PDEATHSIG fires when the *thread* that started swtpm exits, so start it from a thread that outlives it
// (a test body, a benchmark's main thread), not from a short-lived worker.
//
// Works as root and as an ordinary user (swtpm needs no privileges). If swtpm is missing the error says so:
// scripts/setup.sh installs it (Debian package swtpm). Tests must fail then, not skip.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "common/loopback_port.h"

namespace openpcc::test_support {

class Swtpm {
 public:
  static Result<std::unique_ptr<Swtpm>> start() {
    auto binary = find_swtpm();
    if (!binary) return std::unexpected(failure("no swtpm binary on PATH"));
    std::string last_error = "no free port pair";
    // Another process can take the ports between our probe and swtpm's bind: try a few pairs.
    for (int attempt = 0; attempt < 8; ++attempt) {
      int port = free_port_pair();
      if (port <= 0) continue;
      std::unique_ptr<Swtpm> tpm(new Swtpm());
      std::string tmpl = (std::filesystem::temp_directory_path() / "openpcc-swtpm-XXXXXX").string();
      if (!mkdtemp(tmpl.data())) return std::unexpected(failure("mkdtemp failed"));
      tpm->dir_ = tmpl;
      tpm->port_ = port;
      tpm->binary_ = *binary;
      auto started = tpm->spawn();
      if (started) return tpm;
      last_error = started.error().message;
      // ~Swtpm cleans up this attempt.
    }
    return std::unexpected(Error{ErrorCode::kUnavailable, last_error});
  }

  Swtpm(const Swtpm&) = delete;
  Swtpm& operator=(const Swtpm&) = delete;

  ~Swtpm() {
    stop();
    std::error_code ignored;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
  }

  // "swtpm:host=127.0.0.1,port=<P>", for tpm::TctiConfig::parse.
  std::string tcti() const { return "swtpm:host=127.0.0.1,port=" + std::to_string(port_); }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  const std::filesystem::path& state_dir() const { return dir_; }

  // A power cycle: stops swtpm and starts it again on the same ports and state directory. Persistent objects and
  // NV survive; PCRs, sessions and transient objects do not (like a machine reboot). Existing TPM connections break.
  Status restart() {
    stop();
    return spawn();
  }

  // Stops swtpm and reaps it (idempotent). The state directory stays until destruction.
  void stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    bool reaped = false;
    for (int i = 0; i < 200 && !reaped; ++i) {
      reaped = try_reap();
      if (!reaped) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (!reaped) {
      kill(pid_, SIGKILL);
      int status = 0;
      while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
    }
    pid_ = -1;
  }

 private:
  Swtpm() = default;

  static Error failure(std::string what) {
    return Error{ErrorCode::kUnavailable,
                 "test swtpm: " + what + " (scripts/setup.sh installs swtpm: the Debian package swtpm)"};
  }

  static std::optional<std::string> find_swtpm() {
    const char* path = getenv("PATH");
    std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
    std::stringstream ss(dirs);
    std::string dir;
    while (std::getline(ss, dir, ':')) {
      if (dir.empty()) continue;
      std::string candidate = dir + "/swtpm";
      if (access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    return std::nullopt;
  }

  // P such that P and P + 1 are both free on 127.0.0.1 right now (below the ephemeral range: see loopback_port.h).
  static int free_port_pair() {
    auto port = openpcc::pick_loopback_port(2);
    return port ? *port : -1;
  }

  static bool accepts(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    close(fd);
    return ok;
  }

  // true once the child has exited and been reaped.
  bool try_reap() {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    return r == pid_ || (r < 0 && errno == ECHILD);
  }

  std::string log_tail() const {
    std::ifstream in(dir_ / "swtpm.log");
    std::stringstream ss;
    ss << in.rdbuf();
    std::string s = ss.str();
    if (s.size() > 2000) s = "..." + s.substr(s.size() - 2000);
    return s;
  }

  Status spawn() {
    const std::string log = (dir_ / "swtpm.log").string();
    std::vector<std::string> argv = {binary_,
                                     "socket",
                                     "--tpm2",
                                     "--tpmstate",
                                     "dir=" + dir_.string(),
                                     "--server",
                                     "type=tcp,port=" + std::to_string(port_) + ",bindaddr=127.0.0.1",
                                     "--ctrl",
                                     "type=tcp,port=" + std::to_string(port_ + 1) + ",bindaddr=127.0.0.1",
                                     "--flags",
                                     "not-need-init,startup-clear"};
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    int out = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    const pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
      // Only async-signal-safe calls between fork and exec.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(126);  // the parent died before prctl took effect
      if (out >= 0) {
        dup2(out, 1);
        dup2(out, 2);
      }
      if (devnull >= 0) dup2(devnull, 0);
      execv(args[0], args.data());
      _exit(127);
    }
    if (out >= 0) close(out);
    if (devnull >= 0) close(devnull);
    if (pid < 0) return std::unexpected(failure("fork failed"));
    pid_ = pid;

    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (std::chrono::steady_clock::now() < deadline) {
      if (try_reap()) {
        pid_ = -1;
        return std::unexpected(failure("swtpm exited during startup:\n" + log_tail()));
      }
      if (accepts(port_) && accepts(port_ + 1)) return {};
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return std::unexpected(failure("swtpm did not accept connections within 15 s:\n" + log_tail()));
  }

  std::string binary_;
  std::filesystem::path dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace openpcc::test_support

// `openpcc keygen`: runs the real binary with stderr on a pipe and on a pseudo-terminal, checks what it prints, the
// files it writes (modes, loadable keys) and that it never replaces a key without --force.
//
// Safe-prime generation at 1024 bits takes 0.2-0.3 s on the development machine; each run gets a generous
// deadline (kRunTimeout) after which the child is killed and the test fails, rather than hanging ctest.
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
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/random.h"
#include "services/common/key_files.h"

namespace openpcc::cli {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr auto kRunTimeout = 120s;

struct RunResult {
  int exit_code = -1;  // -1: killed (timeout) or did not exit normally
  std::string output;  // stdout and stderr, interleaved
};

// Runs the binary with `args`. With `terminal`, stdout and stderr are a pseudo-terminal; otherwise a pipe.
RunResult run_openpcc(const std::vector<std::string>& args, bool terminal) {
  RunResult result;
  int read_fd = -1, child_fd = -1;
  if (terminal) {
    read_fd = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    EXPECT_GE(read_fd, 0);
    EXPECT_EQ(::grantpt(read_fd), 0);
    EXPECT_EQ(::unlockpt(read_fd), 0);
    child_fd = ::open(::ptsname(read_fd), O_RDWR | O_NOCTTY | O_CLOEXEC);
  } else {
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    read_fd = fds[0];
    child_fd = fds[1];
  }
  EXPECT_GE(child_fd, 0);
  std::vector<std::string> argv_storage = {OPENPCC_BINARY};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);

  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setsid();
    ::dup2(child_fd, STDOUT_FILENO);
    ::dup2(child_fd, STDERR_FILENO);
    const int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, STDIN_FILENO);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(child_fd);
  const auto deadline = std::chrono::steady_clock::now() + kRunTimeout;
  bool timed_out = false;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left <= 0ms) {
      timed_out = true;
      break;
    }
    pollfd p{read_fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[4096];
    const ssize_t n = ::read(read_fd, buf, sizeof buf);
    if (n <= 0) break;  // EOF on the pipe; EIO on the pty once the child has gone
    result.output.append(buf, static_cast<size_t>(n));
  }
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::close(read_fd);
  EXPECT_FALSE(timed_out) << "openpcc did not finish within " << kRunTimeout.count() << " s";
  if (!timed_out && WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  return result;
}

class TempDir {
 public:
  TempDir() : path_(fs::temp_directory_path() / ("openpcc-keygen-" + to_hex(random_bytes(6)))) {
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

mode_t mode_of(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(KeygenCurrency, WritesKeyAndPublicKeyWithoutTerminal) {
  TempDir dir;
  const fs::path key = dir.path() / "currency.key";
  auto run = run_openpcc({"keygen", "currency", "--out", key.string(), "--bits", "1024"}, /*terminal=*/false);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  // Not a terminal: one start line, one done line, no carriage-return redraws.
  EXPECT_TRUE(contains(run.output, "generating a 1024-bit RSA key with safe primes")) << run.output;
  EXPECT_TRUE(contains(run.output, "done in ")) << run.output;
  EXPECT_FALSE(contains(run.output, "\r")) << run.output;
  EXPECT_TRUE(contains(run.output, "private key: " + key.string() + " (mode 0600)")) << run.output;
  EXPECT_TRUE(contains(run.output, "public key:  " + key.string() + ".pub")) << run.output;
  EXPECT_TRUE(contains(run.output, "modulus:     1024 bits")) << run.output;

  EXPECT_EQ(mode_of(key), 0600u);
  EXPECT_EQ(mode_of(services::public_key_path(key)), 0644u);
  auto loaded = services::load_currency_key(key, 1024);  // safe primes, right size, strict mode
  ASSERT_TRUE(loaded.has_value()) << loaded.error().to_string();
  auto pub = crypto::RsaPublicKey::from_pem(read_text(services::public_key_path(key)));
  ASSERT_TRUE(pub.has_value());
  EXPECT_EQ(pub->n, loaded->public_key().n);
  EXPECT_EQ(pub->e, loaded->public_key().e);
}

TEST(KeygenCurrency, RefusesToOverwriteWithoutForce) {
  TempDir dir;
  const fs::path key = dir.path() / "currency.key";
  ASSERT_EQ(run_openpcc({"keygen", "currency", "--out", key.string(), "--bits", "1024"}, false).exit_code, 0);
  const std::string original = read_text(key);

  auto again = run_openpcc({"keygen", "currency", "--out", key.string(), "--bits", "1024"}, false);
  EXPECT_NE(again.exit_code, 0);
  EXPECT_TRUE(contains(again.output, "already exists")) << again.output;
  EXPECT_TRUE(contains(again.output, "--force")) << again.output;
  EXPECT_FALSE(contains(again.output, "generating")) << "must refuse before generating";
  EXPECT_EQ(read_text(key), original);

  auto forced = run_openpcc({"keygen", "currency", "--out", key.string(), "--bits", "1024", "--force"}, false);
  ASSERT_EQ(forced.exit_code, 0) << forced.output;
  EXPECT_NE(read_text(key), original);
  auto loaded = services::load_currency_key(key, 1024);
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->public_key().to_pem().value(), read_text(services::public_key_path(key)));
  EXPECT_EQ(mode_of(key), 0600u);
}

TEST(KeygenCurrency, ShowsProgressOnATerminal) {
  TempDir dir;
  const fs::path key = dir.path() / "currency.key";
  auto run = run_openpcc({"keygen", "currency", "--out", key.string(), "--bits", "1024"}, /*terminal=*/true);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_TRUE(contains(run.output, "generating a 1024-bit RSA key with safe primes (this can take minutes)"));
  // The status line is redrawn in place: carriage return + erase-line, spinner, what is being searched, the time.
  EXPECT_TRUE(contains(run.output, "\r\033[K")) << run.output;
  EXPECT_TRUE(contains(run.output, "searching for p: ")) << run.output;
  EXPECT_TRUE(contains(run.output, "candidates")) << run.output;
  EXPECT_TRUE(contains(run.output, "done in ")) << run.output;
  EXPECT_TRUE(contains(run.output, "modulus:     1024 bits")) << run.output;
  EXPECT_TRUE(services::load_currency_key(key, 1024).has_value());
}

TEST(KeygenCurrency, HelpAndBadArguments) {
  auto help = run_openpcc({"keygen", "currency", "--help"}, false);
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_TRUE(contains(help.output, "safe primes")) << help.output;
  EXPECT_TRUE(contains(help.output, "Why it is slow")) << help.output;
  EXPECT_TRUE(contains(help.output, "--force")) << help.output;

  TempDir dir;
  const std::string out = (dir.path() / "k").string();
  auto odd = run_openpcc({"keygen", "currency", "--out", out, "--bits", "1025"}, false);
  EXPECT_NE(odd.exit_code, 0);
  EXPECT_TRUE(contains(odd.output, "must be even")) << odd.output;
  EXPECT_NE(run_openpcc({"keygen", "currency", "--out", out, "--bits", "512"}, false).exit_code, 0);
  EXPECT_NE(run_openpcc({"keygen", "currency"}, false).exit_code, 0);  // --out is required
  EXPECT_NE(run_openpcc({"keygen"}, false).exit_code, 0);
  EXPECT_FALSE(fs::exists(out));
}

TEST(KeygenBadge, WritesEd25519KeyAndRefusesOverwrite) {
  TempDir dir;
  const fs::path key = dir.path() / "badge.key";
  auto run = run_openpcc({"keygen", "badge", "--out", key.string()}, false);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  auto loaded = services::load_ed25519_key(key);
  ASSERT_TRUE(loaded.has_value()) << loaded.error().to_string();
  EXPECT_TRUE(contains(run.output, "Ed25519 public key (hex): " + to_hex(loaded->public_key().bytes()))) << run.output;
  EXPECT_TRUE(contains(run.output, "public key:  " + key.string() + ".pub")) << run.output;
  EXPECT_EQ(read_text(services::public_key_path(key)), loaded->public_key().to_pem().value());
  EXPECT_EQ(mode_of(key), 0600u);

  const std::string original = read_text(key);
  auto again = run_openpcc({"keygen", "badge", "--out", key.string()}, false);
  EXPECT_NE(again.exit_code, 0);
  EXPECT_TRUE(contains(again.output, "--force")) << again.output;
  EXPECT_EQ(read_text(key), original);
  ASSERT_EQ(run_openpcc({"keygen", "badge", "--out", key.string(), "--force"}, false).exit_code, 0);
  EXPECT_NE(read_text(key), original);
}

TEST(KeygenJwk, WritesTheCurrencyPublicKeyAsAJwk) {
  TempDir dir;
  auto key = crypto::RsaPrivateKey::from_pem(read_text(fs::path(OPENPCC_TEST_DATA_DIR) /
                                                       "authbank-currency-key-1024.pem"));
  ASSERT_TRUE(key.has_value());
  const fs::path pub = dir.path() / "currency.key.pub";
  std::ofstream(pub) << key->public_key().to_pem().value();
  const fs::path out = dir.path() / "currency.jwk";
  auto run = run_openpcc({"keygen", "jwk", "--public-key", pub.string(), "--out", out.string()}, false);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_TRUE(contains(run.output, "jwk: " + out.string())) << run.output;
  EXPECT_TRUE(contains(run.output, "modulus: 1024 bits")) << run.output;
  EXPECT_EQ(mode_of(out), 0644u);

  const std::string text = read_text(out);
  ASSERT_TRUE(text.ends_with("}\n"));
  auto jwk = nlohmann::json::parse(text, nullptr, false);
  ASSERT_TRUE(jwk.is_object()) << text;
  EXPECT_EQ(jwk.size(), 5u);
  EXPECT_EQ(jwk["kty"], "RSA");
  EXPECT_EQ(jwk["use"], "sig");
  EXPECT_EQ(jwk["n"], to_base64url(key->public_key().n));
  EXPECT_EQ(jwk["e"], to_base64url(key->public_key().e));
  EXPECT_TRUE(contains(run.output, "kid: " + jwk["kid"].get<std::string>())) << run.output;
  // Compact, members in ascending order: what the AuthBank's rsa_public_key_to_jwk writes.
  EXPECT_EQ(text, jwk.dump() + "\n");

  // The private key file by mistake: refused with a hint, nothing written.
  const fs::path wrong = dir.path() / "wrong.jwk";
  auto refused = run_openpcc({"keygen", "jwk", "--public-key",
                              (fs::path(OPENPCC_TEST_DATA_DIR) / "authbank-currency-key-1024.pem").string(), "--out",
                              wrong.string()},
                             false);
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_TRUE(contains(refused.output, ".pub")) << refused.output;
  EXPECT_FALSE(fs::exists(wrong));
  EXPECT_NE(run_openpcc({"keygen", "jwk", "--out", wrong.string()}, false).exit_code, 0);  // --public-key required
}

}  // namespace
}  // namespace openpcc::cli

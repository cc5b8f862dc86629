// A throwaway PostgreSQL server for one test (or benchmark) process, so that PostgreSQL code is tested against the
// real thing and nothing is mocked.
//
//   auto url = openpcc::test_support::fresh_postgres_database();   // "postgresql://postgres@127.0.0.1:<port>/<db>"
//   ASSERT_TRUE(url) << url.error().to_string();
//
// The first call finds the newest server under /usr/lib/postgresql/*/bin, sets up a cluster in a fresh temporary
// directory (trust authentication, superuser "postgres", no fsync: test data need not survive a crash; a copy of a
// per-machine template made by initdb once, see copy_template) and starts it with pg_ctl on 127.0.0.1 at a free
// port, its unix socket inside that directory. Each fresh_postgres_database() call creates a new, empty database,
// so tests do not see each other's tables. The server is stopped (`pg_ctl stop -m immediate`) and its directory
// deleted when the process exits, also when it crashes or is killed: a watchdog process waits on a pipe that only
// the test process holds open. The template stays in the temp directory for the next test process.
//
// initdb and postgres refuse to run as root; as root (our CI) they run as the "postgres" user through runuser.
// If PostgreSQL is missing, the error says so: scripts/setup.sh installs it. Tests must fail then, not skip.
//
// The namespace is openpcc::test_support, not ...::testing, so that `testing::` inside namespace openpcc still means
// GoogleTest's.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/loopback_port.h"

namespace openpcc::test_support {

class PostgresServer {
 public:
  // The process's server, started on first use. A failed start is remembered: every caller gets the same error.
  static Result<PostgresServer*> get() {
    static Result<std::unique_ptr<PostgresServer>> server = start();
    if (!server) return std::unexpected(server.error());
    return server->get();
  }

  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  ~PostgresServer() {
    // The watchdog sees the pipe close, stops the server and deletes the directory; wait for it to finish.
    if (watchdog_pipe_ >= 0) close(watchdog_pipe_);
    if (watchdog_pid_ > 0) {
      int status = 0;
      while (waitpid(watchdog_pid_, &status, 0) < 0 && errno == EINTR) {
      }
    }
  }

  int port() const { return port_; }
  std::string url(const std::string& database) const {
    return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + database;
  }

  // Creates a new empty database and returns its URL.
  Result<std::string> create_database() {
    static std::atomic<int> counter{0};
    std::string name = "t" + std::to_string(getpid()) + "_" + std::to_string(counter.fetch_add(1));
    std::unique_ptr<PGconn, void (*)(PGconn*)> conn(PQconnectdb(url("postgres").c_str()), PQfinish);
    if (!conn || PQstatus(conn.get()) != CONNECTION_OK) {
      return make_error(ErrorCode::kUnavailable, "test postgres: connect: " +
                                                     std::string(conn ? PQerrorMessage(conn.get()) : "no memory"));
    }
    std::unique_ptr<PGresult, void (*)(PGresult*)> result(
        PQexec(conn.get(), ("CREATE DATABASE " + name).c_str()), PQclear);
    if (!result || PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
      return make_error(ErrorCode::kInternal,
                        "test postgres: CREATE DATABASE: " + std::string(PQerrorMessage(conn.get())));
    }
    return url(name);
  }

 private:
  PostgresServer() = default;

  static Error failure(std::string what) {
    return Error{ErrorCode::kUnavailable,
                 "test postgres: " + what + " (scripts/setup.sh installs PostgreSQL: the Debian package postgresql)"};
  }

  // The bin directory of the newest installed major version.
  static std::optional<std::filesystem::path> find_bin_dir() {
    std::error_code ec;
    std::optional<std::filesystem::path> best;
    int best_version = -1;
    for (const auto& entry : std::filesystem::directory_iterator("/usr/lib/postgresql", ec)) {
      std::string name = entry.path().filename().string();
      int version = std::atoi(name.c_str());
      std::filesystem::path bin = entry.path() / "bin";
      if (version > best_version && std::filesystem::exists(bin / "initdb") &&
          std::filesystem::exists(bin / "pg_ctl") && std::filesystem::exists(bin / "postgres")) {
        best_version = version;
        best = bin;
      }
    }
    return best;
  }

  static std::optional<std::string> find_runuser() {
    for (const char* p : {"/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser", "/bin/runuser"}) {
      if (access(p, X_OK) == 0) return std::string(p);
    }
    return std::nullopt;
  }

  static int free_port() {
    auto port = openpcc::pick_loopback_port(1);
    return port ? *port : -1;
  }

  static std::string tail_of(const std::filesystem::path& file) {
    std::ifstream in(file);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string s = ss.str();
    if (s.size() > 2000) s = "..." + s.substr(s.size() - 2000);
    return s;
  }

  // Runs argv (as the postgres user when we are root) with output to `log`; returns the exit status.
  int run(std::vector<std::string> argv, const std::filesystem::path& log) const {
    if (!as_user_.empty()) argv.insert(argv.begin(), {runuser_, "-u", as_user_, "--"});
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    int out = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    pid_t pid = fork();
    if (pid == 0) {
      // Only async-signal-safe calls between fork and exec.
      if (out >= 0) {
        dup2(out, 1);
        dup2(out, 2);
      }
      if (devnull >= 0) dup2(devnull, 0);
      if (chdir(dir_.c_str()) != 0) _exit(126);
      execv(args[0], args.data());
      _exit(127);
    }
    if (out >= 0) close(out);
    if (devnull >= 0) close(devnull);
    if (pid < 0) return -1;
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
      if (errno != EINTR) return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  static Result<std::unique_ptr<PostgresServer>> start() {
    auto bin = find_bin_dir();
    if (!bin) return std::unexpected(failure("no initdb/pg_ctl/postgres under /usr/lib/postgresql/*/bin"));
    std::unique_ptr<PostgresServer> server(new PostgresServer());
    server->bin_ = *bin;

    uid_t uid = 0;
    gid_t gid = 0;
    if (geteuid() == 0) {
      // initdb and postgres refuse to run as root.
      passwd* pw = getpwnam("postgres");
      if (!pw) return std::unexpected(failure("running as root, but there is no \"postgres\" user to run the server"));
      auto runuser = find_runuser();
      if (!runuser) return std::unexpected(failure("running as root, but runuser(1) is missing"));
      uid = pw->pw_uid;
      gid = pw->pw_gid;
      server->runuser_ = *runuser;
      server->as_user_ = "postgres";
    }

    std::string tmpl = (std::filesystem::temp_directory_path() / "openpcc-pg-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) return std::unexpected(failure("mkdtemp failed"));
    server->dir_ = tmpl;
    if (!server->as_user_.empty() && chown(tmpl.c_str(), uid, gid) != 0) {
      std::filesystem::remove_all(tmpl);
      return std::unexpected(failure("cannot chown " + tmpl + " to postgres"));
    }
    // From here on the watchdog owns the directory's removal.
    if (auto s = server->start_watchdog(); !s) {
      std::filesystem::remove_all(tmpl);
      return std::unexpected(s.error());
    }

    const std::filesystem::path data = server->dir_ / "data";
    const std::filesystem::path setup_log = server->dir_ / "setup.log";
    // First from a copy of the machine's template cluster; if that does not start, from a fresh initdb.
    for (bool from_template : {true, false}) {
      std::error_code ignored;
      std::filesystem::remove_all(data, ignored);
      int rc = from_template ? server->copy_template(data, setup_log, uid, gid) : server->initdb(data, setup_log);
      if (rc != 0) {
        if (from_template) continue;
        return std::unexpected(failure("initdb exited with " + std::to_string(rc) + ":\n" + tail_of(setup_log)));
      }
      // A free port can be taken by someone else before the server binds it: try a few.
      for (int attempt = 0; attempt < 5; ++attempt) {
        int port = free_port();
        if (port <= 0) continue;
        std::string options = "-c listen_addresses=127.0.0.1 -c unix_socket_directories=" + server->dir_.string() +
                              " -p " + std::to_string(port) +
                              " -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200";
        rc = server->run({(server->bin_ / "pg_ctl").string(), "-D", data.string(), "-l",
                          (server->dir_ / "server.log").string(), "-w", "-t", "60", "-o", options, "start"},
                         setup_log);
        if (rc == 0) {
          server->port_ = port;
          return server;
        }
      }
      if (from_template) std::filesystem::remove_all(server->template_dir(), ignored);  // broken: rebuild next time
    }
    return std::unexpected(failure("pg_ctl start failed:\n" + tail_of(setup_log) + "\n" +
                                   tail_of(server->dir_ / "server.log")));
  }

  int initdb(const std::filesystem::path& data, const std::filesystem::path& log) const {
    // 1 MiB WAL segments instead of 16: less to write and to copy.
    return run({(bin_ / "initdb").string(), "-D", data.string(), "-A", "trust", "-U", "postgres", "--no-sync", "-E",
                "UTF8", "--locale=C", "--wal-segsize=1"},
               log);
  }

  // initdb costs about a second of CPU per test process; copying an initialized cluster costs a fraction of that.
  // The first process on the machine initializes a template per server version and user in the temp directory and
  // publishes it with an atomic rename, so nobody copies half a template; later processes copy it.
  std::filesystem::path template_dir() const {
    return std::filesystem::temp_directory_path() /
           ("openpcc-pg-template-v2-" + bin_.parent_path().filename().string() + "-" +
            (as_user_.empty() ? std::to_string(geteuid()) : as_user_));
  }

  int copy_template(const std::filesystem::path& data, const std::filesystem::path& log, uid_t uid, gid_t gid) const {
    const std::filesystem::path tmpl = template_dir();
    const uid_t owner = as_user_.empty() ? geteuid() : uid;
    struct stat st {};
    bool usable = stat(tmpl.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == owner &&
                  std::filesystem::exists(tmpl / "data" / "PG_VERSION");
    if (!usable) {
      std::string staging = tmpl.string() + ".tmp-XXXXXX";
      if (!mkdtemp(staging.data())) return -1;
      std::error_code ignored;
      if ((!as_user_.empty() && chown(staging.c_str(), uid, gid) != 0) ||
          initdb(std::filesystem::path(staging) / "data", log) != 0 || rename(staging.c_str(), tmpl.c_str()) != 0) {
        std::filesystem::remove_all(staging, ignored);  // failed, or another process published first
      }
    }
    return run({"/bin/cp", "-a", (tmpl / "data").string(), data.string()}, log);
  }

  // Forks a process that outlives us only long enough to clean up: it blocks reading a pipe whose write end only
  // this process holds, so the read returns when we exit for any reason (normal exit, crash, SIGKILL).
  Status start_watchdog() {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return std::unexpected(failure("pipe2 failed"));
    std::string prefix = as_user_.empty() ? "" : runuser_ + " -u " + as_user_ + " -- ";
    std::string script = prefix + (bin_ / "pg_ctl").string() + " -D " + (dir_ / "data").string() +
                         " stop -m immediate >/dev/null 2>&1; rm -rf " + dir_.string();
    std::vector<std::string> argv = {"/bin/sh", "-c", script};
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    pid_t pid = fork();
    if (pid == 0) {
      // Out of the test's process group and deaf to ^C, so that whatever ends the test does not end the cleanup.
      setsid();
      signal(SIGINT, SIG_IGN);
      signal(SIGTERM, SIG_IGN);
      signal(SIGHUP, SIG_IGN);
      close(fds[1]);
      if (devnull >= 0) {
        dup2(devnull, 0);
        dup2(devnull, 1);
        dup2(devnull, 2);
      }
      char byte;
      for (;;) {
        ssize_t n = read(fds[0], &byte, 1);
        if (n == 0 || (n < 0 && errno != EINTR)) break;
      }
      execv(args[0], args.data());
      _exit(127);
    }
    close(fds[0]);
    if (devnull >= 0) close(devnull);
    if (pid < 0) {
      close(fds[1]);
      return std::unexpected(failure("fork failed"));
    }
    watchdog_pid_ = pid;
    watchdog_pipe_ = fds[1];
    return {};
  }

  std::filesystem::path bin_;
  std::filesystem::path dir_;
  std::string runuser_;
  std::string as_user_;
  int port_ = 0;
  pid_t watchdog_pid_ = -1;
  int watchdog_pipe_ = -1;
};

// A new, empty database on this process's test server; its URL.
inline Result<std::string> fresh_postgres_database() {
  auto server = PostgresServer::get();
  if (!server) return std::unexpected(server.error());
  return (*server)->create_database();
}

}  // namespace openpcc::test_support

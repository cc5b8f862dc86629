// `openpcc tlog` as a process on a SQLite file, driven through TlogClient:
//   * a publisher appends a stream of entries, retrying every append that got no answer with the same bytes (the
//     log answers a duplicate with its existing index); the process is SIGKILLed once in the middle of the stream
//     and restarted on the same database. Afterwards every entry is in the log exactly once at the index its
//     receipt named, and the checkpoints from before the crash are still the log's roots at those sizes (a client
//     LogState that saw them accepts the new head through a consistency proof);
//   * a second log with the same key and origin but different entries is detected as a fork by that client;
//   * the first log restarted on an older copy of its database is detected as a rollback.
#include <signal.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "net/client.h"
#include "net/runtime.h"
#include "services/common/http_transport.h"
#include "services/tlog/publisher_token.h"
#include "services/tlog/tlog_client.h"
#include "support/service_process.h"
#include "support/temp_dir.h"
#include "transparency/checkpoint.h"
#include "transparency/log_state.h"

namespace openpcc::tlog {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr char kOrigin[] = "tlog.integration.test/log";
constexpr int kEntries = 120;

Bytes entry_bytes(const std::string& tag, int n) {
  return to_bytes("{\"payload\":\"" + tag + "-" + std::to_string(n) + "\",\"payloadType\":\"application/json\"}");
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class TlogProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    token_ = generate_publisher_token();
  }

  // A config for the log in `sub` (database and key there), listening on `port`.
  std::string write_config(const std::string& sub, uint16_t port, const fs::path& key) {
    fs::create_directories(dir_ / sub);
    const std::string path = (dir_ / sub / "tlog.json").string();
    std::ofstream out(path, std::ios::trunc);
    out << "{\"listen\": \"127.0.0.1:" << port << "\", \"database\": \"sqlite:tlog.db\", \"origin\": \"" << kOrigin
        << "\", \"log_key\": \"" << key.string() << "\", \"publisher_token_hashes\": [\""
        << publisher_token_hash(token_) << "\"], \"storage_threads\": 2, \"log_level\": \"warn\"}\n";
    return path;
  }

  Result<std::string> start(test_support::ServiceProcess& process, const std::string& sub, uint16_t port = 0) {
    const std::string log_path = (dir_ / (sub + ".log")).string();
    auto url = process.start({"tlog", "--config", write_config(sub, port, key_path())}, log_path);
    if (!url && port != 0) url = process.start({"tlog", "--config", write_config(sub, 0, key_path())}, log_path);
    return url;
  }

  fs::path key_path() const { return dir_ / "tlog.key"; }

  static uint16_t port_of(const std::string& url) {
    return static_cast<uint16_t>(std::stoi(url.substr(url.rfind(':') + 1)));
  }

  TlogClient client(const std::string& url, bool publisher) {
    return TlogClient(services::direct_transport(net::Client::create().value()), url, publisher ? token_ : "");
  }

  template <class T>
  T run(std::function<net::Task<T>()> fn) {
    return runtime_.block_on<T>(std::move(fn));
  }

  Result<transparency::Checkpoint> update(TlogClient& c, transparency::LogState& state) {
    return run<Result<transparency::Checkpoint>>(
        [&]() -> net::Task<Result<transparency::Checkpoint>> { co_return co_await c.update(state); });
  }

  transparency::NoteVerifier verifier() {
    std::string vkey = read_file(fs::path(key_path().string() + ".vkey"));
    while (!vkey.empty() && vkey.back() == '\n') vkey.pop_back();
    auto v = transparency::NoteVerifier::parse(vkey);
    EXPECT_TRUE(v) << v.error().to_string() << " '" << vkey << "'";
    return std::move(*v);
  }

  test_support::TempDir dir_{"openpcc-tlog-process"};
  net::Runtime runtime_{1};
  std::string token_;
};

TEST_F(TlogProcessTest, SurvivesKillDetectsForkAndRollback) {
  test_support::ServiceProcess log;
  auto url = start(log, "main");
  ASSERT_TRUE(url) << url.error().to_string();
  std::atomic<uint16_t> port{port_of(*url)};
  std::string base = *url;
  std::mutex url_mutex;

  // The publisher: appends every entry until it gets a receipt, whatever happens to the process.
  std::vector<uint64_t> index_of(kEntries, UINT64_MAX);
  std::vector<std::string> checkpoints_seen;  // signed notes from receipts, in order
  std::atomic<int> done{0};
  std::atomic<int> retries{0};  // appends that got no answer and were sent again
  std::atomic<bool> publisher_failed{false};
  std::thread publisher([&] {
    net::Runtime rt(1);
    for (int i = 0; i < kEntries; ++i) {
      const auto deadline = Clock::now() + std::chrono::seconds(60);
      while (true) {
        std::string current;
        {
          std::lock_guard lock(url_mutex);
          current = base;
        }
        TlogClient c(services::direct_transport(net::Client::create().value()), current, token_);
        Bytes e = entry_bytes("main", i);
        auto r = rt.block_on<Result<AppendReceipt>>(
            [&]() -> net::Task<Result<AppendReceipt>> { co_return co_await c.append(e); });
        if (r) {
          index_of[i] = r->index;
          checkpoints_seen.push_back(r->checkpoint.note);
          break;
        }
        if (r.error().code != ErrorCode::kUnavailable || Clock::now() > deadline) {
          ADD_FAILURE() << "append " << i << ": " << r.error().to_string();
          publisher_failed = true;
          return;
        }
        ++retries;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      done = i + 1;
    }
  });

  // A client that follows the log from early on, its state in a file.
  auto v = verifier();
  auto state = transparency::LogState::open(dir_ / "client" / "tlog.checkpoint", v, kOrigin);
  ASSERT_TRUE(state) << state.error().to_string();
  while (done < 30 && !publisher_failed) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  {
    TlogClient reader = client(base, false);
    auto cp = update(reader, *state);
    ASSERT_TRUE(cp) << cp.error().to_string();
    EXPECT_GE(cp->size, 30u);
  }

  // SIGKILL in the middle of the stream, then the same database again (the same port if it is still free).
  while (done < 60 && !publisher_failed) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  log.kill_now();
  const int done_at_kill = done;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto restarted = start(log, "main", port);
  ASSERT_TRUE(restarted) << restarted.error().to_string();
  {
    std::lock_guard lock(url_mutex);
    base = *restarted;
  }
  publisher.join();
  ASSERT_FALSE(publisher_failed);
  // The kill landed in the middle of the stream, and the publisher had to send again.
  EXPECT_LT(done_at_kill, kEntries);
  EXPECT_GE(retries, 1);
  std::printf("killed after %d appends; %d appends sent again\n", done_at_kill, retries.load());

  // Every entry exactly once, at the index its receipt named.
  TlogClient reader = client(base, false);
  auto cp = update(reader, *state);  // consistency from the pre-crash checkpoint
  ASSERT_TRUE(cp) << cp.error().to_string();
  ASSERT_EQ(cp->size, static_cast<uint64_t>(kEntries));
  std::vector<bool> seen(kEntries, false);
  for (int i = 0; i < kEntries; ++i) {
    ASSERT_LT(index_of[i], static_cast<uint64_t>(kEntries)) << i;
    EXPECT_FALSE(seen[index_of[i]]) << "index " << index_of[i] << " given twice";
    seen[index_of[i]] = true;
    auto e = run<Result<transparency::LogEntry>>(
        [&]() -> net::Task<Result<transparency::LogEntry>> { co_return co_await reader.entry(index_of[i]); });
    ASSERT_TRUE(e) << e.error().to_string();
    EXPECT_EQ(e->data, entry_bytes("main", i));
    auto proof = run<Result<InclusionAnswer>>([&]() -> net::Task<Result<InclusionAnswer>> {
      co_return co_await reader.inclusion_proof(index_of[i], cp->size);
    });
    ASSERT_TRUE(proof);
    EXPECT_TRUE(state->verify_inclusion(index_of[i], e->leaf_hash, proof->proof)) << i;
  }
  // Every checkpoint a receipt carried, before and after the crash, is still the log's root at its size.
  EXPECT_EQ(checkpoints_seen.size(), static_cast<size_t>(kEntries));
  for (const std::string& note : checkpoints_seen) {
    auto old = transparency::open_signed_checkpoint(note, v, kOrigin);
    ASSERT_TRUE(old);
    auto proof = run<Result<std::vector<Hash>>>([&]() -> net::Task<Result<std::vector<Hash>>> {
      co_return co_await reader.consistency_proof(old->size, cp->size);
    });
    ASSERT_TRUE(proof) << proof.error().to_string();
    EXPECT_TRUE(transparency::verify_consistency(old->size, cp->size, old->root, cp->root, *proof)) << old->size;
  }

  // Keep a copy of the database at this size for the rollback below (taken while the process is stopped).
  ASSERT_EQ(log.stop(), 0);
  fs::create_directories(dir_ / "old");
  for (const char* f : {"tlog.db", "tlog.db-wal", "tlog.db-shm"}) {
    if (fs::exists(dir_ / "main" / f)) fs::copy_file(dir_ / "main" / f, dir_ / "old" / f);
  }
  restarted = start(log, "main", port);
  ASSERT_TRUE(restarted) << restarted.error().to_string();
  reader = client(*restarted, false);
  TlogClient publisher2 = client(*restarted, true);
  for (int i = 0; i < 5; ++i) {
    Bytes e = entry_bytes("later", i);
    auto r = run<Result<AppendReceipt>>(
        [&]() -> net::Task<Result<AppendReceipt>> { co_return co_await publisher2.append(e); });
    ASSERT_TRUE(r) << r.error().to_string();
  }
  cp = update(reader, *state);
  ASSERT_TRUE(cp) << cp.error().to_string();
  EXPECT_EQ(cp->size, static_cast<uint64_t>(kEntries + 5));

  // A fork: another log with the same key and origin whose entries differ.
  {
    test_support::ServiceProcess forked;
    auto fork_url = start(forked, "fork");
    ASSERT_TRUE(fork_url) << fork_url.error().to_string();
    TlogClient fork_publisher = client(*fork_url, true);
    for (int i = 0; i < kEntries + 7; ++i) {
      Bytes e = entry_bytes(i == 17 ? "evil" : "main", i);
      auto r = run<Result<AppendReceipt>>(
          [&]() -> net::Task<Result<AppendReceipt>> { co_return co_await fork_publisher.append(e); });
      ASSERT_TRUE(r) << r.error().to_string();
    }
    TlogClient fork_reader = client(*fork_url, false);
    auto forked_cp = update(fork_reader, *state);
    ASSERT_FALSE(forked_cp);
    EXPECT_EQ(forked_cp.error().code, ErrorCode::kConflict);
    EXPECT_NE(forked_cp.error().message.find("fork"), std::string::npos) << forked_cp.error().message;
    forked.stop();
  }

  // A rollback: the first log restarted on the older copy of its database.
  ASSERT_EQ(log.stop(), 0);
  for (const char* f : {"tlog.db", "tlog.db-wal", "tlog.db-shm"}) {
    fs::remove(dir_ / "main" / f);
    if (fs::exists(dir_ / "old" / f)) fs::copy_file(dir_ / "old" / f, dir_ / "main" / f);
  }
  restarted = start(log, "main", port);
  ASSERT_TRUE(restarted) << restarted.error().to_string();
  TlogClient rolled_back = client(*restarted, false);
  auto old_cp = update(rolled_back, *state);
  ASSERT_FALSE(old_cp);
  EXPECT_EQ(old_cp.error().code, ErrorCode::kConflict);
  EXPECT_NE(old_cp.error().message.find("rollback"), std::string::npos) << old_cp.error().message;
  // The client's state survived all of it on disk.
  auto reopened = transparency::LogState::open(dir_ / "client" / "tlog.checkpoint", v, kOrigin);
  ASSERT_TRUE(reopened);
  EXPECT_EQ(reopened->checkpoint().size, static_cast<uint64_t>(kEntries + 5));
  EXPECT_EQ(log.stop(), 0);
}

}  // namespace
}  // namespace openpcc::tlog

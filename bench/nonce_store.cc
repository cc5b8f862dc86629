// NonceStore lock+consume per second: one credit spend as the router does it (lock → ticket, consume), a fresh
// nonce each iteration, on SQLite and PostgreSQL, with one writer and with two concurrent writers. Each writer
// thread opens its own Database, as two router or bank processes would.
//
// SQLite: a file in the temp directory, WAL, synchronous=FULL, so every commit waits for an fsync.
// PostgreSQL: the throwaway server of tests/support/postgres_server.h on loopback, which runs with fsync=off and
// synchronous_commit=off: the figures measure round trips and server CPU, not disk durability.
//
// Floor (same run, same database, same schema): the least SQL a lock+consume needs, written directly on
// sqlite3 / libpq with statements prepared once: an INSERT and a ticket-checked UPDATE, each its own autocommitted
// transaction. Ours adds explicit transactions (BEGIN IMMEDIATE / SERIALIZABLE), a SELECT so the ticket is compared
// in constant time outside SQL, the retry machinery and the Result plumbing.
//
// Times are wall-clock (UseRealTime): the work waits on disk and sockets, not on the CPU.
#include <benchmark/benchmark.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>

#include "common/bytes.h"
#include "common/random.h"
#include "currency/nonce.h"
#include "currency/sql_nonce_store.h"
#include "store/database.h"
#include "support/postgres_server.h"
#include "support/temp_dir.h"

namespace openpcc::bench {
namespace {

using currency::Nonce;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "bench_nonce_store: %s\n", what.c_str());
  std::abort();
}

const std::string& sqlite_url() {
  static openpcc::test_support::TempDir dir("openpcc-bench-nonces");
  static const std::string url = "sqlite:" + (dir / "nonces.db").string();
  return url;
}

const std::string& postgres_url() {
  static const std::string url = [] {
    auto u = openpcc::test_support::fresh_postgres_database();
    if (!u) die(u.error().to_string());
    return *u;
  }();
  return url;
}

struct OpenStore {
  std::shared_ptr<store::Database> db;
  std::unique_ptr<currency::NonceStore> store;
};

OpenStore open_store(const std::string& url) {
  auto db = store::open_database(url);
  if (!db) die(db.error().to_string());
  if (Status s = currency::migrate_sql_nonce_store(**db); !s) die(s.error().to_string());
  return {*db, currency::make_sql_nonce_store(*db)};
}

Nonce fresh_nonce(int64_t now) {
  Nonce n;
  n.timestamp = currency::quantize_to_hour(now);
  fill_random(n.random);
  return n;
}

void lock_consume_ours(benchmark::State& state, const std::string& url) {
  OpenStore s = open_store(url);
  const int64_t now = currency::unix_now();
  for (auto _ : state) {
    const Nonce n = fresh_nonce(now);
    auto ticket = s.store->lock(n, now);
    if (!ticket) die(ticket.error().to_string());
    if (Status c = s.store->consume(n, *ticket); !c) die(c.error().to_string());
  }
  state.SetItemsProcessed(state.iterations());
  // Transactions run again after contention (PostgreSQL serialization failures, SQLite busy), per spend.
  state.counters["retries"] = benchmark::Counter(static_cast<double>(s.db->retry_count()),
                                                 benchmark::Counter::kAvgIterations);
}

// --- floors ---------------------------------------------------------------------------------------------------------

constexpr const char* kFloorInsert =
    "INSERT INTO floor_nonces (nonce, nonce_timestamp, state, ticket, locked_at) VALUES ($1, $2, 0, $3, $4)";
constexpr const char* kFloorConsume =
    "UPDATE floor_nonces SET state = 1, ticket = NULL WHERE nonce = $1 AND state = 0 AND ticket = $2";

void create_floor_table(const std::string& url) {
  auto db = store::open_database(url);
  if (!db) die(db.error().to_string());
  Status s = (*db)->transact([](store::Transaction& tx) -> Status {
    bool sqlite = tx.dialect() == store::Dialect::kSqlite;
    auto r = tx.execute(sqlite ? "CREATE TABLE IF NOT EXISTS floor_nonces (nonce BLOB PRIMARY KEY, nonce_timestamp "
                                 "INTEGER NOT NULL, state INTEGER NOT NULL, ticket TEXT, locked_at INTEGER NOT NULL) "
                                 "WITHOUT ROWID"
                               : "CREATE TABLE IF NOT EXISTS floor_nonces (nonce BYTEA PRIMARY KEY, nonce_timestamp "
                                 "BIGINT NOT NULL, state BIGINT NOT NULL, ticket TEXT, locked_at BIGINT NOT NULL)");
    if (!r) return std::unexpected(r.error());
    return {};
  });
  if (!s) die(s.error().to_string());
}

void sqlite_step_done(sqlite3* db, sqlite3_stmt* stmt) {
  if (sqlite3_step(stmt) != SQLITE_DONE) die(std::string("sqlite floor: ") + sqlite3_errmsg(db));
  sqlite3_reset(stmt);
}

void lock_consume_sqlite_floor(benchmark::State& state) {
  static std::once_flag once;
  std::call_once(once, [] { create_floor_table(sqlite_url()); });
  sqlite3* db = nullptr;
  std::string path = sqlite_url().substr(7);
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) die("sqlite floor: open");
  sqlite3_busy_timeout(db, 5000);
  sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL", nullptr, nullptr, nullptr);
  sqlite3_stmt* insert = nullptr;
  sqlite3_stmt* consume = nullptr;
  std::string insert_sql = kFloorInsert, consume_sql = kFloorConsume;
  for (auto* s : {&insert_sql, &consume_sql}) {
    for (size_t i = 0; (i = s->find('$', i)) != std::string::npos;) (*s)[i] = '?';
  }
  if (sqlite3_prepare_v2(db, insert_sql.c_str(), -1, &insert, nullptr) != SQLITE_OK ||
      sqlite3_prepare_v2(db, consume_sql.c_str(), -1, &consume, nullptr) != SQLITE_OK) {
    die(std::string("sqlite floor: prepare: ") + sqlite3_errmsg(db));
  }
  const int64_t now = currency::unix_now();
  for (auto _ : state) {
    const Nonce n = fresh_nonce(now);
    const Bytes key = n.message();
    const std::string ticket = to_hex(random_bytes(16));
    sqlite3_bind_blob(insert, 1, key.data(), static_cast<int>(key.size()), SQLITE_STATIC);
    sqlite3_bind_int64(insert, 2, n.timestamp);
    sqlite3_bind_text(insert, 3, ticket.data(), static_cast<int>(ticket.size()), SQLITE_STATIC);
    sqlite3_bind_int64(insert, 4, now);
    sqlite_step_done(db, insert);
    sqlite3_bind_blob(consume, 1, key.data(), static_cast<int>(key.size()), SQLITE_STATIC);
    sqlite3_bind_text(consume, 2, ticket.data(), static_cast<int>(ticket.size()), SQLITE_STATIC);
    sqlite_step_done(db, consume);
    if (sqlite3_changes(db) != 1) die("sqlite floor: consume changed nothing");
  }
  sqlite3_finalize(insert);
  sqlite3_finalize(consume);
  sqlite3_close(db);
  state.SetItemsProcessed(state.iterations());
}

void pg_command_ok(PGconn* conn, PGresult* r) {
  if (PQresultStatus(r) != PGRES_COMMAND_OK) die(std::string("postgres floor: ") + PQerrorMessage(conn));
  PQclear(r);
}

void lock_consume_postgres_floor(benchmark::State& state) {
  static std::once_flag once;
  std::call_once(once, [] { create_floor_table(postgres_url()); });
  PGconn* conn = PQconnectdb(postgres_url().c_str());
  if (PQstatus(conn) != CONNECTION_OK) die("postgres floor: connect");
  const Oid insert_types[] = {17, 20, 25, 20};
  const Oid consume_types[] = {17, 25};
  pg_command_ok(conn, PQprepare(conn, "ins", kFloorInsert, 4, insert_types));
  pg_command_ok(conn, PQprepare(conn, "con", kFloorConsume, 2, consume_types));
  const int64_t now = currency::unix_now();
  const Bytes now_be = i2osp(static_cast<uint64_t>(now), 8);
  for (auto _ : state) {
    const Nonce n = fresh_nonce(now);
    const Bytes key = n.message();
    const Bytes ts_be = i2osp(static_cast<uint64_t>(n.timestamp), 8);
    const std::string ticket = to_hex(random_bytes(16));
    const char* ins_values[] = {reinterpret_cast<const char*>(key.data()), reinterpret_cast<const char*>(ts_be.data()),
                                ticket.data(), reinterpret_cast<const char*>(now_be.data())};
    const int ins_lengths[] = {static_cast<int>(key.size()), 8, static_cast<int>(ticket.size()), 8};
    const int ins_formats[] = {1, 1, 1, 1};
    pg_command_ok(conn, PQexecPrepared(conn, "ins", 4, ins_values, ins_lengths, ins_formats, 0));
    const char* con_values[] = {reinterpret_cast<const char*>(key.data()), ticket.data()};
    const int con_lengths[] = {static_cast<int>(key.size()), static_cast<int>(ticket.size())};
    const int con_formats[] = {1, 1};
    PGresult* r = PQexecPrepared(conn, "con", 2, con_values, con_lengths, con_formats, 0);
    if (std::string(PQcmdTuples(r)) != "1") die("postgres floor: consume changed nothing");
    pg_command_ok(conn, r);
  }
  PQfinish(conn);
  state.SetItemsProcessed(state.iterations());
}

void BM_sqlite_ours(benchmark::State& state) { lock_consume_ours(state, sqlite_url()); }
void BM_postgres_ours(benchmark::State& state) { lock_consume_ours(state, postgres_url()); }

BENCHMARK(BM_sqlite_ours)->Name("nonce_store/sqlite/lock_consume/ours")->UseRealTime()->Threads(1)->Threads(2);
BENCHMARK(lock_consume_sqlite_floor)
    ->Name("nonce_store/sqlite/lock_consume/floor")
    ->UseRealTime()
    ->Threads(1)
    ->Threads(2);
BENCHMARK(BM_postgres_ours)->Name("nonce_store/postgres/lock_consume/ours")->UseRealTime()->Threads(1)->Threads(2);
BENCHMARK(lock_consume_postgres_floor)
    ->Name("nonce_store/postgres/lock_consume/floor")
    ->UseRealTime()
    ->Threads(1)
    ->Threads(2);

}  // namespace
}  // namespace openpcc::bench

#include "currency/sql_nonce_store.h"

#include <limits>
#include <optional>
#include <string>

#include "common/bytes.h"
#include "common/random.h"
#include "common/secure.h"
#include "crypto/sha256.h"
#include "store/migrate.h"

namespace openpcc::currency {
namespace {

constexpr size_t kTicketRandomSize = 16;
constexpr int64_t kLocked = 0;
constexpr int64_t kConsumed = 1;

const store::MigrationStep kSteps[] = {
    {.sqlite = {"CREATE TABLE currency_nonces ("
                "nonce BLOB PRIMARY KEY, "
                "nonce_timestamp INTEGER NOT NULL, "
                "state INTEGER NOT NULL CHECK (state IN (0, 1)), "
                "ticket TEXT, "
                "locked_at INTEGER NOT NULL) WITHOUT ROWID",
                "CREATE INDEX currency_nonces_by_timestamp ON currency_nonces (nonce_timestamp)"},
     .postgres = {"CREATE TABLE currency_nonces ("
                  "nonce BYTEA PRIMARY KEY, "
                  "nonce_timestamp BIGINT NOT NULL, "
                  "state BIGINT NOT NULL CHECK (state IN (0, 1)), "
                  "ticket TEXT, "
                  "locked_at BIGINT NOT NULL)",
                  "CREATE INDEX currency_nonces_by_timestamp ON currency_nonces (nonce_timestamp)"}},
};

constexpr const char* kInsertLocked =
    "INSERT INTO currency_nonces (nonce, nonce_timestamp, state, ticket, locked_at) "
    "VALUES ($1, $2, 0, $3, $4) ON CONFLICT (nonce) DO NOTHING";
constexpr const char* kConsumeIfHolder =
    "UPDATE currency_nonces SET state = 1, ticket = NULL WHERE nonce = $1 AND state = 0 AND ticket = $2";
constexpr const char* kReleaseIfHolder = "DELETE FROM currency_nonces WHERE nonce = $1 AND state = 0 AND ticket = $2";

// The oldest timestamp Nonce::is_expired_at(now) still accepts: quantize_to_hour(now - skew), saturating.
int64_t earliest_valid_timestamp(int64_t now_unix) {
  int64_t t;
  if (__builtin_sub_overflow(now_unix, kNonceMaxClockSkewSeconds, &t)) t = std::numeric_limits<int64_t>::min();
  return quantize_to_hour(t);
}

// Storage failures (unavailable, internal) get the store's name; the answers of nonce_store.h pass unchanged.
template <class T>
Result<T> answer(Result<T> r) {
  if (!r && (r.error().code == ErrorCode::kUnavailable || r.error().code == ErrorCode::kInternal)) {
    return std::unexpected(wrap_error("nonce store", std::move(r.error())));
  }
  return r;
}

// The table stores SHA-256(ticket) (hex), never the ticket: the single-statement compare-and-swap below may then let
// the database compare it with non-constant-time equality — timing reveals at most a prefix of a hash of a secret
// the attacker does not know, which does not help forge the ticket — and a leaked table holds no usable ticket.
std::string ticket_digest(std::string_view ticket) { return to_hex(crypto::sha256(as_bytes(ticket))); }

struct Entry {
  int64_t state = 0;
  std::optional<std::string> ticket;
  int64_t locked_at = 0;
};

Result<std::optional<Entry>> read_entry(store::Transaction& tx, const store::SqlValue& key) {
  auto row = tx.query_row("SELECT state, ticket, locked_at FROM currency_nonces WHERE nonce = $1", {key});
  if (!row) return std::unexpected(std::move(row.error()));
  if (!*row) return std::optional<Entry>();
  Entry e;
  auto state = (*row)->integer(0);
  auto ticket = (*row)->nullable_text(1);
  auto locked_at = (*row)->integer(2);
  if (!state || !ticket || !locked_at) return make_error(ErrorCode::kInternal, "malformed row");
  e.state = *state;
  e.ticket = std::move(*ticket);
  e.locked_at = *locked_at;
  return std::optional<Entry>(std::move(e));
}

// The checks consume and release share: the nonce is locked, and by the caller.
Status check_holder(const std::optional<Entry>& entry, std::string_view ticket) {
  if (!entry) return make_error(ErrorCode::kNotFound, "nonce store: nonce not locked");
  if (entry->state == kConsumed) return make_error(ErrorCode::kAlreadyUsed, "nonce store: nonce already consumed");
  if (!entry->ticket || !ct_equal(as_bytes(*entry->ticket), as_bytes(ticket_digest(ticket)))) {
    return make_error(ErrorCode::kNotFound, "nonce store: ticket does not match the lock");
  }
  return {};
}

class SqlNonceStore final : public NonceStore {
 public:
  explicit SqlNonceStore(std::shared_ptr<store::Database> db) : db_(std::move(db)) {}

  using NonceStore::lock;

  // Each call first tries its common case as one auto-committed statement (one round trip on PostgreSQL): the
  // insert of a fresh nonce, or a compare-and-swap on the ticket's digest. Anything else (the
  // nonce is present, the row changed in between) is settled by a transaction that reads the row and decides.
  Result<NonceTicket> lock(const Nonce& nonce, int64_t now_unix) override {
    if (nonce.is_expired_at(now_unix)) return make_error(ErrorCode::kInvalidArgument, "nonce store: nonce expired");
    const store::SqlValue key = nonce.message();
    const NonceTicket ticket = to_hex(random_bytes(kTicketRandomSize));
    const std::string digest = ticket_digest(ticket);
    auto fresh = db_->execute(kInsertLocked, {key, nonce.timestamp, digest, now_unix});
    if (!fresh) return answer(Result<NonceTicket>(std::unexpected(std::move(fresh.error()))));
    if (*fresh == 1) return ticket;
    auto r = db_->transact([&](store::Transaction& tx) -> Result<NonceTicket> {
      // Again, as it may have been released in the meantime.
      auto inserted = tx.execute(kInsertLocked, {key, nonce.timestamp, digest, now_unix});
      if (!inserted) return std::unexpected(std::move(inserted.error()));
      if (*inserted == 1) return ticket;
      auto entry = read_entry(tx, key);
      if (!entry) return std::unexpected(std::move(entry.error()));
      if (!*entry) return make_error(ErrorCode::kInternal, "row vanished during lock");
      if ((*entry)->state == kConsumed) {
        return make_error(ErrorCode::kAlreadyUsed, "nonce store: nonce already consumed");
      }
      // A holder that neither consumed nor released in time is presumed dead; its ticket stops working here.
      if (now_unix - (*entry)->locked_at < kNonceLockTimeoutSeconds) {
        return make_error(ErrorCode::kConflict, "nonce store: nonce locked");
      }
      auto taken = tx.execute("UPDATE currency_nonces SET ticket = $2, locked_at = $3 WHERE nonce = $1 AND state = 0",
                              {key, digest, now_unix});
      if (!taken) return std::unexpected(std::move(taken.error()));
      if (*taken != 1) return make_error(ErrorCode::kInternal, "takeover updated no row");
      return ticket;
    });
    return answer(std::move(r));
  }

  Status consume(const Nonce& nonce, std::string_view ticket) override {
    return end_lock(nonce, ticket, kConsumeIfHolder,
                    "UPDATE currency_nonces SET state = 1, ticket = NULL WHERE nonce = $1");
  }

  Status release(const Nonce& nonce, std::string_view ticket) override {
    return end_lock(nonce, ticket, kReleaseIfHolder, "DELETE FROM currency_nonces WHERE nonce = $1");
  }

  Result<int64_t> collect_garbage(int64_t now_unix) override {
    auto r = db_->transact([&](store::Transaction& tx) {
      return tx.execute("DELETE FROM currency_nonces WHERE nonce_timestamp < $1", {earliest_valid_timestamp(now_unix)});
    });
    return answer(std::move(r));
  }

 private:
  // consume and release: the one-statement compare-and-swap for the common case, else a transaction that reads the
  // row, gives the precise answer (not locked, wrong ticket, consumed) or applies `settle` for the holder.
  Status end_lock(const Nonce& nonce, std::string_view ticket, const char* swap, const char* settle) {
    const store::SqlValue key = nonce.message();
    auto swapped = swap_if_holder(key, ticket, swap);
    if (!swapped) return answer(Status(std::unexpected(std::move(swapped.error()))));
    if (*swapped) return {};
    Status s = db_->transact([&](store::Transaction& tx) -> Status {
      auto entry = read_entry(tx, key);
      if (!entry) return std::unexpected(std::move(entry.error()));
      if (Status held = check_holder(*entry, ticket); !held) return held;
      auto changed = tx.execute(settle, {key});
      if (!changed) return std::unexpected(std::move(changed.error()));
      if (*changed != 1) return make_error(ErrorCode::kInternal, "nonce store: the held row changed no row");
      return {};
    });
    return answer(std::move(s));
  }

  // Runs `swap` (guarded by state = locked and the stored ticket digest) as one auto-committed statement: true if it
  // took effect. False sends the caller to the transaction, which gives the precise answer (not locked, wrong
  // ticket, consumed, or changed by a concurrent takeover).
  Result<bool> swap_if_holder(const store::SqlValue& key, std::string_view ticket, const char* swap) {
    auto changed = db_->execute(swap, {key, ticket_digest(ticket)});
    if (!changed) return std::unexpected(std::move(changed.error()));
    return *changed == 1;
  }

  std::shared_ptr<store::Database> db_;
};

}  // namespace

Status spend_nonce_in(store::Transaction& tx, const Nonce& nonce, int64_t now_unix) {
  if (nonce.is_expired_at(now_unix)) return make_error(ErrorCode::kInvalidArgument, "nonce store: nonce expired");
  const store::SqlValue key = nonce.message();
  auto inserted = tx.execute(
      "INSERT INTO currency_nonces (nonce, nonce_timestamp, state, ticket, locked_at) "
      "VALUES ($1, $2, 1, NULL, $3) ON CONFLICT (nonce) DO NOTHING",
      {key, nonce.timestamp, now_unix});
  if (!inserted) return answer(Status(std::unexpected(std::move(inserted.error()))));
  if (*inserted == 1) return {};
  auto entry = read_entry(tx, key);
  if (!entry) return answer(Status(std::unexpected(std::move(entry.error()))));
  if (!*entry) return make_error(ErrorCode::kInternal, "nonce store: row vanished during spend");
  if ((*entry)->state == kConsumed) return make_error(ErrorCode::kAlreadyUsed, "nonce store: nonce already consumed");
  if (now_unix - (*entry)->locked_at < kNonceLockTimeoutSeconds) {
    return make_error(ErrorCode::kConflict, "nonce store: nonce locked");
  }
  auto taken = tx.execute("UPDATE currency_nonces SET state = 1, ticket = NULL WHERE nonce = $1 AND state = 0", {key});
  if (!taken) return answer(Status(std::unexpected(std::move(taken.error()))));
  if (*taken != 1) return make_error(ErrorCode::kInternal, "nonce store: stale-lock spend updated no row");
  return {};
}

Status migrate_sql_nonce_store(store::Database& db) { return store::migrate(db, "currency.nonce_store", kSteps); }

std::unique_ptr<NonceStore> make_sql_nonce_store(std::shared_ptr<store::Database> db) {
  return std::make_unique<SqlNonceStore>(std::move(db));
}

}  // namespace openpcc::currency

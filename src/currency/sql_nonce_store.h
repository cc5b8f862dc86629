// The NonceStore on SQL (SQLite or PostgreSQL, see store/database.h): survives restarts and is shared by every
// process that opens the same database (several routers on one PostgreSQL, two banks on one SQLite file).
//
//   auto db = store::open_database(url);
//   if (Status s = currency::migrate_sql_nonce_store(**db); !s) ...   // once at startup
//   std::unique_ptr<currency::NonceStore> nonces = currency::make_sql_nonce_store(*db);
//
// One row per nonce in `currency_nonces`, keyed by the 24-byte signed form (timestamp ‖ random): locked rows hold the
// SHA-256 of their ticket (the ticket itself — 16 random bytes, hex — is never stored) and the lock time; consumed
// rows hold neither. The common answers take one atomic statement each: a fresh lock is one INSERT ... ON CONFLICT
// DO NOTHING, consume and release one UPDATE/DELETE guarded by state = locked and the ticket's digest. Every other
// answer is decided in a serializable transaction (digests compared in constant time there). So the answers of
// nonce_store.h hold across processes. A stale lock is taken over by comparing lock()'s `now` with the stored lock
// time, so processes should have roughly synchronized clocks (as the nonce validity window assumes anyway).
// collect_garbage() forgets nonces whose timestamp has fallen below the validity window at `now`; rows ahead of the
// window are kept, as they may become valid later.
//
// Calls block on the database (see store/database.h): call them from a worker pool, not a network coroutine.
#pragma once

#include <memory>

#include "common/error.h"
#include "currency/nonce_store.h"
#include "store/database.h"

namespace openpcc::currency {

// Creates or upgrades the nonce table (schema component "currency.nonce_store"). Idempotent; run at startup.
Status migrate_sql_nonce_store(store::Database& db);

// The database must have been migrated with migrate_sql_nonce_store.
std::unique_ptr<NonceStore> make_sql_nonce_store(std::shared_ptr<store::Database> db);

// Spends a nonce inside the caller's transaction: lock and consume in one step, for operations that must record the
// credit's value in the same commit (bank deposits, exchanges, refunds), so a crash can neither lose the credit nor
// count it twice. The nonce must be unexpired at `now_unix` and neither consumed nor locked by someone else (a stale
// lock, older than kNonceLockTimeoutSeconds, is taken over). Answers as lock(): kInvalidArgument (expired),
// kConflict (locked), kAlreadyUsed (consumed); storage errors doom the transaction as usual. On an answer other than
// success the caller must fail its transaction (return the error) so nothing it wrote before is committed.
Status spend_nonce_in(store::Transaction& tx, const Nonce& nonce, int64_t now_unix);

}  // namespace openpcc::currency

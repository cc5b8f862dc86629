// Double-spend prevention: every credit's nonce goes through lock → (consume | release) exactly once per spend.
//
// A nonce is keyed by its full signed form (timestamp ‖ 16 random bytes), so two credits can only collide if both
// their timestamps and their random parts are equal. A consumed nonce stays consumed until it expires (its timestamp
// leaves the validity window, see Nonce::is_expired_at); after that, any credit carrying it is rejected as expired
// before the store is asked, so forgetting it is safe and collect_garbage() does so.
//
// Answers (ErrorCode, with the HTTP status the reference's nonce locker uses):
//   lock:    ticket | kConflict (409, locked by someone else) | kAlreadyUsed (410, consumed)
//            | kInvalidArgument (400, expired at `now`)
//   consume: ok | kNotFound (not locked, or the ticket does not match) | kAlreadyUsed (already consumed)
//   release: ok | kNotFound (not locked, or the ticket does not match) | kAlreadyUsed (already consumed)
//   any:     kUnavailable (storage busy or down; the caller may retry)
// A lock that is neither consumed nor released within kNonceLockTimeoutSeconds may be taken over by a new lock()
// (the holder crashed): a lock() at now_unix >= (the holding lock's now_unix) + kNonceLockTimeoutSeconds gets a new
// ticket, and the old ticket then no longer works.
//
// Implementations are safe to call from many threads and, for the SQL ones, from many processes sharing the database.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.h"
#include "currency/nonce.h"

namespace openpcc::currency {

inline constexpr int64_t kNonceLockTimeoutSeconds = 300;

// An opaque proof of holding a lock (16 random bytes, hex): only its holder can consume or release the nonce.
using NonceTicket = std::string;

class NonceStore {
 public:
  virtual ~NonceStore() = default;

  virtual Result<NonceTicket> lock(const Nonce& nonce, int64_t now_unix) = 0;
  virtual Status consume(const Nonce& nonce, std::string_view ticket) = 0;
  virtual Status release(const Nonce& nonce, std::string_view ticket) = 0;

  // Forgets nonces that are expired at `now_unix` because their timestamp fell below the validity window (they can
  // never be valid again); returns how many entries were removed. Entries ahead of the window (locked by a process
  // whose clock runs later) may still become valid: the SQL store keeps them, the in-memory store drops them too.
  virtual Result<int64_t> collect_garbage(int64_t now_unix) = 0;

  // The same with the system clock.
  Result<NonceTicket> lock(const Nonce& nonce) { return lock(nonce, unix_now()); }
};

}  // namespace openpcc::currency

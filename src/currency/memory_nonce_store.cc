#include "currency/memory_nonce_store.h"

#include <array>
#include <map>
#include <mutex>

#include "common/bytes.h"
#include "common/random.h"
#include "common/secure.h"

namespace openpcc::currency {
namespace {

inline constexpr size_t kTicketRandomSize = 16;

using NonceKey = std::array<uint8_t, kNonceMessageSize>;

NonceKey key_of(const Nonce& nonce) {
  NonceKey key{};
  const Bytes message = nonce.message();
  std::copy(message.begin(), message.end(), key.begin());
  return key;
}

class MemoryNonceStore final : public NonceStore {
 public:
  using NonceStore::lock;

  Result<NonceTicket> lock(const Nonce& nonce, int64_t now_unix) override {
    if (nonce.is_expired_at(now_unix)) return make_error(ErrorCode::kInvalidArgument, "nonce store: nonce expired");
    const NonceKey key = key_of(nonce);
    std::lock_guard<std::mutex> guard(mu_);
    auto it = entries_.find(key);
    if (it != entries_.end()) {
      Entry& e = it->second;
      if (e.consumed) return make_error(ErrorCode::kAlreadyUsed, "nonce store: nonce already consumed");
      // A holder that neither consumed nor released in time is presumed dead; its ticket stops working here.
      if (now_unix - e.locked_at < kNonceLockTimeoutSeconds) {
        return make_error(ErrorCode::kConflict, "nonce store: nonce locked");
      }
      e.ticket = new_ticket();
      e.locked_at = now_unix;
      return e.ticket;
    }
    Entry e;
    e.ticket = new_ticket();
    e.locked_at = now_unix;
    NonceTicket ticket = e.ticket;
    entries_.emplace(key, std::move(e));
    return ticket;
  }

  Status consume(const Nonce& nonce, std::string_view ticket) override {
    std::lock_guard<std::mutex> guard(mu_);
    auto it = entries_.find(key_of(nonce));
    if (it == entries_.end()) return make_error(ErrorCode::kNotFound, "nonce store: nonce not locked");
    Entry& e = it->second;
    if (e.consumed) return make_error(ErrorCode::kAlreadyUsed, "nonce store: nonce already consumed");
    if (!ct_equal(as_bytes(e.ticket), as_bytes(ticket))) {
      return make_error(ErrorCode::kNotFound, "nonce store: ticket does not match the lock");
    }
    e.consumed = true;
    e.ticket.clear();
    return {};
  }

  Status release(const Nonce& nonce, std::string_view ticket) override {
    std::lock_guard<std::mutex> guard(mu_);
    auto it = entries_.find(key_of(nonce));
    if (it == entries_.end()) return make_error(ErrorCode::kNotFound, "nonce store: nonce not locked");
    if (it->second.consumed) return make_error(ErrorCode::kAlreadyUsed, "nonce store: nonce already consumed");
    if (!ct_equal(as_bytes(it->second.ticket), as_bytes(ticket))) {
      return make_error(ErrorCode::kNotFound, "nonce store: ticket does not match the lock");
    }
    entries_.erase(it);
    return {};
  }

  Result<int64_t> collect_garbage(int64_t now_unix) override {
    std::lock_guard<std::mutex> guard(mu_);
    int64_t removed = 0;
    for (auto it = entries_.begin(); it != entries_.end();) {
      const Nonce nonce = Nonce::parse_message(it->first).value();
      if (nonce.is_expired_at(now_unix)) {
        it = entries_.erase(it);
        ++removed;
      } else {
        ++it;
      }
    }
    return removed;
  }

 private:
  struct Entry {
    bool consumed = false;
    NonceTicket ticket;  // empty once consumed
    int64_t locked_at = 0;
  };

  static NonceTicket new_ticket() { return to_hex(random_bytes(kTicketRandomSize)); }

  std::mutex mu_;
  std::map<NonceKey, Entry> entries_;
};

}  // namespace

std::unique_ptr<NonceStore> make_memory_nonce_store() { return std::make_unique<MemoryNonceStore>(); }

}  // namespace openpcc::currency

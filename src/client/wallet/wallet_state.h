// Everything the wallet owns, as it is written to its state file: the BlindBank accounts it opened, every credit it
// holds, every operation it has started but not seen answered, and the running totals of what moved where.
//
// THE STATE IS SECRET. Account tokens are bearer secrets (whoever has one can empty the account), credits are money
// (whoever has one can spend it), and the blind requests' inverses link the credits to the withdrawals the bank
// saw. The file holding it is mode 0600 (state_file.h); never log any part of it.
//
// How the wallet uses it (wallet.h): every change is written to disk before anything that depends on it is sent,
// so after a crash each Item says exactly which request may have been in flight, and sending it again is safe (the
// banks answer identical retries idempotently). An Item is one piece of value in motion; its Stage says what the
// next request is:
//
//   kSourceWithdraw  requests[0] (value = the source amount) to the AuthBank → credit → kDeposit into account_id
//   kDeposit         credit → BlindBank account account_id
//   kBatchWithdraw   account_id → 1..15 blind-signed credits (requests) → kAvailable each
//   kAvailable       a fresh, never-shown credit in the prefetch pool
//   kHeld            a credit handed to a payment. In a file being loaded it means "maybe spent": the payment never
//                    reported back (recovery exchanges it: spent → gone, unspent → recovered)
//   kExchange        credit (+ requests[0] once made) → BlindBank exchange → a fresh credit → `destination`
//   kWithdrawFull    account_id → an unblinded credit of its whole (rounded) balance → kExchange → `destination`
//   kReturn          credit → AuthBank refund (value back to the identified account)
//
// Binary form (all integers big-endian; the whole file is authenticated by its SHA-256 trailer against corruption,
// not against an attacker who can write the file):
//
//   file     = magic "OPCCWLT1" ‖ u32 format version (1) ‖ u32 body length ‖ body ‖ SHA-256(everything before)
//   body     = bytes16 key_n ‖ bytes16 key_e ‖ u64 next_id ‖ counters (11 × i64) ‖ bytes16 badge (empty = none) ‖
//              u32 #accounts ‖ account* ‖ u32 #items ‖ item*
//   account  = u64 id ‖ u8 role ‖ bytes16 token (32 bytes) ‖ i64 balance
//   item     = u64 id ‖ u8 stage ‖ u8 destination ‖ u8 flags ‖ u64 account_id ‖ i64 not_before_ms ‖
//              bytes16 credit (Credit::serialize, empty = none) ‖ u8 #requests ‖ request*
//   request  = 2-byte value ‖ 24-byte nonce message ‖ bytes16 blinded_message ‖ bytes16 inverse ‖ i64 ready_at
//   bytes16  = u16 length ‖ bytes
//
// Parsing is strict: exact magic, known version, exact lengths, bounded counts and sizes (kMaxAccounts,
// kMaxItems), no trailing bytes, unique ids below next_id, every item's fields consistent with its stage and
// referring to accounts that exist, blinded messages and inverses of the key's modulus size. Any violation is
// kDecode with a message saying what was wrong.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "client/wallet/blind_request.h"
#include "common/bytes.h"
#include "common/error.h"
#include "common/secure.h"
#include "crypto/rsa_blind.h"
#include "currency/credit.h"

namespace openpcc::wallet {

inline constexpr std::string_view kStateMagic = "OPCCWLT1";
inline constexpr uint32_t kStateFormatVersion = 1;
inline constexpr size_t kAccountTokenSize = 32;
inline constexpr size_t kMaxAccounts = 1024;
inline constexpr size_t kMaxItems = 4096;
inline constexpr size_t kMaxRequestsPerItem = 15;  // the BlindBank's batch limit
inline constexpr size_t kMaxStateBadgeSize = 16 * 1024;
// Files larger than this are refused before parsing (services::kMaxSecretFileSize is the hard cap of the reader).
inline constexpr size_t kMaxStateFileSize = 1 << 20;

enum class AccountRole : uint8_t {
  kFill = 1,           // receives one AuthBank withdrawal, is split into credits, then emptied
  kConsolidation = 2,  // collects refunds, cancelled and expiring credits and leftovers; a source of credits too
};

struct Account {
  uint64_t id = 0;
  AccountRole role = AccountRole::kFill;
  SecretBytes token;  // kAccountTokenSize random bytes: the account's bearer secret
  int64_t balance = 0;  // as the bank last reported it (or as expected from our own operations)

  Account clone() const;
};

enum class Stage : uint8_t {
  kSourceWithdraw = 1,
  kDeposit = 2,
  kBatchWithdraw = 3,
  kAvailable = 4,
  kHeld = 5,
  kExchange = 6,
  kWithdrawFull = 7,
  kReturn = 8,
};
std::string_view to_string(Stage stage);

// Where value goes once an exchange (or a full withdrawal and its exchange) is done.
enum class Destination : uint8_t {
  kNone = 0,     // stages that have no choice
  kPool = 1,     // back into the prefetch pool (a credit of the prefetch value)
  kDeposit = 2,  // into the consolidation account
  kReturn = 3,   // back to the AuthBank
};

struct Item {
  uint64_t id = 0;
  Stage stage = Stage::kAvailable;
  Destination destination = Destination::kNone;
  // A credit the router may have spent: a kHeld one (in a file being loaded: its payment never reported back), or
  // a kExchange of a cancelled, abandoned or recovered payment's credit. 410 on its exchange means "spent", not
  // "lost".
  bool maybe_spent = false;
  uint64_t account_id = 0;  // target (kSourceWithdraw, kDeposit) or source (kBatchWithdraw, kWithdrawFull)
  // Unix milliseconds before which the next request must not be sent: the random privacy delay, a retry backoff, or
  // the unsafe-increment wait of a credit we minted.
  int64_t not_before_ms = 0;
  std::optional<currency::Credit> credit;  // kDeposit, kAvailable, kHeld, kExchange, kReturn
  std::vector<BlindRequest> requests;      // kSourceWithdraw: 1; kBatchWithdraw: 1..15; kExchange: 0 or 1

  Item clone() const;
};

// Value (in currency units) that crossed the wallet's boundary, for status, audits and the conservation check:
//   from_source + refunds_received + rounding
//     = returned_to_source + spent + spent_unknown + lost + Σ balances + Σ credits held + value in flight
struct Counters {
  int64_t from_source = 0;         // withdrawn from the AuthBank
  int64_t returned_to_source = 0;  // refunded to the AuthBank
  int64_t spent = 0;               // face value of the credits of completed payments
  int64_t refunds_received = 0;    // refund credits handed back by completed payments
  int64_t spent_unknown = 0;       // maybe-spent credits the router had indeed spent
  int64_t lost = 0;                // credits the banks refused for good (expired, spent elsewhere, invalid)
  int64_t rounding = 0;            // Σ (full-withdrawal credit − balance): the banks' stochastic rounding
  int64_t payments = 0;            // number of completed payments
  int64_t cancelled = 0;           // number of cancelled payments
  // Maybe-spent credits (cancelled or abandoned payments, and those found held after a crash) are exchanged:
  int64_t recovered = 0;           // number that turned out unspent and came back
  int64_t recovered_spent = 0;     // number that the router had spent (their value is in spent_unknown)

  friend bool operator==(const Counters&, const Counters&) = default;
};

struct WalletState {
  crypto::RsaPublicKey currency_key;  // the key every credit and request here belongs to
  uint64_t next_id = 1;               // ids of accounts and items are unique and below this
  Counters counters;
  // The badge of the last AuthBank withdrawal (currency::Badge bytes; empty = none yet): the SDK sends it with
  // every request, and a wallet that starts with credits left over may not withdraw for a while.
  Bytes badge;
  std::vector<Account> accounts;
  std::vector<Item> items;

  WalletState clone() const;
  // True when the state holds no value at all: no accounts, no items.
  bool empty() const { return accounts.empty() && items.empty(); }

  Account* find_account(uint64_t id);
  const Account* find_account(uint64_t id) const;
  Item* find_item(uint64_t id);
  const Item* find_item(uint64_t id) const;
};

// The file bytes (see above). The state must satisfy the rules parse_state checks (check_state).
Bytes serialize_state(const WalletState& state);
Result<WalletState> parse_state(ByteSpan file);
// The consistency rules of parse_state, for a state built in memory.
Status check_state(const WalletState& state);

}  // namespace openpcc::wallet

#include "client/wallet/wallet_state.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <set>
#include <string>
#include <utility>

#include "common/byte_reader.h"
#include "currency/badge.h"

namespace openpcc::wallet {
namespace {

constexpr size_t kDigestSize = 32;
constexpr size_t kHeaderSize = 8 + 4 + 4;
constexpr size_t kMaxKeyComponentSize = 1024;  // 8192-bit moduli
constexpr size_t kCounterCount = 11;

std::array<uint8_t, kDigestSize> sha256(ByteSpan data) {
  std::array<uint8_t, kDigestSize> out{};
  unsigned int size = 0;
  // One-shot digest over memory; only a broken library fails it, and a wrong checksum then fails closed.
  if (EVP_Digest(data.data(), data.size(), out.data(), &size, EVP_sha256(), nullptr) != 1 || size != kDigestSize) {
    std::abort();
  }
  return out;
}

std::unexpected<Error> corrupt(std::string what) {
  return make_error(ErrorCode::kDecode, "wallet state: " + std::move(what));
}

// ---- writing ----

void put_u8(Bytes& out, uint8_t v) { out.push_back(v); }
void put_u16(Bytes& out, uint16_t v) { append_u16be(out, v); }
void put_u32(Bytes& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}
void put_u64(Bytes& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}
void put_i64(Bytes& out, int64_t v) { put_u64(out, static_cast<uint64_t>(v)); }
void put_bytes16(Bytes& out, ByteSpan b) {
  put_u16(out, static_cast<uint16_t>(b.size()));
  append(out, b);
}

std::array<int64_t, kCounterCount> counter_list(const Counters& c) {
  return {c.from_source, c.returned_to_source, c.spent,    c.refunds_received, c.spent_unknown,  c.lost,
          c.rounding,    c.payments,           c.cancelled, c.recovered,       c.recovered_spent};
}

Counters counters_from(const std::array<int64_t, kCounterCount>& v) {
  Counters c;
  c.from_source = v[0];
  c.returned_to_source = v[1];
  c.spent = v[2];
  c.refunds_received = v[3];
  c.spent_unknown = v[4];
  c.lost = v[5];
  c.rounding = v[6];
  c.payments = v[7];
  c.cancelled = v[8];
  c.recovered = v[9];
  c.recovered_spent = v[10];
  return c;
}

// ---- reading ----

class Reader {
 public:
  explicit Reader(ByteSpan data) : r_(data) {}

  Result<uint8_t> u8(std::string_view what) { return r_.read_u8(what); }
  Result<uint16_t> u16(std::string_view what) { return r_.read_u16be(what); }
  Result<uint32_t> u32(std::string_view what) { return r_.read_u32be(what); }
  Result<uint64_t> u64(std::string_view what) {
    auto b = r_.read_bytes(8, what);
    if (!b) return std::unexpected(b.error());
    uint64_t v = 0;
    for (uint8_t byte : *b) v = (v << 8) | byte;
    return v;
  }
  Result<int64_t> i64(std::string_view what) {
    auto v = u64(what);
    if (!v) return std::unexpected(v.error());
    return static_cast<int64_t>(*v);
  }
  Result<ByteSpan> bytes16(std::string_view what, size_t max) {
    auto n = u16(what);
    if (!n) return std::unexpected(n.error());
    if (*n > max) return corrupt(std::string(what) + " is " + std::to_string(*n) + " bytes, above " + std::to_string(max));
    return r_.read_bytes(*n, what);
  }
  Result<ByteSpan> fixed(size_t n, std::string_view what) { return r_.read_bytes(n, what); }
  bool empty() const { return r_.empty(); }
  size_t remaining() const { return r_.remaining(); }

 private:
  ByteReader r_;
};

// Unwraps a Result inside a function returning Result/Status, prefixing "wallet state" to decode errors.
#define WALLET_TRY(var, expr)                                                   \
  auto var##_result = (expr);                                                   \
  if (!var##_result) return corrupt(var##_result.error().message);              \
  auto var = std::move(*var##_result)

Result<BlindRequest> read_request(Reader& in) {
  WALLET_TRY(value_bytes, in.fixed(currency::kValueWireSize, "request value"));
  auto value = currency::Value::parse(value_bytes);
  if (!value) return corrupt("request value: " + value.error().message);
  WALLET_TRY(nonce_bytes, in.fixed(currency::kNonceMessageSize, "request nonce"));
  auto nonce = currency::Nonce::parse_message(nonce_bytes);
  if (!nonce) return corrupt("request nonce: " + nonce.error().message);
  WALLET_TRY(blinded, in.bytes16("blinded message", kMaxKeyComponentSize));
  WALLET_TRY(inverse, in.bytes16("inverse", kMaxKeyComponentSize));
  WALLET_TRY(ready_at, in.i64("request ready_at"));
  BlindRequest out;
  out.value = *value;
  out.nonce = *nonce;
  out.blinded_message.assign(blinded.begin(), blinded.end());
  out.inverse = SecretBytes(inverse);
  out.ready_at = ready_at;
  return out;
}

Result<Item> read_item(Reader& in) {
  Item item;
  WALLET_TRY(id, in.u64("item id"));
  WALLET_TRY(stage, in.u8("item stage"));
  WALLET_TRY(destination, in.u8("item destination"));
  WALLET_TRY(flags, in.u8("item flags"));
  WALLET_TRY(account_id, in.u64("item account"));
  WALLET_TRY(not_before_ms, in.i64("item not_before_ms"));
  WALLET_TRY(credit_bytes, in.bytes16("item credit", currency::kMaxCreditSize));
  WALLET_TRY(request_count, in.u8("item request count"));
  if (stage < static_cast<uint8_t>(Stage::kSourceWithdraw) || stage > static_cast<uint8_t>(Stage::kReturn)) {
    return corrupt("unknown item stage " + std::to_string(stage));
  }
  if (destination > static_cast<uint8_t>(Destination::kReturn)) {
    return corrupt("unknown item destination " + std::to_string(destination));
  }
  if (flags > 1) return corrupt("unknown item flags " + std::to_string(flags));
  if (request_count > kMaxRequestsPerItem) return corrupt("item has " + std::to_string(request_count) + " requests");
  item.id = id;
  item.stage = static_cast<Stage>(stage);
  item.destination = static_cast<Destination>(destination);
  item.maybe_spent = (flags & 1) != 0;
  item.account_id = account_id;
  item.not_before_ms = not_before_ms;
  if (!credit_bytes.empty()) {
    auto credit = currency::Credit::parse(credit_bytes);
    if (!credit) return corrupt("item credit: " + credit.error().message);
    item.credit = std::move(*credit);
  }
  for (uint8_t i = 0; i < request_count; ++i) {
    auto request = read_request(in);
    if (!request) return std::unexpected(request.error());
    item.requests.push_back(std::move(*request));
  }
  return item;
}

#undef WALLET_TRY

Status check_request(const BlindRequest& request, size_t modulus_size, std::string_view where) {
  if (request.value.is_special() || request.value.amount() <= 0) {
    return corrupt(std::string(where) + ": request value is not a spendable amount");
  }
  if (request.blinded_message.size() != modulus_size || request.inverse.size() != modulus_size) {
    return corrupt(std::string(where) + ": request blinded message or inverse is not of the key's size");
  }
  return {};
}

Status check_credit(const std::optional<currency::Credit>& credit, bool wanted, std::string_view where) {
  if (wanted && !credit) return corrupt(std::string(where) + ": credit missing");
  if (!wanted && credit) return corrupt(std::string(where) + ": unexpected credit");
  if (credit && (credit->value.is_special() || credit->value.amount() <= 0)) {
    return corrupt(std::string(where) + ": credit value is not a spendable amount");
  }
  return {};
}

}  // namespace

std::string_view to_string(Stage stage) {
  switch (stage) {
    case Stage::kSourceWithdraw: return "source-withdraw";
    case Stage::kDeposit: return "deposit";
    case Stage::kBatchWithdraw: return "batch-withdraw";
    case Stage::kAvailable: return "available";
    case Stage::kHeld: return "held";
    case Stage::kExchange: return "exchange";
    case Stage::kWithdrawFull: return "withdraw-full";
    case Stage::kReturn: return "return";
  }
  return "unknown";
}

Account Account::clone() const {
  Account out;
  out.id = id;
  out.role = role;
  out.token = token.clone();
  out.balance = balance;
  return out;
}

Item Item::clone() const {
  Item out;
  out.id = id;
  out.stage = stage;
  out.destination = destination;
  out.maybe_spent = maybe_spent;
  out.account_id = account_id;
  out.not_before_ms = not_before_ms;
  out.credit = credit;
  for (const auto& r : requests) out.requests.push_back(r.clone());
  return out;
}

WalletState WalletState::clone() const {
  WalletState out;
  out.currency_key = currency_key;
  out.next_id = next_id;
  out.counters = counters;
  out.badge = badge;
  for (const auto& a : accounts) out.accounts.push_back(a.clone());
  for (const auto& i : items) out.items.push_back(i.clone());
  return out;
}

Account* WalletState::find_account(uint64_t id) {
  auto it = std::find_if(accounts.begin(), accounts.end(), [&](const Account& a) { return a.id == id; });
  return it == accounts.end() ? nullptr : &*it;
}
const Account* WalletState::find_account(uint64_t id) const {
  return const_cast<WalletState*>(this)->find_account(id);
}
Item* WalletState::find_item(uint64_t id) {
  auto it = std::find_if(items.begin(), items.end(), [&](const Item& i) { return i.id == id; });
  return it == items.end() ? nullptr : &*it;
}
const Item* WalletState::find_item(uint64_t id) const { return const_cast<WalletState*>(this)->find_item(id); }

Status check_state(const WalletState& state) {
  const size_t modulus_size = state.currency_key.modulus_size();
  if (modulus_size > kMaxKeyComponentSize || state.currency_key.e.size() > kMaxKeyComponentSize) {
    return corrupt("currency key too large");
  }
  auto key = crypto::RsaPublicKey::from_components(state.currency_key.n, state.currency_key.e);
  if (!key) return corrupt("currency key: " + key.error().message);
  if (key->n != state.currency_key.n || key->e != state.currency_key.e) {
    return corrupt("currency key is not in its canonical form");
  }
  if (state.accounts.size() > kMaxAccounts) return corrupt("too many accounts");
  if (state.items.size() > kMaxItems) return corrupt("too many items");
  if (state.next_id == 0) return corrupt("next id is zero");
  if (state.badge.size() > kMaxStateBadgeSize) return corrupt("badge too large");
  if (!state.badge.empty()) {
    if (auto badge = currency::Badge::parse(state.badge); !badge) return corrupt("badge: " + badge.error().message);
  }
  std::set<uint64_t> ids;
  for (const auto& a : state.accounts) {
    if (a.id == 0 || a.id >= state.next_id || !ids.insert(a.id).second) {
      return corrupt("account id " + std::to_string(a.id) + " is zero, duplicate or not below next id");
    }
    if (a.role != AccountRole::kFill && a.role != AccountRole::kConsolidation) return corrupt("unknown account role");
    if (a.token.size() != kAccountTokenSize) return corrupt("account token is not 32 bytes");
    if (a.balance < 0) return corrupt("negative account balance");
  }
  for (const auto& item : state.items) {
    const std::string where = "item " + std::to_string(item.id) + " (" + std::string(to_string(item.stage)) + ")";
    if (item.id == 0 || item.id >= state.next_id || !ids.insert(item.id).second) {
      return corrupt(where + ": id is zero, duplicate or not below next id");
    }
    for (const auto& r : item.requests) {
      if (auto st = check_request(r, modulus_size, where); !st) return st;
    }
    const bool needs_account = item.stage == Stage::kSourceWithdraw || item.stage == Stage::kDeposit ||
                               item.stage == Stage::kBatchWithdraw || item.stage == Stage::kWithdrawFull;
    if (needs_account) {
      if (!state.find_account(item.account_id)) return corrupt(where + ": refers to an unknown account");
    } else if (item.account_id != 0) {
      return corrupt(where + ": unexpected account");
    }
    const bool needs_destination = item.stage == Stage::kExchange || item.stage == Stage::kWithdrawFull;
    if (needs_destination != (item.destination != Destination::kNone)) {
      return corrupt(where + ": destination does not fit the stage");
    }
    if (item.maybe_spent && item.stage != Stage::kHeld && item.stage != Stage::kExchange) {
      return corrupt(where + ": only held or exchanged credits can be maybe-spent");
    }
    switch (item.stage) {
      case Stage::kSourceWithdraw:
        if (auto st = check_credit(item.credit, false, where); !st) return st;
        if (item.requests.size() != 1) return corrupt(where + ": needs exactly one request");
        break;
      case Stage::kBatchWithdraw:
        if (auto st = check_credit(item.credit, false, where); !st) return st;
        if (item.requests.empty()) return corrupt(where + ": needs 1..15 requests");
        break;
      case Stage::kWithdrawFull:
        if (auto st = check_credit(item.credit, false, where); !st) return st;
        if (!item.requests.empty()) return corrupt(where + ": unexpected requests");
        break;
      case Stage::kExchange:
        if (auto st = check_credit(item.credit, true, where); !st) return st;
        if (item.requests.size() > 1) return corrupt(where + ": at most one request");
        if (!item.requests.empty() && item.requests[0].value != item.credit->value) {
          return corrupt(where + ": request value differs from the credit's");
        }
        break;
      case Stage::kDeposit:
      case Stage::kAvailable:
      case Stage::kHeld:
      case Stage::kReturn:
        if (auto st = check_credit(item.credit, true, where); !st) return st;
        if (!item.requests.empty()) return corrupt(where + ": unexpected requests");
        break;
    }
  }
  return {};
}

Bytes serialize_state(const WalletState& state) {
  Bytes body;
  put_bytes16(body, state.currency_key.n);
  put_bytes16(body, state.currency_key.e);
  put_u64(body, state.next_id);
  for (int64_t c : counter_list(state.counters)) put_i64(body, c);
  put_bytes16(body, state.badge);
  put_u32(body, static_cast<uint32_t>(state.accounts.size()));
  for (const auto& a : state.accounts) {
    put_u64(body, a.id);
    put_u8(body, static_cast<uint8_t>(a.role));
    put_bytes16(body, a.token);
    put_i64(body, a.balance);
  }
  put_u32(body, static_cast<uint32_t>(state.items.size()));
  for (const auto& item : state.items) {
    put_u64(body, item.id);
    put_u8(body, static_cast<uint8_t>(item.stage));
    put_u8(body, static_cast<uint8_t>(item.destination));
    put_u8(body, item.maybe_spent ? 1 : 0);
    put_u64(body, item.account_id);
    put_i64(body, item.not_before_ms);
    Bytes credit = item.credit ? item.credit->serialize() : Bytes();
    put_bytes16(body, credit);
    put_u8(body, static_cast<uint8_t>(item.requests.size()));
    for (const auto& r : item.requests) {
      const auto value = r.value.to_wire();
      append(body, value);
      append(body, r.nonce.message());
      put_bytes16(body, r.blinded_message);
      put_bytes16(body, r.inverse);
      put_i64(body, r.ready_at);
    }
  }
  Bytes file;
  file.reserve(kHeaderSize + body.size() + kDigestSize);
  append(file, as_bytes(kStateMagic));
  put_u32(file, kStateFormatVersion);
  put_u32(file, static_cast<uint32_t>(body.size()));
  append(file, body);
  secure_wipe(body.data(), body.size());
  const auto digest = sha256(file);
  append(file, digest);
  return file;
}

Result<WalletState> parse_state(ByteSpan file) {
  if (file.size() > kMaxStateFileSize) return corrupt("file is larger than " + std::to_string(kMaxStateFileSize));
  if (file.size() < kHeaderSize + kDigestSize) return corrupt("file is too short");
  if (!std::equal(kStateMagic.begin(), kStateMagic.end(), file.begin())) return corrupt("not a wallet state file");
  Reader header(file.subspan(kStateMagic.size(), 8));
  const uint32_t version = *header.u32("version");
  const uint32_t body_size = *header.u32("body length");
  if (version != kStateFormatVersion) {
    return make_error(ErrorCode::kUnsupported,
                      "wallet state: format version " + std::to_string(version) + " is not supported (this build "
                      "reads version " + std::to_string(kStateFormatVersion) + ")");
  }
  if (static_cast<uint64_t>(body_size) + kHeaderSize + kDigestSize != file.size()) {
    return corrupt("length does not match the file size (truncated or extended)");
  }
  const ByteSpan covered = file.first(kHeaderSize + body_size);
  const auto digest = sha256(covered);
  if (!ct_equal(digest, file.subspan(kHeaderSize + body_size))) return corrupt("checksum mismatch");

  Reader in(file.subspan(kHeaderSize, body_size));
  WalletState state;
  auto n = in.bytes16("currency key n", kMaxKeyComponentSize);
  if (!n) return corrupt(n.error().message);
  auto e = in.bytes16("currency key e", kMaxKeyComponentSize);
  if (!e) return corrupt(e.error().message);
  state.currency_key.n.assign(n->begin(), n->end());
  state.currency_key.e.assign(e->begin(), e->end());
  auto next_id = in.u64("next id");
  if (!next_id) return corrupt(next_id.error().message);
  state.next_id = *next_id;
  std::array<int64_t, kCounterCount> counters{};
  for (auto& c : counters) {
    auto v = in.i64("counter");
    if (!v) return corrupt(v.error().message);
    c = *v;
  }
  state.counters = counters_from(counters);
  auto badge = in.bytes16("badge", kMaxStateBadgeSize);
  if (!badge) return corrupt(badge.error().message);
  state.badge.assign(badge->begin(), badge->end());

  auto account_count = in.u32("account count");
  if (!account_count) return corrupt(account_count.error().message);
  if (*account_count > kMaxAccounts) return corrupt("too many accounts");
  for (uint32_t i = 0; i < *account_count; ++i) {
    Account a;
    auto id = in.u64("account id");
    if (!id) return corrupt(id.error().message);
    auto role = in.u8("account role");
    if (!role) return corrupt(role.error().message);
    auto token = in.bytes16("account token", kAccountTokenSize);
    if (!token) return corrupt(token.error().message);
    auto balance = in.i64("account balance");
    if (!balance) return corrupt(balance.error().message);
    if (*role != static_cast<uint8_t>(AccountRole::kFill) && *role != static_cast<uint8_t>(AccountRole::kConsolidation)) {
      return corrupt("unknown account role " + std::to_string(*role));
    }
    a.id = *id;
    a.role = static_cast<AccountRole>(*role);
    a.token = SecretBytes(*token);
    a.balance = *balance;
    state.accounts.push_back(std::move(a));
  }
  auto item_count = in.u32("item count");
  if (!item_count) return corrupt(item_count.error().message);
  if (*item_count > kMaxItems) return corrupt("too many items");
  for (uint32_t i = 0; i < *item_count; ++i) {
    auto item = read_item(in);
    if (!item) return std::unexpected(item.error());
    state.items.push_back(std::move(*item));
  }
  if (!in.empty()) return corrupt(std::to_string(in.remaining()) + " unexpected bytes after the items");
  if (auto st = check_state(state); !st) return std::unexpected(st.error());
  return state;
}

}  // namespace openpcc::wallet

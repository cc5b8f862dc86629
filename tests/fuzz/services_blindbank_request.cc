// BlindBank request handling (services/blindbank/blindbank_api.h, blindbank.h) on arbitrary bytes: each request
// message's parser and decoder, then the bank on an in-memory SQLite database with a fixed test currency key (the
// BlindBank tests' 1024-bit safe-prime key, tests/data/blindbank-currency-key-1024.pem).
//
// Input: byte 0 chooses the operation, byte 1 holds flags, the rest is the request body (or, for the structured
// operations, their parameters):
//   op 0 deposit, 1 withdraw, 2 withdraw-full, 3 exchange, 4 balance: the body is the serialized request message;
//   op 5 structured deposit/exchange: a genuine credit of the test issuer with value bits from bytes 2-3 is
//        deposited into account A or B (flag bit 2), twice when byte 4 is odd, or exchanged for byte 5.. as the
//        blinded message (padded/cut to the modulus size);
//   op 6 structured batch: byte 2 gives the batch size (0..17), each entry a value from the body and a blinded
//        message derived from it, withdrawn from account A and then retried.
//   flags bit 0: put account A's token into the request; bit 1: move the clock forward an hour.
// Checks: no crash; storage, internal and crypto-library errors never happen (kInternal / kUnavailable / kCrypto
// would be bugs); the ledger invariant holds after every input; a retried batch gets the same signatures.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "crypto/sha256.h"
#include "currency/credit_pb.h"
#include "currency/issuer.h"
#include "openpcc/anonpay_banking.pb.h"
#include "services/blindbank/blindbank.h"
#include "services/blindbank/blindbank_api.h"
#include "store/database.h"

using namespace openpcc;

namespace {

constexpr char kCurrencyKeyPem[] = R"(-----BEGIN RSA PRIVATE KEY-----
MIICXAIBAAKBgQDvfQzQGn7jco3bSbjyrrUz3zTzWUf+OfeMrGA63XDDyVPYYAhY
yNFtVMbIYjnTqBppa5nX0qPxFDuFCEbrh0XZcikpEfIUBz8JruQ+S74MSILDoxfj
8bK1TUTxzadgGy0n9BsFxG1LCzoZ0fSUKBYOCrwWcVbIWlj506TRamNOlQIDAQAB
AoGAdZCBtbcMC0O0961dKWUyduBf8gYmHVr/dwM3yi3iqXovusyJzGvowy8W1k/B
63FeZdn4j8ZLzJEOFuRVTFH/qygRMtiR6tt8fmL4llsNjNATDq5KqV8YSj681YLG
F7rAxSsVoG4DnYEXjp00uRxmME5R2CbzkIDwamzqxfOqshECQQD39O/km0TU0FPu
YiTh3OId3QBVXDwGYErI9yBPYh8iLeuh4fCu2cQfA3kdAoi3le2kwLKo1nWBwSE/
XApaLa2jAkEA90HKhpTREFEoZ21eOwcziw7vgNbvnaVqTT9NaAZ3nb1RjV7mI7U8
2ec/r6rLCmYd4T0AV+SOpgqgS4uw5BbmZwJAJF3cQV80fTIA3VmvpyDKWS7suZhJ
hXXiAg+cwYfWoSCzCo8kycBOr23G+aZBfwuSSzOoAHNT0LAOvEg3jHpemQJAQDGl
mjFS4hCgE9IyT9L7z9Ot3N5w0ZYbtjiEKUjcj2iSnsiPqZ+pT82ZHEuUcXu3sD29
NBST8In7ugFniKBlawJBANdZ3P3xnyhRcCNl32p/v32pURMkfjVd7quNkDUKZTrX
0+ZfUC3LXO3hKocdZOjWc+I4ySDpZx/voLoGq7+6Ow4=
-----END RSA PRIVATE KEY-----
)";

void require(bool ok) {
  if (!ok) std::abort();
}

struct World {
  std::shared_ptr<store::Database> db;
  std::unique_ptr<blindbank::BlindBank> bank;
  std::unique_ptr<currency::Issuer> issuer;
  int64_t now = 1'750'000'000;
  Bytes token_a = Bytes(blindbank::kAccountTokenSize, 0xaa);
  Bytes token_b = Bytes(blindbank::kAccountTokenSize, 0xbb);
};

// The in-memory database grows with every accepted operation; a fresh world every kInputsPerWorld inputs keeps long
// campaigns within libFuzzer's RSS limit.
constexpr int kInputsPerWorld = 10000;

std::unique_ptr<World> make_world() {
  auto w = std::make_unique<World>();
  auto db = store::open_database("sqlite::memory:");
  require(db.has_value());
  w->db = std::move(*db);
  auto key = crypto::RsaPrivateKey::from_pem(kCurrencyKeyPem);
  auto issuer_key = crypto::RsaPrivateKey::from_pem(kCurrencyKeyPem);
  require(key && issuer_key);
  auto bank_issuer = currency::Issuer::create(std::move(*key));
  auto issuer = currency::Issuer::create(std::move(*issuer_key));
  require(bank_issuer && issuer);
  w->issuer = std::make_unique<currency::Issuer>(std::move(*issuer));
  auto bank = blindbank::BlindBank::open(w->db, std::move(*bank_issuer));
  require(bank.has_value());
  w->bank = std::move(*bank);
  // Account A starts rich, so withdrawals get as far as signing.
  for (int i = 0; i < 4; ++i) {
    auto credit = w->issuer->issue_unblinded(currency::Value::from_amount(currency::kMaxAmount).value(), w->now);
    require(credit.has_value());
    require(w->bank->deposit(w->token_a, *credit, w->now).has_value());
  }
  return w;
}

World& world() {
  static std::unique_ptr<World> w;
  static int inputs = 0;
  if (!w || ++inputs % kInputsPerWorld == 0) {
    w.reset();
    w = make_world();
  }
  return *w;
}

void check_error(const Error& e) {
  if (e.code == ErrorCode::kInternal || e.code == ErrorCode::kUnavailable || e.code == ErrorCode::kCrypto) {
    std::abort();
  }
}

template <class T>
void check(const Result<T>& r) {
  if (!r) check_error(r.error());
}

void check_books(World& w) {
  auto audit = w.bank->audit();
  require(audit.has_value() && audit->consistent() && audit->balances >= 0);
  for (const Bytes* token : {&w.token_a, &w.token_b}) {
    auto b = w.bank->balance(*token);
    require(b.has_value() && *b >= 0 && *b <= blindbank::kMaxBalance);
  }
}

template <class Message>
bool parse(Message& m, ByteSpan body) {
  return m.ParseFromArray(body.data(), static_cast<int>(body.size()));
}

std::string token_string(const Bytes& token) { return std::string(token.begin(), token.end()); }

// A modulus-sized message from arbitrary bytes, top bit clear (so below the 1024-bit n: the signer's refusal of
// messages ≥ n is covered by the unit tests and by raw requests here).
Bytes sized_message(ByteSpan bytes, size_t size, uint8_t salt) {
  Bytes m(size, 0);
  for (size_t i = 0; i < size; ++i) m[i] = static_cast<uint8_t>((i < bytes.size() ? bytes[i] : 0) ^ salt);
  m[0] &= 0x7f;  // mostly below n
  return m;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  World& w = world();
  const uint8_t op = data[0] % 7;
  const uint8_t flags = data[1];
  const ByteSpan body(data + 2, size - 2);
  if (flags & 2) w.now += 3600;
  const size_t modulus_size = w.bank->public_key().modulus_size();

  switch (op) {
    case 0: {
      pb::DepositRequest m;
      if (!parse(m, body)) break;
      if (flags & 1) m.set_account_token(token_string(w.token_a));
      check(blindbank::serve(*w.bank, m, w.now));
      break;
    }
    case 1: {
      pb::BatchWithdrawRequest m;
      if (!parse(m, body)) break;
      if (flags & 1) m.set_account_token(token_string(w.token_a));
      auto answer = blindbank::serve(*w.bank, m, w.now);
      check(answer);
      if (answer) require(answer->blind_signatures_size() == m.requests_size());
      break;
    }
    case 2: {
      pb::WithdrawFullUnblindedRequest m;
      if (!parse(m, body)) break;
      if (flags & 1) m.set_account_token(token_string(w.token_b));  // never empty A
      auto answer = blindbank::serve(*w.bank, m, w.now);
      check(answer);
      if (answer) {
        auto credit = currency::from_proto(answer->credit());
        require(credit.has_value());
        // Put it back so B does not just drain.
        require(w.bank->deposit(w.token_b, *credit, w.now).has_value());
      }
      break;
    }
    case 3: {
      pb::ExchangeRequest m;
      if (!parse(m, body)) break;
      check(blindbank::serve(*w.bank, m, w.now));
      break;
    }
    case 4: {
      pb::BalanceRequest m;
      if (!parse(m, body)) break;
      if (flags & 1) m.set_account_token(token_string(w.token_a));
      check(blindbank::serve(*w.bank, m, w.now));
      break;
    }
    case 5: {
      if (body.size() < 3) break;
      auto value = currency::Value::from_bits(static_cast<uint16_t>((body[0] << 8 | body[1]) & 0x1ff), false);
      if (!value || value->amount() == 0) break;
      auto credit = w.issuer->issue_unblinded(*value, w.now);
      require(credit.has_value());
      const Bytes& token = (flags & 4) ? w.token_b : w.token_a;
      if (body[2] & 2) {
        const Bytes message = sized_message(body.subspan(3), modulus_size, 0);
        auto sig = w.bank->exchange(*credit, message, w.now);
        check(sig);
        if (sig) {
          auto again = w.bank->exchange(*credit, message, w.now);
          require(again.has_value() && *again == *sig);
        }
        break;
      }
      auto first = w.bank->deposit(token, *credit, w.now);
      check(first);
      if (!first) break;  // the balance cap
      if (body[2] & 1) {  // a retry of the same deposit: the same balance, nothing added
        auto again = w.bank->deposit(token, *credit, w.now);
        require(again.has_value() && *again == *first);
      }
      const Bytes& other = (flags & 4) ? w.token_a : w.token_b;
      auto stolen = w.bank->deposit(other, *credit, w.now);
      require(!stolen && stolen.error().code == ErrorCode::kAlreadyUsed);
      break;
    }
    default: {
      if (body.empty()) break;
      const size_t n = body[0] % 18;
      std::vector<blindbank::BlindSignRequest> requests;
      for (size_t i = 0; i < n; ++i) {
        const uint8_t b = body.size() > 1 + i ? body[1 + i] : 0;
        auto value = currency::Value::from_bits(static_cast<uint16_t>(b), (b & 0x80) && (flags & 8));
        if (!value) break;
        // Derived from the input and the entry's index; identical when the input repeats bytes (duplicates).
        const auto digest = crypto::sha256(body.subspan(0, std::min(body.size(), 1 + i + (b & 1))));
        requests.push_back(blindbank::BlindSignRequest{*value, sized_message(digest, modulus_size, b)});
      }
      auto first = w.bank->withdraw_batch(w.token_a, requests, w.now);
      check(first);
      if (first) {
        require(first->blind_signatures.size() == requests.size());
        auto again = w.bank->withdraw_batch(w.token_a, requests, w.now);
        require(again.has_value() && again->blind_signatures == first->blind_signatures);
      }
      break;
    }
  }
  check_books(w);
  return 0;
}

// AuthBank request handling (services/authbank/authbank.h) on arbitrary bytes: each request body parser and decoder,
// then the logic layer on an in-memory SQLite ledger with a fixed test currency key (the AuthBank tests' 1024-bit
// safe-prime key) and badge key.
//
// Input: byte 0 chooses the operation, byte 1 holds flags, the rest is the request body (or, for the structured
// refund, the parameters of a credit the harness issues):
//   op 0 withdraw, 1 attestation token, 2 refund, 3 config (the rest is the cf-authorization header);
//   op 4 structured refund: an unblinded credit of the test issuer with value bits from bytes 2-3 and a nonce from
//        bytes 4.., refunded into account A or B (flag bit 2), possibly twice.
//   flags bit 0: send the valid key of account A in the header; bit 1: put it into the body's api_key field;
//   bit 3: move the clock forward an hour.
// Checks: no crash; storage and internal errors never happen (kInternal / kUnavailable / kCrypto would be bugs);
// balances stay within [0, kMaxBalance] and the journal always equals the balances.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "currency/credit_pb.h"
#include "currency/issuer.h"
#include "openpcc/auth.pb.h"
#include "services/authbank/authbank.h"
#include "store/database.h"

using namespace openpcc;

namespace {

constexpr char kCurrencyKeyPem[] = R"(-----BEGIN RSA PRIVATE KEY-----
MIICXAIBAAKBgQDRuf+hAXrgxhnphU8mjA12GITFdwmt42k158xtZc7HrIf2lbhD
LcftxYK06wS4k3TnTE9D2PyvDMDRm1xt0kKnz7zgAyR7toTr8CAv+WRwZEv/rw/1
MD6eeAbV0IEyMhljNji+ZYKqU1HoeKAM/1e0j3dUisqUdGMc6j1hEIOIHQIDAQAB
AoGASzmu8j5Ip+UGmFdDq6ziizCCNx3ab++45iftkHPK9p3w6saLIDWEl8mXd3Mw
70+cx/X8HHbxM4ycgNJ8FbwsQcRfyoM0Q/L4U0CPcprrZhfRsP8aOHMg+vJh2n4e
x0AMCjczbB7Z+z6baf7FraoA965HqrlKGYNrkrc5Sllqf/UCQQD2Hhv0Pb3+wZKZ
NCK45L8eVNnSHbKNzx/i+0j9i6lveMGyzX+pujP605a3HgbFW4OP06mciC13t8DR
XEObqxVDAkEA2iXRj/RlXJX89/jg+oRoahHBTbmD83+wCAy0saoPVaIp4UauvO+z
AnEBODSkunwR0RcP4osTbi3FPvaCJupnHwJAHptD8q2y8Pl1l6PKJaAcvFLk+6JB
0CzP1FRXkWBK49fqjqfLlnnXePvTJFaRlP16cOprj1HIBblOOzr0FWnDLQJAMHb2
d+T0H/2yleTVFtMT33zSVVJB3ncfxKoN+uqtPXkplML/TzpxqrkwbCxF7KhjzPAy
t0Huryu8BqD9iWfKQQJBAKd/r9DGnPtfCYt6q6IH+6iad3aZ4xcHLctixK0d3KpW
4g93MZUeHQaYMGlMJx2dWF0wyoJAEA720P9SzPOGUgU=
-----END RSA PRIVATE KEY-----
)";

void require(bool ok) {
  if (!ok) std::abort();
}

struct World {
  std::shared_ptr<store::Database> db;
  std::unique_ptr<authbank::AuthBank> bank;
  std::unique_ptr<currency::Issuer> issuer;
  int64_t now = 1'750'000'000;
  int64_t account_a = 0;
  int64_t account_b = 0;
  std::string key_a;
  std::string key_b;
};

World& world() {
  static World* w = [] {
    auto* w = new World();
    auto db = store::open_database("sqlite::memory:");
    require(db.has_value());
    w->db = std::move(*db);
    auto key = crypto::RsaPrivateKey::from_pem(kCurrencyKeyPem);
    auto issuer_key = crypto::RsaPrivateKey::from_pem(kCurrencyKeyPem);
    auto badge = crypto::Ed25519PrivateKey::from_seed(Bytes(32, 0x42));
    require(key && issuer_key && badge);
    auto issuer = currency::Issuer::create(std::move(*issuer_key));
    require(issuer.has_value());
    w->issuer = std::make_unique<currency::Issuer>(std::move(*issuer));
    authbank::AuthBankOptions options;
    options.relay_urls = {"https://relay.example"};
    options.attestation_limit = authbank::RateLimit{.per_second = 1000, .burst = 1000};
    options.clock = [w] { return w->now; };
    auto bank = authbank::AuthBank::create(w->db, std::move(*key), std::move(*badge), std::move(options));
    require(bank.has_value());
    w->bank = std::move(*bank);
    auto& ledger = w->bank->ledger();
    auto a = ledger.create_account("fuzz", "a", {"model-a"}, w->now);
    auto b = ledger.create_account("fuzz", "b", {}, w->now);
    require(a && b);
    w->account_a = a->id;
    w->account_b = b->id;
    auto ka = ledger.issue_key(a->id, std::nullopt, w->now);
    auto kb = ledger.issue_key(b->id, std::nullopt, w->now);
    require(ka && kb);
    w->key_a = ka->key.text();
    w->key_b = kb->key.text();
    require(ledger.add_funds(a->id, int64_t{1} << 40, w->now).has_value());
    return w;
  }();
  return *w;
}

// Storage, internal and crypto-library failures must not be reachable from request bytes.
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
  auto audit = w.bank->ledger().audit();
  require(audit.has_value() && audit->empty());
  for (int64_t id : {w.account_a, w.account_b}) {
    auto account = w.bank->ledger().account(id);
    require(account.has_value() && account->balance >= 0 && account->balance <= authbank::kMaxBalance);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  World& w = world();
  const uint8_t op = data[0] % 5;
  const uint8_t flags = data[1];
  const ByteSpan body(data + 2, size - 2);
  if (flags & 8) w.now += 3600;
  std::optional<std::string_view> header;
  if (flags & 1) header = w.key_a;

  switch (op) {
    case 0:
    case 1: {
      pb::AuthWithdrawalRequest message;
      if (!message.ParseFromArray(body.data(), static_cast<int>(body.size()))) break;
      if (flags & 2) message.set_api_key(w.key_a);
      auto request = op == 0 ? authbank::decode_withdrawal_request(message, header)
                             : authbank::decode_attestation_request(message, header);
      check(request);
      if (!request) break;
      auto answer = op == 0 ? w.bank->withdraw(*request) : w.bank->attestation_token(*request);
      check(answer);
      if (answer && answer->badge) {
        require(currency::verify_badge(w.bank->badge_public_key(), *answer->badge).has_value());
      }
      break;
    }
    case 2: {
      pb::AuthRefundRequest message;
      if (!message.ParseFromArray(body.data(), static_cast<int>(body.size()))) break;
      if (flags & 2) message.set_api_key(w.key_a);
      auto request = authbank::decode_refund_request(message, header);
      check(request);
      if (request) check(w.bank->refund(*request));
      break;
    }
    case 3: {
      const std::string_view text(reinterpret_cast<const char*>(body.data()), body.size());
      auto key = authbank::resolve_api_key(flags & 1 ? header : std::optional<std::string_view>(text),
                                           flags & 2 ? std::optional<std::string_view>(text) : std::nullopt);
      check(key);
      if (key) check(w.bank->config(*key));
      break;
    }
    default: {
      if (body.size() < 2) break;
      auto value = currency::Value::from_bits(static_cast<uint16_t>((body[0] << 8 | body[1]) & 0x1ff), false);
      if (!value || value->amount() == 0) break;
      auto credit = w.issuer->issue_unblinded(*value, w.now);
      require(credit.has_value());
      const std::string& key = (flags & 4) ? w.key_b : w.key_a;
      const int times = 1 + (body.size() > 2 ? body[2] % 2 : 0);
      for (int i = 0; i < times; ++i) {
        auto r = w.bank->refund(authbank::RefundRequest{authbank::ApiKey::parse(key).value(), *credit});
        check(r);
        require(r.has_value() && r->replayed == (i > 0));
      }
      // The same credit into the other account is always refused as spent.
      const std::string& other = (flags & 4) ? w.key_a : w.key_b;
      auto stolen = w.bank->refund(authbank::RefundRequest{authbank::ApiKey::parse(other).value(), *credit});
      require(!stolen && stolen.error().code == ErrorCode::kAlreadyUsed);
    }
  }
  check_books(w);
  return 0;
}

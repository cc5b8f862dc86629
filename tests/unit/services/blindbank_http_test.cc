// The BlindBank over real loopback HTTP with BlindBankClient: the whole flow, status codes and their mapping back,
// byte-identical answers for unknown and emptied accounts, limits, storage failures, and client retries of lost
// answers that move no money twice.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "blindbank_test_support.h"
#include "currency/credit_pb.h"
#include "currency/sql_nonce_store.h"
#include "net/blocking_pool.h"
#include "net/client.h"
#include "net/runtime.h"
#include "net/server.h"
#include "openpcc/anonpay_banking.pb.h"
#include "openpcc/httpfmt.pb.h"
#include "services/blindbank/blindbank_api.h"
#include "services/blindbank/blindbank_client.h"
#include "services/blindbank/blindbank_http.h"
#include "services/common/http_transport.h"

namespace openpcc::blindbank {
namespace {

using currency::Credit;
using testkit::Backend;
using testkit::BankFixture;
using testkit::blind;
using testkit::Blinded;
using testkit::kNow;
using testkit::new_token;
using testkit::value_of;

std::string str(const google::protobuf::MessageLite& m) { return m.SerializeAsString(); }

class BlindBankHttp : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    f_ = std::make_unique<BankFixture>(GetParam());
    ASSERT_TRUE(f_->ok());
    start(f_->bank());
  }
  void TearDown() override {
    if (server_) server_->shutdown(std::chrono::seconds(2));
    server_.reset();
    pool_.reset();
    if (f_ && f_->ok()) f_->expect_consistent();
  }

  void start(BlindBank& bank) {
    pool_ = std::make_unique<net::BlockingPool>(2);
    ServiceOptions options;
    options.clock = [] { return kNow; };
    net::ServerConfig config;
    config.max_body_bytes = max_request_body(bank, options);
    auto server = net::Server::start(runtime_, config, make_blindbank_handler(bank, *pool_, options));
    ASSERT_TRUE(server) << server.error().to_string();
    server_ = std::move(*server);
    url_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }

  BlindBankClient client(ClientOptions options = {}) {
    return BlindBankClient(services::direct_transport(net::Client::create().value()), url_, options);
  }

  template <class T>
  T run(std::function<net::Task<T>()> fn) {
    return runtime_.block_on<T>(std::move(fn));
  }

  net::ClientResponse post(const std::string& path, const std::string& body,
                           const std::string& type = "application/octet-stream") {
    net::ClientRequest request("POST", url_ + path, Bytes(body.begin(), body.end()));
    if (!type.empty()) request.headers.set("Content-Type", type);
    auto response = net::fetch_blocking(std::move(request));
    EXPECT_TRUE(response) << response.error().to_string();
    return response ? *response : net::ClientResponse{};
  }

  static std::string error_text(const net::ClientResponse& r) {
    pb::Error e;
    e.ParseFromArray(r.body.data(), static_cast<int>(r.body.size()));
    return e.message();
  }

  net::Runtime runtime_{2};
  std::unique_ptr<BankFixture> f_;
  std::unique_ptr<net::BlockingPool> pool_;
  std::unique_ptr<net::Server> server_;
  std::string url_;
};

TEST_P(BlindBankHttp, WholeFlowThroughTheClient) {
  BlindBankClient bank = client();
  const Bytes token = new_token();
  const Credit first = f_->mint(512);
  auto balance = run<Result<int64_t>>([&]() -> net::Task<Result<int64_t>> {
    co_return co_await bank.deposit(token, first);
  });
  ASSERT_TRUE(balance) << balance.error().to_string();
  EXPECT_EQ(*balance, 512);

  std::vector<Blinded> blinded;
  std::vector<BlindSignRequest> requests;
  for (int64_t amount : {64, 32, 16}) {
    blinded.push_back(blind(f_->key(), value_of(amount)));
    requests.push_back(blinded.back().request);
  }
  auto w = run<Result<WithdrawResult>>([&]() -> net::Task<Result<WithdrawResult>> {
    co_return co_await bank.withdraw_batch(token, requests);
  });
  ASSERT_TRUE(w) << w.error().to_string();
  EXPECT_EQ(w->balance, 400);
  std::vector<Credit> held;
  for (size_t i = 0; i < blinded.size(); ++i) held.push_back(blinded[i].pending.finish(w->blind_signatures[i]).value());

  Blinded fresh = blind(f_->key(), held[0].value);
  auto sig = run<Result<Bytes>>([&]() -> net::Task<Result<Bytes>> {
    co_return co_await bank.exchange(held[0], fresh.request.blinded_message);
  });
  ASSERT_TRUE(sig) << sig.error().to_string();
  held[0] = fresh.pending.finish(*sig).value();

  auto full = run<Result<Credit>>([&]() -> net::Task<Result<Credit>> { co_return co_await bank.withdraw_full(token); });
  ASSERT_TRUE(full) << full.error().to_string();
  EXPECT_EQ(full->value.amount(), 400);
  held.push_back(*full);

  auto zero = run<Result<int64_t>>([&]() -> net::Task<Result<int64_t>> { co_return co_await bank.balance(token); });
  ASSERT_TRUE(zero);
  EXPECT_EQ(*zero, 0);

  const Bytes sink = new_token();
  int64_t total = 0;
  for (const Credit& c : held) {
    auto b = run<Result<int64_t>>([&]() -> net::Task<Result<int64_t>> { co_return co_await bank.deposit(sink, c); });
    ASSERT_TRUE(b) << b.error().to_string();
    total = *b;
  }
  EXPECT_EQ(total, 512);
}

TEST_P(BlindBankHttp, StatusCodesAndTheirMapping) {
  BlindBankClient bank = client();
  const Bytes token = new_token();
  const Credit credit = f_->mint(8);
  ASSERT_TRUE(f_->bank().deposit(token, credit, kNow));

  // Insufficient balance: 400 "insufficient balance", as the reference.
  Blinded b = blind(f_->key(), value_of(16));
  std::vector<BlindSignRequest> requests{b.request};
  auto poor = run<Result<WithdrawResult>>([&]() -> net::Task<Result<WithdrawResult>> {
    co_return co_await bank.withdraw_batch(token, requests);
  });
  ASSERT_FALSE(poor);
  EXPECT_EQ(poor.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(poor.error().message, kInsufficientBalanceMessage);
  auto raw = post("/withdraw", str(encode(WithdrawCall{token, requests})));
  EXPECT_EQ(raw.status, 400);
  EXPECT_EQ(error_text(raw), "insufficient balance");

  // Spent → 410 / kAlreadyUsed.
  const Bytes other = new_token();
  auto spent = run<Result<int64_t>>([&]() -> net::Task<Result<int64_t>> {
    co_return co_await bank.deposit(other, credit);
  });
  ASSERT_FALSE(spent);
  EXPECT_EQ(spent.error().code, ErrorCode::kAlreadyUsed);
  EXPECT_EQ(post("/deposit", str(encode(DepositCall{other, credit}))).status, 410);

  // Locked elsewhere → 409 / kConflict.
  auto nonces = currency::make_sql_nonce_store(f_->db_ptr());
  const Credit locked = f_->mint(8);
  ASSERT_TRUE(nonces->lock(locked.nonce, kNow));
  auto busy = run<Result<int64_t>>([&]() -> net::Task<Result<int64_t>> {
    co_return co_await bank.deposit(other, locked);
  });
  ASSERT_FALSE(busy);
  EXPECT_EQ(busy.error().code, ErrorCode::kConflict);
  EXPECT_EQ(post("/deposit", str(encode(DepositCall{other, locked}))).status, 409);

  // Bad input → 400 / kInvalidArgument with the server's words.
  const Bytes short_token(31, 1);
  auto bad = run<Result<int64_t>>([&]() -> net::Task<Result<int64_t>> { co_return co_await bank.balance(short_token); });
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad.error().message, "account token must be 32 bytes");
  Credit forged = f_->mint(8);
  forged.signature[3] ^= 4;
  EXPECT_EQ(post("/deposit", str(encode(DepositCall{token, forged}))).status, 400);
  pb::DepositRequest no_credit;
  no_credit.set_account_token(std::string(32, 'x'));
  EXPECT_EQ(post("/deposit", str(no_credit)).status, 400);
  EXPECT_EQ(post("/deposit", "\xff\xff\xff garbage").status, 400);
  // Batches of 0 and 16.
  pb::BatchWithdrawRequest none;
  none.set_account_token(std::string(32, 'x'));
  EXPECT_EQ(post("/withdraw", str(none)).status, 400);
  std::vector<Blinded> many;
  std::vector<BlindSignRequest> sixteen;
  for (int i = 0; i < 16; ++i) {
    many.push_back(blind(f_->key(), value_of(1)));
    sixteen.push_back(many.back().request);
  }
  EXPECT_EQ(post("/withdraw", str(encode(WithdrawCall{token, sixteen}))).status, 400);
  sixteen.pop_back();
  // 15 fit the withdrawal body limit (and fail for the balance only).
  auto fifteen = post("/withdraw", str(encode(WithdrawCall{token, sixteen})));
  EXPECT_EQ(fifteen.status, 400);
  EXPECT_EQ(error_text(fifteen), "insufficient balance");
}

TEST_P(BlindBankHttp, ContentTypeLimitsRoutesAndHealth) {
  pb::BalanceRequest balance;
  balance.set_account_token(std::string(32, 'a'));
  EXPECT_EQ(post("/balance", str(balance), "text/plain").status, 415);
  EXPECT_EQ(post("/balance", str(balance), "").status, 415);
  EXPECT_EQ(post("/balance", str(balance), "Application/Octet-Stream").status, 200);
  // Each endpoint has its own limit: 8 KiB for the small ones, about 15 modulus sizes for /withdraw.
  EXPECT_EQ(post("/deposit", std::string(kDefaultMaxBodyBytes + 1, 'a')).status, 413);
  EXPECT_EQ(post("/balance", std::string(kDefaultMaxBodyBytes + 1, 'a')).status, 413);
  const size_t withdraw_limit = default_withdraw_body_limit(f_->key());
  EXPECT_EQ(post("/withdraw", std::string(withdraw_limit + 1, 'a')).status, 413);
  EXPECT_EQ(post("/nope", "").status, 404);
  auto get = net::fetch_blocking(net::ClientRequest("GET", url_ + "/deposit"));
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 405);
  auto health = net::fetch_blocking(net::ClientRequest("GET", url_ + "/_health"));
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(std::string(health->body.begin(), health->body.end()), "{\"status\":\"OK\"}");
  EXPECT_EQ(health->headers.get("Content-Type").value_or(""), "application/json");
}

TEST_P(BlindBankHttp, UnknownAndEmptiedAccountsGetByteIdenticalAnswers) {
  const Bytes emptied = new_token();
  ASSERT_TRUE(f_->bank().deposit(emptied, f_->mint(16), kNow));
  Blinded out = blind(f_->key(), value_of(16));
  ASSERT_TRUE(f_->bank().withdraw_batch(emptied, std::vector<BlindSignRequest>{out.request}, kNow));
  const Bytes unknown = new_token();
  Blinded probe = blind(f_->key(), value_of(1));
  std::vector<BlindSignRequest> requests{probe.request};
  for (const std::string path : {"/balance", "/withdraw", "/withdraw-full"}) {
    auto body_for = [&](const Bytes& token) {
      if (path == "/balance") return str(encode(BalanceCall{token}));
      if (path == "/withdraw") return str(encode(WithdrawCall{token, requests}));
      return str(encode(WithdrawFullCall{token}));
    };
    auto a = post(path, body_for(emptied));
    auto b = post(path, body_for(unknown));
    EXPECT_EQ(a.status, b.status) << path;
    EXPECT_EQ(a.body, b.body) << path;
    EXPECT_EQ(a.headers.get("Content-Type"), b.headers.get("Content-Type")) << path;
  }
}

TEST_P(BlindBankHttp, LostAnswersAreRetriedWithoutMovingMoneyTwice) {
  // A transport that delivers each request but drops the first two answers, as a cut connection would.
  std::atomic<int> calls{0};
  std::vector<Bytes> bodies;
  std::mutex mu;
  services::HttpTransport inner = services::direct_transport(net::Client::create().value());
  services::HttpTransport lossy = [&, inner](net::ClientRequest request) -> net::Task<Result<net::ClientResponse>> {
    {
      std::lock_guard lock(mu);
      bodies.push_back(request.body);
    }
    auto response = co_await inner(std::move(request));
    if (calls.fetch_add(1) % 3 != 2) co_return make_error(ErrorCode::kIo, "connection reset (simulated)");
    co_return response;
  };
  ClientOptions options;
  options.max_attempts = 3;
  options.retry_backoff = std::chrono::milliseconds(1);
  BlindBankClient bank(lossy, url_, options);

  const Bytes token = new_token();
  const Credit credit = f_->mint(256);
  auto balance = run<Result<int64_t>>([&]() -> net::Task<Result<int64_t>> {
    co_return co_await bank.deposit(token, credit);
  });
  ASSERT_TRUE(balance) << balance.error().to_string();
  EXPECT_EQ(*balance, 256);

  std::vector<Blinded> blinded;
  std::vector<BlindSignRequest> requests;
  for (int64_t amount : {64, 64}) {
    blinded.push_back(blind(f_->key(), value_of(amount)));
    requests.push_back(blinded.back().request);
  }
  auto w = run<Result<WithdrawResult>>([&]() -> net::Task<Result<WithdrawResult>> {
    co_return co_await bank.withdraw_batch(token, requests);
  });
  ASSERT_TRUE(w) << w.error().to_string();
  EXPECT_EQ(w->balance, 128);
  for (size_t i = 0; i < 2; ++i) EXPECT_TRUE(blinded[i].pending.finish(w->blind_signatures[i]));

  Credit exchanged_from = f_->mint(32);
  Blinded fresh = blind(f_->key(), exchanged_from.value);
  auto sig = run<Result<Bytes>>([&]() -> net::Task<Result<Bytes>> {
    co_return co_await bank.exchange(exchanged_from, fresh.request.blinded_message);
  });
  ASSERT_TRUE(sig) << sig.error().to_string();
  EXPECT_TRUE(fresh.pending.finish(*sig));

  auto full = run<Result<Credit>>([&]() -> net::Task<Result<Credit>> { co_return co_await bank.withdraw_full(token); });
  ASSERT_TRUE(full) << full.error().to_string();
  EXPECT_EQ(full->value.amount(), 128);

  EXPECT_EQ(calls.load(), 12);
  for (size_t i = 0; i < bodies.size(); i += 3) {
    EXPECT_EQ(bodies[i], bodies[i + 1]);
    EXPECT_EQ(bodies[i], bodies[i + 2]);
  }
  auto audit = f_->bank().audit();
  ASSERT_TRUE(audit);
  EXPECT_EQ(audit->deposits_in, 256);
  EXPECT_EQ(audit->withdrawals_out, 128);
  EXPECT_EQ(audit->full_withdrawals_out, 128);
  EXPECT_EQ(audit->exchanged, 32);
  EXPECT_EQ(audit->balances, 0);

  // Without retries the lost answer surfaces as kUnavailable, naming the transport's error; it is retryable.
  BlindBankClient once(lossy, url_);
  calls = 0;
  auto lost = run<Result<int64_t>>([&]() -> net::Task<Result<int64_t>> { co_return co_await once.balance(token); });
  ASSERT_FALSE(lost);
  EXPECT_EQ(lost.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(lost.error().message.find("connection reset (simulated)"), std::string::npos) << lost.error().message;
  EXPECT_TRUE(is_retryable(lost.error()));
  // A bank that is not there at all: the same.
  BlindBankClient nowhere(services::direct_transport(net::Client::create().value()), "http://127.0.0.1:1");
  auto refused = run<Result<int64_t>>([&]() -> net::Task<Result<int64_t>> {
    co_return co_await nowhere.balance(token);
  });
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kUnavailable);
}

INSTANTIATE_TEST_SUITE_P(Backends, BlindBankHttp, ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         testkit::backend_name);

// Storage failures: 503 for "busy or down", 500 for anything else; neither leaks details.
TEST(BlindBankHttpStorage, BusyDatabaseIs503AndBrokenTablesAre500) {
  openpcc::test_support::TempDir dir("openpcc-blindbank-busy");
  const std::string url = "sqlite:" + (dir / "money.db").string();
  store::DatabaseOptions impatient;
  impatient.sqlite_busy_timeout = std::chrono::milliseconds(20);
  impatient.retry.max_attempts = 2;
  auto db = store::open_database(url, impatient);
  ASSERT_TRUE(db);
  auto bank = BlindBank::open(*db, testkit::test_issuer());
  ASSERT_TRUE(bank);
  currency::Issuer minter = testkit::test_issuer();

  net::Runtime runtime(2);
  net::BlockingPool pool(2);
  ServiceOptions options;
  options.clock = [] { return kNow; };
  auto server = net::Server::start(runtime, net::ServerConfig{}, make_blindbank_handler(**bank, pool, options));
  ASSERT_TRUE(server);
  const std::string base = "http://127.0.0.1:" + std::to_string((*server)->port());
  BlindBankClient client(services::direct_transport(net::Client::create().value()), base);
  auto deposit = [&](const Credit& credit) {
    const Bytes token = new_token();
    return runtime.block_on<Result<int64_t>>([&]() -> net::Task<Result<int64_t>> {
      co_return co_await client.deposit(token, credit);
    });
  };

  // Another process holds the write lock for longer than the bank is willing to wait.
  auto other = store::open_database(url);
  ASSERT_TRUE(other);
  std::mutex mu;
  std::condition_variable cv;
  bool locked = false, release = false;
  std::thread holder([&] {
    (void)(*other)->transact([&](store::Transaction& tx) -> Status {
      auto r = tx.execute("DELETE FROM blindbank_accounts WHERE balance < 0");
      std::unique_lock lock(mu);
      locked = true;
      cv.notify_all();
      cv.wait(lock, [&] { return release; });
      if (!r) return std::unexpected(r.error());
      return {};
    });
  });
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return locked; });
  }
  const Credit credit = minter.issue_unblinded(value_of(8), kNow).value();
  auto busy = deposit(credit);
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  holder.join();
  ASSERT_FALSE(busy);
  EXPECT_EQ(busy.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(busy.error().message.find("503"), std::string::npos) << busy.error().message;
  EXPECT_NE(busy.error().message.find("temporarily unavailable"), std::string::npos);
  // The same credit goes through once the lock is gone: the failed attempt left nothing behind.
  auto ok = deposit(credit);
  ASSERT_TRUE(ok) << ok.error().to_string();

  // A broken schema is an internal error: 500, "internal error", no SQL in the answer.
  ASSERT_TRUE((*other)->transact([](store::Transaction& tx) -> Status {
    auto r = tx.execute("DROP TABLE blindbank_journal");
    if (!r) return std::unexpected(r.error());
    return {};
  }));
  auto broken = deposit(minter.issue_unblinded(value_of(8), kNow).value());
  ASSERT_FALSE(broken);
  EXPECT_EQ(broken.error().code, ErrorCode::kUnavailable);  // every 5xx maps to kUnavailable
  EXPECT_NE(broken.error().message.find("500: internal error"), std::string::npos) << broken.error().message;
  EXPECT_EQ(broken.error().message.find("journal"), std::string::npos);
  (*server)->shutdown(std::chrono::seconds(1));
}

TEST(BlindBankClientMapping, StatusCodes) {
  EXPECT_EQ(blindbank_error_code_for_status(400), ErrorCode::kInvalidArgument);
  EXPECT_EQ(blindbank_error_code_for_status(409), ErrorCode::kConflict);
  EXPECT_EQ(blindbank_error_code_for_status(410), ErrorCode::kAlreadyUsed);
  EXPECT_EQ(blindbank_error_code_for_status(413), ErrorCode::kLimitExceeded);
  EXPECT_EQ(blindbank_error_code_for_status(415), ErrorCode::kUnsupported);
  EXPECT_EQ(blindbank_error_code_for_status(404), ErrorCode::kNotFound);
  EXPECT_EQ(blindbank_error_code_for_status(429), ErrorCode::kInvalidArgument);
  for (int s : {500, 502, 503, 504}) EXPECT_EQ(blindbank_error_code_for_status(s), ErrorCode::kUnavailable);
  EXPECT_EQ(blindbank_http_status(ErrorCode::kInsufficientBalance), 400);
  EXPECT_EQ(blindbank_http_status(ErrorCode::kAuthenticationFailed), 400);
  EXPECT_EQ(blindbank_http_status(ErrorCode::kAlreadyUsed), 410);
  EXPECT_EQ(blindbank_http_status(ErrorCode::kConflict), 409);
  EXPECT_EQ(blindbank_http_status(ErrorCode::kUnavailable), 503);
  EXPECT_EQ(blindbank_http_status(ErrorCode::kInternal), 500);
}

}  // namespace
}  // namespace openpcc::blindbank

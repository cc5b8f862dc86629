// The transparency log service: the logic layer (TransparencyLog), publisher tokens, the configuration, and the HTTP
// API over real loopback HTTP with TlogClient — appends with and without a token, proofs by index and by leaf hash,
// consistency, status codes, and a client LogState that follows the log and refuses a forked one.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "crypto/ed25519.h"
#include "net/client.h"
#include "net/runtime.h"
#include "services/common/http_transport.h"
#include "services/tlog/publisher_token.h"
#include "services/tlog/tlog.h"
#include "services/tlog/tlog_api.h"
#include "services/tlog/tlog_client.h"
#include "services/tlog/tlog_http.h"
#include "services/tlog/tlog_service.h"
#include "support/temp_dir.h"
#include "transparency/log_state.h"

namespace openpcc::tlog {
namespace {

constexpr char kOrigin[] = "tlog.test/openpcc";

transparency::NoteSigner make_signer(uint8_t seed_byte = 7) {
  auto key = crypto::Ed25519PrivateKey::from_seed(Bytes(32, seed_byte));
  EXPECT_TRUE(key);
  auto signer = transparency::NoteSigner::create(kOrigin, std::move(*key));
  EXPECT_TRUE(signer);
  return std::move(*signer);
}

std::shared_ptr<store::Database> memory_db() {
  auto db = store::open_database("sqlite::memory:");
  EXPECT_TRUE(db);
  return *db;
}

Bytes envelope(int n) {
  std::string s = "{\"payload\":\"" + std::to_string(n) +
                  "\",\"payloadType\":\"application/vnd.in-toto+json\",\"signatures\":[]}";
  return to_bytes(s);
}

// ---------------------------------------------------------------------------------------------------------------------
// Logic

TEST(TransparencyLog, AppendReceiptsVerify) {
  auto log = TransparencyLog::open(memory_db(), make_signer());
  ASSERT_TRUE(log) << log.error().to_string();
  auto verifier = transparency::NoteVerifier::parse((*log)->verifier_key());
  ASSERT_TRUE(verifier);
  EXPECT_EQ(verifier->name(), kOrigin);
  for (int i = 0; i < 12; ++i) {
    Bytes e = envelope(i);
    auto r = (*log)->append(e);
    ASSERT_TRUE(r) << r.error().to_string();
    EXPECT_EQ(r->index, static_cast<uint64_t>(i));
    EXPECT_FALSE(r->duplicate);
    EXPECT_EQ(r->leaf_hash, transparency::leaf_hash(e));
    auto cp = transparency::open_signed_checkpoint(r->checkpoint.note, *verifier, kOrigin);
    ASSERT_TRUE(cp) << cp.error().to_string();
    EXPECT_EQ(*cp, r->checkpoint.checkpoint);
    EXPECT_EQ(cp->size, static_cast<uint64_t>(i + 1));
    EXPECT_TRUE(transparency::verify_inclusion(r->index, cp->size, r->leaf_hash, r->inclusion_proof, cp->root));
  }
  // The same bytes again: the existing index, a proof at the current size.
  auto again = (*log)->append(envelope(3));
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->index, 3u);
  EXPECT_EQ(again->checkpoint.checkpoint.size, 12u);
  EXPECT_TRUE(transparency::verify_inclusion(3, 12, again->leaf_hash, again->inclusion_proof,
                                             again->checkpoint.checkpoint.root));
  // Limits.
  EXPECT_EQ((*log)->append(Bytes{}).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ((*log)->append(Bytes(kDefaultMaxEntryBytes + 1, 'x')).error().code, ErrorCode::kLimitExceeded);
  // Lookups.
  auto by_hash = (*log)->inclusion_by_leaf_hash(transparency::leaf_hash(envelope(5)), 9);
  ASSERT_TRUE(by_hash);
  EXPECT_EQ(by_hash->index, 5u);
  EXPECT_EQ(by_hash->tree_size, 9u);
  EXPECT_EQ((*log)->inclusion_by_leaf_hash(transparency::leaf_hash(envelope(99)), std::nullopt).error().code,
            ErrorCode::kNotFound);
  EXPECT_EQ((*log)->inclusion_by_leaf_hash(transparency::leaf_hash(envelope(10)), 9).error().code,
            ErrorCode::kInvalidArgument);
  uint64_t to = 0;
  auto proof = (*log)->consistency(4, std::nullopt, &to);
  ASSERT_TRUE(proof);
  EXPECT_EQ(to, 12u);
  EXPECT_TRUE(transparency::verify_consistency(4, 12, *(*log)->store().root(4), *(*log)->store().root(12), *proof));
}

TEST(TransparencyLog, SameKeySameHeadSameNote) {
  // Ed25519 is deterministic: two processes on one database sign the same head into the same bytes.
  auto db = memory_db();
  auto a = TransparencyLog::open(db, make_signer());
  auto b = TransparencyLog::open(db, make_signer());
  ASSERT_TRUE(a && b);
  ASSERT_TRUE((*a)->append(envelope(1)));
  auto ca = (*a)->checkpoint();
  auto cb = (*b)->checkpoint();
  ASSERT_TRUE(ca && cb);
  EXPECT_EQ(ca->note, cb->note);
}

// ---------------------------------------------------------------------------------------------------------------------
// Publisher tokens

TEST(PublisherTokens, FormatHashAndCheck) {
  std::string token = generate_publisher_token();
  EXPECT_TRUE(token.starts_with("tlogpub_"));
  EXPECT_EQ(token.size(), 8u + 43u);
  EXPECT_NE(token, generate_publisher_token());
  std::vector<std::string> hashes{publisher_token_hash("other"), publisher_token_hash(token)};
  auto tokens = PublisherTokens::from_hashes(hashes);
  ASSERT_TRUE(tokens);
  EXPECT_TRUE(tokens->authorizes("Bearer " + token));
  EXPECT_TRUE(tokens->authorizes("bearer " + token));
  EXPECT_TRUE(tokens->authorizes("BEARER  " + token + " "));
  EXPECT_TRUE(tokens->authorizes("Bearer other"));
  EXPECT_FALSE(tokens->authorizes(token));
  EXPECT_FALSE(tokens->authorizes("Basic " + token));
  EXPECT_FALSE(tokens->authorizes("Bearer " + token.substr(1)));
  EXPECT_FALSE(tokens->authorizes("Bearer "));
  EXPECT_FALSE(tokens->authorizes(""));
  std::vector<std::string> bad{"abcd"};
  EXPECT_FALSE(PublisherTokens::from_hashes(bad));
  auto none = PublisherTokens::from_hashes({});
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->authorizes("Bearer " + token));
}

// ---------------------------------------------------------------------------------------------------------------------
// Configuration

TEST(TlogConfig, ParsesAndRefuses) {
  nlohmann::json good = {{"listen", "127.0.0.1:0"},
                         {"database", "sqlite:tlog.db"},
                         {"origin", "log.example/x"},
                         {"publisher_token_hashes", {publisher_token_hash("t")}},
                         {"limits", {{"max_entry_bytes", 4096}}}};
  auto cfg = parse_service_config(good, "/base");
  ASSERT_TRUE(cfg) << cfg.error().to_string();
  EXPECT_EQ(cfg->database, "sqlite:/base/tlog.db");
  EXPECT_EQ(cfg->log_key, std::filesystem::path("/base/tlog.key"));
  EXPECT_EQ(cfg->max_entry_bytes, 4096u);
  EXPECT_EQ(verifier_key_path(cfg->log_key), std::filesystem::path("/base/tlog.key.vkey"));
  for (const char* key : {"database", "origin"}) {
    nlohmann::json j = good;
    j.erase(key);
    EXPECT_FALSE(parse_service_config(j, "/base")) << key;
  }
  nlohmann::json j = good;
  j["origin"] = "has space";
  EXPECT_FALSE(parse_service_config(j, "/base"));
  j = good;
  j["publisher_token_hashes"] = {"nothex"};
  EXPECT_FALSE(parse_service_config(j, "/base"));
  j = good;
  j["unknown_key"] = 1;
  EXPECT_FALSE(parse_service_config(j, "/base"));
}

// ---------------------------------------------------------------------------------------------------------------------
// HTTP

class TlogHttp : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    token_ = generate_publisher_token();
    ServiceConfig config;
    config.host = "127.0.0.1";
    config.port = 0;
    config.data_dir = dir_.path();
    config.database = "sqlite:" + (dir_ / "tlog.db").string();
    config.origin = kOrigin;
    config.log_key = dir_ / "tlog.key";
    config.publisher_token_hashes = {publisher_token_hash(token_)};
    config.max_entry_bytes = 4096;
    config.storage_threads = 2;
    auto service = Service::start(config);
    ASSERT_TRUE(service) << service.error().to_string();
    service_ = std::move(*service);
    url_ = service_->url();
    auto verifier = transparency::NoteVerifier::parse(service_->verifier_key());
    ASSERT_TRUE(verifier);
    verifier_.emplace(std::move(*verifier));
  }
  void TearDown() override {
    if (service_) service_->shutdown(std::chrono::seconds(2));
  }

  TlogClient client(std::string token = {}) {
    return TlogClient(services::direct_transport(net::Client::create().value()), url_, std::move(token));
  }
  template <class T>
  T run(std::function<net::Task<T>()> fn) {
    return runtime_.block_on<T>(std::move(fn));
  }
  Result<AppendReceipt> append(TlogClient& c, Bytes e) {
    return run<Result<AppendReceipt>>([&]() -> net::Task<Result<AppendReceipt>> { co_return co_await c.append(e); });
  }
  net::ClientResponse raw(const std::string& method, const std::string& path_and_query, Bytes body = {},
                          net::Headers headers = {}) {
    net::ClientRequest request(method, url_ + path_and_query, std::move(body), std::move(headers));
    auto response = net::fetch_blocking(std::move(request));
    EXPECT_TRUE(response) << response.error().to_string();
    return response ? *response : net::ClientResponse{};
  }

  openpcc::test_support::TempDir dir_{"openpcc-tlog-http"};
  net::Runtime runtime_{1};
  std::unique_ptr<Service> service_;
  std::string url_, token_;
  std::optional<transparency::NoteVerifier> verifier_;
};

TEST_F(TlogHttp, AppendAndProveThroughTheClient) {
  TlogClient publisher = client(token_);
  std::vector<AppendReceipt> receipts;
  for (int i = 0; i < 9; ++i) {
    auto r = append(publisher, envelope(i));
    ASSERT_TRUE(r) << r.error().to_string();
    EXPECT_EQ(r->index, static_cast<uint64_t>(i));
    auto cp = transparency::open_signed_checkpoint(r->checkpoint.note, *verifier_, kOrigin);
    ASSERT_TRUE(cp);
    EXPECT_TRUE(transparency::verify_inclusion(r->index, cp->size, r->leaf_hash, r->inclusion_proof, cp->root));
    receipts.push_back(*r);
  }
  auto dup = append(publisher, envelope(4));
  ASSERT_TRUE(dup);
  EXPECT_TRUE(dup->duplicate);
  EXPECT_EQ(dup->index, 4u);

  // A client that follows the log.
  TlogClient reader = client();
  auto state = transparency::LogState::open(dir_ / "client" / "tlog.checkpoint", *verifier_, kOrigin);
  ASSERT_TRUE(state);
  auto cp = run<Result<transparency::Checkpoint>>(
      [&]() -> net::Task<Result<transparency::Checkpoint>> { co_return co_await reader.update(*state); });
  ASSERT_TRUE(cp) << cp.error().to_string();
  EXPECT_EQ(cp->size, 9u);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(append(publisher, envelope(100 + i)));
  cp = run<Result<transparency::Checkpoint>>(
      [&]() -> net::Task<Result<transparency::Checkpoint>> { co_return co_await reader.update(*state); });
  ASSERT_TRUE(cp) << cp.error().to_string();
  EXPECT_EQ(cp->size, 14u);

  // Entries and proofs against the state's checkpoint.
  auto e = run<Result<transparency::LogEntry>>(
      [&]() -> net::Task<Result<transparency::LogEntry>> { co_return co_await reader.entry(6); });
  ASSERT_TRUE(e) << e.error().to_string();
  EXPECT_EQ(e->data, envelope(6));
  auto proof = run<Result<InclusionAnswer>>(
      [&]() -> net::Task<Result<InclusionAnswer>> { co_return co_await reader.inclusion_proof(6, 14); });
  ASSERT_TRUE(proof) << proof.error().to_string();
  EXPECT_TRUE(state->verify_inclusion(6, e->leaf_hash, proof->proof));
  auto by_hash = run<Result<InclusionAnswer>>([&]() -> net::Task<Result<InclusionAnswer>> {
    co_return co_await reader.inclusion_proof_by_leaf_hash(transparency::leaf_hash(envelope(101)), 14);
  });
  ASSERT_TRUE(by_hash) << by_hash.error().to_string();
  EXPECT_EQ(by_hash->index, 10u);
  EXPECT_TRUE(state->verify_inclusion(10, by_hash->leaf_hash, by_hash->proof));
  auto consistency = run<Result<std::vector<Hash>>>(
      [&]() -> net::Task<Result<std::vector<Hash>>> { co_return co_await reader.consistency_proof(3, 14); });
  ASSERT_TRUE(consistency);
  EXPECT_TRUE(transparency::verify_consistency(3, 14, receipts[2].checkpoint.checkpoint.root, cp->root, *consistency));
  // Errors come back mapped.
  auto missing = run<Result<transparency::LogEntry>>(
      [&]() -> net::Task<Result<transparency::LogEntry>> { co_return co_await reader.entry(14); });
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  auto unknown = run<Result<InclusionAnswer>>([&]() -> net::Task<Result<InclusionAnswer>> {
    co_return co_await reader.inclusion_proof_by_leaf_hash(transparency::leaf_hash(envelope(999)), 14);
  });
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, ErrorCode::kNotFound);
  auto beyond = run<Result<InclusionAnswer>>(
      [&]() -> net::Task<Result<InclusionAnswer>> { co_return co_await reader.inclusion_proof(2, 15); });
  ASSERT_FALSE(beyond);
  EXPECT_EQ(beyond.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(TlogHttp, AppendNeedsAToken) {
  TlogClient anonymous = client();
  auto no_token = append(anonymous, envelope(1));
  ASSERT_FALSE(no_token);
  EXPECT_EQ(no_token.error().code, ErrorCode::kUnauthenticated);
  TlogClient wrong = client(generate_publisher_token());
  auto r = append(wrong, envelope(1));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnauthenticated);
  net::Headers h;
  h.set("Content-Type", "application/json");
  auto res = raw("POST", "/v1/log/entries", envelope(1), h);
  EXPECT_EQ(res.status, 401);
  EXPECT_EQ(res.headers.get("WWW-Authenticate").value_or(""), "Bearer");
  // Nothing was appended.
  auto cp = raw("GET", "/v1/log/checkpoint");
  EXPECT_EQ(cp.status, 200);
  EXPECT_EQ(transparency::open_signed_checkpoint(to_string(cp.body), *verifier_)->size, 0u);
}

TEST_F(TlogHttp, StatusCodes) {
  net::Headers auth;
  auth.set("Authorization", "Bearer " + token_);
  net::Headers json = auth;
  json.set("Content-Type", "Application/JSON; charset=utf-8");
  EXPECT_EQ(raw("POST", "/v1/log/entries", envelope(1), auth).status, 415);
  net::Headers text = auth;
  text.set("Content-Type", "text/plain");
  EXPECT_EQ(raw("POST", "/v1/log/entries", envelope(1), text).status, 415);
  EXPECT_EQ(raw("POST", "/v1/log/entries", Bytes(4097, 'x'), json).status, 413);
  EXPECT_EQ(raw("POST", "/v1/log/entries", Bytes{}, json).status, 400);
  auto ok = raw("POST", "/v1/log/entries", envelope(1), json);
  ASSERT_EQ(ok.status, 200);
  auto receipt = parse_append_receipt(to_string(ok.body));
  ASSERT_TRUE(receipt) << receipt.error().to_string();
  EXPECT_EQ(receipt->index, 0u);
  EXPECT_EQ(raw("GET", "/v1/log/entries").status, 405);
  EXPECT_EQ(raw("POST", "/v1/log/checkpoint").status, 405);
  EXPECT_EQ(raw("GET", "/v1/nothing").status, 404);
  auto cp = raw("GET", "/v1/log/checkpoint");
  EXPECT_EQ(cp.status, 200);
  EXPECT_EQ(cp.headers.get("Content-Type").value_or(""), "text/plain; charset=utf-8");
  EXPECT_EQ(raw("GET", "/v1/log/checkpoint?x=1").status, 400);
  EXPECT_EQ(raw("GET", "/v1/log/entry").status, 400);
  EXPECT_EQ(raw("GET", "/v1/log/entry?index=0").status, 200);
  EXPECT_EQ(raw("GET", "/v1/log/entry?index=1").status, 404);
  EXPECT_EQ(raw("GET", "/v1/log/entry?index=01").status, 400);
  EXPECT_EQ(raw("GET", "/v1/log/entry?index=-1").status, 400);
  EXPECT_EQ(raw("GET", "/v1/log/entry?index=99999999999999999999").status, 400);
  EXPECT_EQ(raw("GET", "/v1/log/entry?index=0&index=0").status, 400);
  EXPECT_EQ(raw("GET", "/v1/log/proof/inclusion?index=0").status, 200);
  EXPECT_EQ(raw("GET", "/v1/log/proof/inclusion").status, 400);
  EXPECT_EQ(raw("GET", "/v1/log/proof/inclusion?index=0&leafHash=" + to_hex(receipt->leaf_hash)).status, 400);
  EXPECT_EQ(raw("GET", "/v1/log/proof/inclusion?leafHash=" + to_hex(receipt->leaf_hash)).status, 200);
  EXPECT_EQ(raw("GET", "/v1/log/proof/inclusion?leafHash=abcd").status, 400);
  EXPECT_EQ(raw("GET", "/v1/log/proof/inclusion?index=0&treeSize=2").status, 400);
  EXPECT_EQ(raw("GET", "/v1/log/proof/inclusion?index=1&treeSize=1").status, 400);
  EXPECT_EQ(raw("GET", "/v1/log/proof/consistency?from=0").status, 200);
  EXPECT_EQ(raw("GET", "/v1/log/proof/consistency?from=2").status, 400);
  EXPECT_EQ(raw("GET", "/v1/log/proof/consistency").status, 400);
  EXPECT_EQ(raw("GET", "/_health").status, 200);
  // The verifier key file next to the key.
  std::ifstream in(verifier_key_path(dir_ / "tlog.key"));
  std::string vkey;
  std::getline(in, vkey);
  EXPECT_EQ(vkey, service_->verifier_key());
}

TEST_F(TlogHttp, ClientRefusesAForkedLog) {
  TlogClient publisher = client(token_);
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(append(publisher, envelope(i)));
  TlogClient reader = client();
  auto state = transparency::LogState::in_memory(*verifier_, kOrigin);
  auto first = run<Result<transparency::Checkpoint>>(
      [&]() -> net::Task<Result<transparency::Checkpoint>> { co_return co_await reader.update(state); });
  ASSERT_TRUE(first) << first.error().to_string();

  // A second log with the same key and origin but other entries: larger, and then the same size.
  ServiceConfig config;
  config.host = "127.0.0.1";
  config.port = 0;
  config.database = "sqlite:" + (dir_ / "fork.db").string();
  config.origin = kOrigin;
  config.log_key = dir_ / "tlog.key";
  config.publisher_token_hashes = {publisher_token_hash(token_)};
  config.storage_threads = 1;
  auto fork = Service::start(config);
  ASSERT_TRUE(fork) << fork.error().to_string();
  TlogClient fork_publisher(services::direct_transport(net::Client::create().value()), (*fork)->url(), token_);
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(append(fork_publisher, envelope(i == 3 ? 333 : i)));
  TlogClient fork_reader(services::direct_transport(net::Client::create().value()), (*fork)->url());
  auto same_size = run<Result<transparency::Checkpoint>>(
      [&]() -> net::Task<Result<transparency::Checkpoint>> { co_return co_await fork_reader.update(state); });
  ASSERT_FALSE(same_size);
  EXPECT_EQ(same_size.error().code, ErrorCode::kConflict);
  EXPECT_NE(same_size.error().message.find("fork"), std::string::npos) << same_size.error().message;
  ASSERT_TRUE(append(fork_publisher, envelope(7)));
  auto larger = run<Result<transparency::Checkpoint>>(
      [&]() -> net::Task<Result<transparency::Checkpoint>> { co_return co_await fork_reader.update(state); });
  ASSERT_FALSE(larger);
  EXPECT_NE(larger.error().message.find("fork"), std::string::npos) << larger.error().message;
  EXPECT_EQ(state.checkpoint(), *first);
  (*fork)->shutdown(std::chrono::seconds(1));
}

}  // namespace
}  // namespace openpcc::tlog

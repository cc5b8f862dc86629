// The gateway's keys (seed files, derivation, rotation periods, what /ohttp-keys lists), its configuration file and
// its inner-request allowlist — everything that needs no network.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <fstream>

#include "client/ohttp_keys.h"
#include "services/common/key_files.h"
#include "unit/gateway/gateway_test_support.h"

namespace openpcc::gateway {
namespace {

using namespace gwtest;
namespace fs = std::filesystem;

mode_t mode_of(const fs::path& p) {
  struct stat st{};
  ::stat(p.c_str(), &st);
  return st.st_mode & 0777;
}

TEST(GatewayKeys, SeedsAreGeneratedOnceAndDeriveTheSameKeys) {
  test_support::TempDir dir;
  std::vector<GatewayKeySpec> specs{key_spec(dir, 7, -1, 1),
                                    key_spec(dir, 8, -1, 1, crypto::KemId::kDhkemX25519HkdfSha256)};
  auto first = load_gateway_keys(specs);
  ASSERT_TRUE(first) << first.error().to_string();
  EXPECT_EQ(mode_of(specs[0].seed_file), 0600u);
  EXPECT_EQ(fs::file_size(specs[0].seed_file), kKeySeedSize);
  ASSERT_EQ(first->keys.keys().size(), 2u);
  EXPECT_EQ(first->keys.keys()[0].config.kem, crypto::KemId::kX25519Kyber768Draft00);
  EXPECT_EQ(first->keys.keys()[0].config.public_key.size(), 1216u);
  EXPECT_EQ(first->keys.keys()[1].config.public_key.size(), 32u);
  EXPECT_EQ(first->keys.keys()[0].config.algorithms, std::vector<ohttp::SymmetricAlgorithm>{kGatewayAlgorithm});
  // The published bytes are the configs in order; the periods are the specs'.
  auto parsed = ohttp::parse_key_configs(first->ohttp_keys);
  ASSERT_TRUE(parsed);
  ASSERT_EQ(parsed->size(), 2u);
  EXPECT_EQ((*parsed)[0], first->keys.keys()[0].config);
  EXPECT_EQ((*parsed)[1], first->keys.keys()[1].config);
  ASSERT_EQ(first->periods.size(), 2u);
  EXPECT_EQ(first->periods[1].key_id, 8);
  EXPECT_EQ(first->periods[1].active_until, specs[1].active_until);
  // The statement a publisher makes from them is valid.
  EXPECT_TRUE(transparency::ohttp_keys_statement(first->ohttp_keys, first->periods));

  // Same seeds, same keys; a new seed, another key.
  auto again = load_gateway_keys(specs);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->ohttp_keys, first->ohttp_keys);
  fs::remove(specs[1].seed_file);
  auto fresh = load_gateway_keys(specs);
  ASSERT_TRUE(fresh);
  EXPECT_EQ(fresh->keys.keys()[0].config, first->keys.keys()[0].config);
  EXPECT_NE(fresh->keys.keys()[1].config.public_key, first->keys.keys()[1].config.public_key);
}

TEST(GatewayKeys, DerivationFollowsTheSeed) {
  test_support::TempDir dir;
  GatewayKeySpec spec = key_spec(dir, 1, -1, 1, crypto::KemId::kDhkemX25519HkdfSha256);
  const Bytes seed(kKeySeedSize, 0x42);
  ASSERT_TRUE(services::write_secret_file_atomically(spec.seed_file, seed));
  auto material = load_gateway_keys(std::span<const GatewayKeySpec>(&spec, 1));
  ASSERT_TRUE(material) << material.error().to_string();
  auto kem = crypto::Kem::create(crypto::KemId::kDhkemX25519HkdfSha256);
  auto expected = kem->derive_key_pair(seed);
  ASSERT_TRUE(expected);
  const ByteSpan pk = (*expected)->public_key();
  EXPECT_EQ(material->keys.keys()[0].config.public_key, Bytes(pk.begin(), pk.end()));
}

TEST(GatewayKeys, RefusesBadSpecsAndSeeds) {
  test_support::TempDir dir;
  EXPECT_FALSE(load_gateway_keys(std::span<const GatewayKeySpec>()));
  std::vector<GatewayKeySpec> twice{key_spec(dir, 1, -1, 1), key_spec(dir, 1, -1, 1)};
  twice[1].seed_file = dir / "other.seed";
  EXPECT_FALSE(load_gateway_keys(twice));
  GatewayKeySpec backwards = key_spec(dir, 2, 1, -1);
  EXPECT_FALSE(load_gateway_keys(std::span<const GatewayKeySpec>(&backwards, 1)));
  GatewayKeySpec p256 = key_spec(dir, 3, -1, 1, crypto::KemId::kDhkemP256HkdfSha256);
  EXPECT_FALSE(load_gateway_keys(std::span<const GatewayKeySpec>(&p256, 1)));

  GatewayKeySpec short_seed = key_spec(dir, 4, -1, 1);
  ASSERT_TRUE(services::write_secret_file_atomically(short_seed.seed_file, Bytes(31, 1)));
  auto shorter = load_gateway_keys(std::span<const GatewayKeySpec>(&short_seed, 1));
  ASSERT_FALSE(shorter);
  EXPECT_NE(shorter.error().message.find("31 bytes"), std::string::npos) << shorter.error().message;

  GatewayKeySpec readable = key_spec(dir, 5, -1, 1);
  ASSERT_TRUE(services::write_secret_file_atomically(readable.seed_file, Bytes(32, 1)));
  ::chmod(readable.seed_file.c_str(), 0644);
  EXPECT_FALSE(load_gateway_keys(std::span<const GatewayKeySpec>(&readable, 1)));
}

TEST(GatewayKeys, RotatingFinderChecksKeyAlgorithmAndPeriod) {
  test_support::TempDir dir;
  auto material = load_gateway_keys(GatewayUnderTest::default_keys(dir));
  ASSERT_TRUE(material) << material.error().to_string();
  auto shared = std::make_shared<const GatewayKeyMaterial>(std::move(*material));
  auto finder = rotating_key_finder(shared, system_now);
  auto header_for = [](uint8_t id) {
    ohttp::RequestHeader h;
    h.key_id = id;
    h.kem = crypto::KemId::kX25519Kyber768Draft00;
    return h;
  };
  EXPECT_TRUE(finder(header_for(2)));
  EXPECT_TRUE(finder(header_for(3)));
  EXPECT_EQ(finder(header_for(1)).error().code, ohttp::OhttpErrorCode::kInactiveKey);   // expired
  EXPECT_EQ(finder(header_for(4)).error().code, ohttp::OhttpErrorCode::kInactiveKey);   // not yet
  EXPECT_EQ(finder(header_for(9)).error().code, ohttp::OhttpErrorCode::kKeyNotFound);
  ohttp::RequestHeader other_kem = header_for(3);
  other_kem.kem = crypto::KemId::kDhkemX25519HkdfSha256;
  EXPECT_EQ(finder(other_kem).error().code, ohttp::OhttpErrorCode::kKeyNotFound);
  ohttp::RequestHeader other_aead = header_for(3);
  other_aead.aead = crypto::AeadId::kChaCha20Poly1305;
  EXPECT_EQ(finder(other_aead).error().code, ohttp::OhttpErrorCode::kInvalidKey);

  // Moving the clock moves the periods: in three days key 4 is active and key 1 still is not.
  const auto later = system_now() + std::chrono::hours(72);
  auto later_finder = rotating_key_finder(shared, [later] { return later; });
  EXPECT_TRUE(later_finder(header_for(4)));
  EXPECT_EQ(later_finder(header_for(1)).error().code, ohttp::OhttpErrorCode::kInactiveKey);
  // The boundaries are the reference's: active_from excluded, active_until included.
  const auto from = shared->periods[2].active_from;
  const auto until = shared->periods[2].active_until;
  EXPECT_FALSE(rotating_key_finder(shared, [from] { return from; })(header_for(3)));
  EXPECT_TRUE(rotating_key_finder(shared, [until] { return until; })(header_for(3)));
  EXPECT_FALSE(rotating_key_finder(shared, [until] { return until + std::chrono::nanoseconds(1); })(header_for(3)));
}

TEST(GatewayKeys, CurrentConfigsListActiveNewestFirstThenFuture) {
  test_support::TempDir dir;
  auto material = load_gateway_keys(GatewayUnderTest::default_keys(dir));
  ASSERT_TRUE(material);
  auto listed = current_key_configs(*material, system_now());
  ASSERT_EQ(listed.size(), 3u);
  EXPECT_EQ(listed[0].key_id, 3);
  EXPECT_EQ(listed[1].key_id, 2);
  EXPECT_EQ(listed[2].key_id, 4);
  // The first listed key is the one the reference client would pick from the published statement.
  client::OhttpKeys keys{*ohttp::parse_key_configs(material->ohttp_keys), material->periods};
  auto selected = client::select_key_config(keys, system_now());
  ASSERT_TRUE(selected) << selected.error().to_string();
  EXPECT_EQ(*selected, listed[0]);
  // After everything has ended, nothing is listed.
  EXPECT_TRUE(current_key_configs(*material, hours_from_now(24 * 31)).empty());
}

// ---- configuration ----

nlohmann::json parse(std::string_view text) { return nlohmann::json::parse(text, nullptr, true, true); }

constexpr char kMinimal[] = R"({
  "keys": [{"key_id": 1, "active_from": "2026-01-01T00:00:00Z", "active_until": "2027-01-01T00:00:00Z"}],
  "bank_url": "http://127.0.0.1:8083/", "router_url": "https://router.example:8443/api"
})";

TEST(GatewayConfig, DefaultsAndPaths) {
  auto cfg = parse_service_config(parse(kMinimal), "/srv/gw");
  ASSERT_TRUE(cfg) << cfg.error().to_string();
  EXPECT_EQ(cfg->host, "127.0.0.1");
  EXPECT_EQ(cfg->port, 8082);
  EXPECT_EQ(cfg->data_dir, fs::path("/srv/gw"));
  ASSERT_EQ(cfg->keys.size(), 1u);
  EXPECT_EQ(cfg->keys[0].key_id, 1);
  EXPECT_EQ(cfg->keys[0].kem, crypto::KemId::kX25519Kyber768Draft00);
  EXPECT_EQ(cfg->keys[0].seed_file, fs::path("/srv/gw/ohttp-key-1.seed"));
  EXPECT_EQ(transparency::format_rfc3339(cfg->keys[0].active_from), "2026-01-01T00:00:00Z");
  EXPECT_EQ(cfg->bank_url, "http://127.0.0.1:8083");
  EXPECT_EQ(cfg->router_url, "https://router.example:8443/api");
  EXPECT_FALSE(cfg->key_statement);
  EXPECT_FALSE(cfg->tls);
  EXPECT_EQ(cfg->max_request_bytes, uint64_t{16} << 20);
  EXPECT_EQ(cfg->upstream_read_timeout, std::chrono::milliseconds(300'000));
  EXPECT_EQ(cfg->log_level, "info");

  auto full = parse_service_config(parse(R"({"listen": "[::1]:0", "data_dir": "d",
      "keys": [{"key_id": 2, "kem": "x25519", "seed_file": "/keys/s", "active_from": "2026-01-01T00:00:00Z",
                "active_until": "2026-06-01T00:00:00+02:00"}],
      "key_statement": "b.json", "bank_url": "http://b", "router_url": "http://r",
      "limits": {"max_request_bytes": 2048, "max_chunk_plaintext": 600},
      "timeouts": {"upstream_read_ms": 5}, "threads": 1, "log_level": "warn"})"),
                                    "/etc");
  ASSERT_TRUE(full) << full.error().to_string();
  EXPECT_EQ(full->host, "::1");
  EXPECT_EQ(full->port, 0);
  EXPECT_EQ(full->keys[0].kem, crypto::KemId::kDhkemX25519HkdfSha256);
  EXPECT_EQ(full->keys[0].seed_file, fs::path("/keys/s"));
  EXPECT_EQ(*full->key_statement, fs::path("/etc/d/b.json"));
  EXPECT_EQ(full->max_request_bytes, 2048u);
  EXPECT_EQ(full->max_chunk_plaintext, 600u);
  EXPECT_EQ(full->upstream_read_timeout, std::chrono::milliseconds(5));
  EXPECT_EQ(full->threads, 1u);
}

TEST(GatewayConfig, IsStrict) {
  auto error_of = [](std::string_view text) {
    auto cfg = parse_service_config(parse(text), "/");
    return cfg ? std::string() : cfg.error().message;
  };
  const std::string keys =
      R"("keys": [{"key_id": 1, "active_from": "2026-01-01T00:00:00Z", "active_until": "2027-01-01T00:00:00Z"}])";
  const std::string urls = R"("bank_url": "http://b", "router_url": "http://r")";
  EXPECT_EQ(error_of("{" + keys + ", " + urls + "}"), "");
  EXPECT_NE(error_of("{" + urls + "}").find("keys"), std::string::npos);
  EXPECT_NE(error_of(R"({"keys": [], )" + urls + "}").find("keys"), std::string::npos);
  EXPECT_NE(error_of("{" + keys + R"(, "router_url": "http://r"})").find("bank_url"), std::string::npos);
  EXPECT_NE(error_of("{" + keys + ", " + urls + R"(, "bank_ulr": 1})").find("bank_ulr"), std::string::npos);
  EXPECT_NE(error_of("{" + keys + ", " + urls + R"(, "limits": {"max_requst_bytes": 1}})").find("max_requst_bytes"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"keys": [{"key_id": 1, "active_from": "2026-01-01T00:00:00Z", "active_until":
      "2027-01-01T00:00:00Z", "seed": "x"}], )" + urls + "}").find("seed"), std::string::npos);
  EXPECT_NE(error_of(R"({"keys": [{"active_from": "2026-01-01T00:00:00Z", "active_until":
      "2027-01-01T00:00:00Z"}], )" + urls + "}").find("key_id"), std::string::npos);
  EXPECT_NE(error_of(R"({"keys": [{"key_id": 1, "kem": "p256", "active_from": "2026-01-01T00:00:00Z",
      "active_until": "2027-01-01T00:00:00Z"}], )" + urls + "}").find("kem"), std::string::npos);
  EXPECT_NE(error_of(R"({"keys": [{"key_id": 1, "active_from": "2027-01-01T00:00:00Z",
      "active_until": "2026-01-01T00:00:00Z"}], )" + urls + "}").find("before"), std::string::npos);
  EXPECT_NE(error_of(R"({"keys": [{"key_id": 1, "active_from": "yesterday", "active_until":
      "2026-01-01T00:00:00Z"}], )" + urls + "}").find("active_from"), std::string::npos);
  EXPECT_NE(error_of(R"({"keys": [{"key_id": 1, "active_from": "2026-01-01T00:00:00Z", "active_until":
      "2027-01-01T00:00:00Z"}, {"key_id": 1, "seed_file": "b", "active_from": "2026-01-01T00:00:00Z",
      "active_until": "2027-01-01T00:00:00Z"}], )" + urls + "}").find("twice"), std::string::npos);
  EXPECT_NE(error_of(R"({"keys": [{"key_id": 256, "active_from": "2026-01-01T00:00:00Z", "active_until":
      "2027-01-01T00:00:00Z"}], )" + urls + "}").find("key_id"), std::string::npos);
  EXPECT_NE(error_of("{" + keys + R"(, "bank_url": "ftp://b", "router_url": "http://r"})").find("bank_url"),
            std::string::npos);
  EXPECT_NE(error_of("{" + keys + ", " + urls + R"(, "tls": {"certificate": "c"}})").find("tls"), std::string::npos);
  EXPECT_NE(error_of("{" + keys + ", " + urls + R"(, "log_level": "loud"})").find("log_level"), std::string::npos);
  EXPECT_NE(error_of("{" + keys + ", " + urls + R"(, "threads": 0})").find("threads"), std::string::npos);
  EXPECT_NE(error_of("{" + keys + ", " + urls + R"(, "timeouts": {"idle_ms": 0}})").find("idle_ms"),
            std::string::npos);
}

TEST(GatewayConfig, ExampleParsesAndHelpNamesEveryKey) {
  auto example = nlohmann::json::parse(example_service_config(), nullptr, false, true);
  ASSERT_FALSE(example.is_discarded());
  auto cfg = parse_service_config(example, "/srv");
  ASSERT_TRUE(cfg) << cfg.error().to_string();
  EXPECT_TRUE(cfg->tls);
  EXPECT_EQ(cfg->keys.size(), 1u);
  for (const auto& [key, unused] : example.items()) {
    EXPECT_NE(service_config_help().find("  " + key), std::string::npos) << key;
  }
}

TEST(GatewayConfig, LoadsFromAFileRelativeToIt) {
  test_support::TempDir dir;
  std::ofstream(dir / "gw.json") << kMinimal;
  auto cfg = load_service_config(dir / "gw.json");
  ASSERT_TRUE(cfg) << cfg.error().to_string();
  EXPECT_EQ(cfg->keys[0].seed_file, dir / "ohttp-key-1.seed");
  auto material = load_gateway_keys(*cfg);
  ASSERT_TRUE(material) << material.error().to_string();
  EXPECT_TRUE(fs::exists(dir / "ohttp-key-1.seed"));
}

// ---- the allowlist ----

InnerRoute route(std::string method, std::string authority, std::string path, bhttp::Fields headers = {}) {
  bhttp::RequestHead head;
  head.method = std::move(method);
  head.scheme = "http";
  head.authority = std::move(authority);
  head.path = std::move(path);
  head.headers = std::move(headers);
  return route_inner_request(head);
}

TEST(GatewayRoutes, AllowsExactlyTheListedEndpoints) {
  using Kind = InnerRoute::Kind;
  for (const char* path : {"/deposit", "/exchange", "/withdraw", "/withdraw-full", "/balance"}) {
    auto r = route("POST", "confsec-bank.invalid", path);
    EXPECT_EQ(r.kind, Kind::kForward) << path;
    EXPECT_EQ(r.upstream, Upstream::kBank);
    EXPECT_EQ(route("GET", "confsec-bank.invalid", path).kind, Kind::kNotFound) << path;
    EXPECT_EQ(route("POST", "confsec-router.invalid", path).kind, Kind::kNotFound) << path;
  }
  EXPECT_EQ(route("GET", "confsec-router.invalid", "/ping").kind, Kind::kForward);
  EXPECT_EQ(route("GET", "confsec-router.invalid", "/ping").upstream, Upstream::kRouter);
  EXPECT_EQ(route("POST", "confsec-router.invalid", "/compute-manifests").kind, Kind::kForward);
  EXPECT_EQ(route("POST", "confsec-router.invalid", "/").kind, Kind::kForward);
  EXPECT_EQ(route("POST", "CONFSEC-ROUTER.invalid", "/").kind, Kind::kForward);  // hosts are case-insensitive
  EXPECT_EQ(route("post", "confsec-router.invalid", "/").kind, Kind::kNotFound);  // methods are not
  EXPECT_EQ(route("POST", "confsec-router.invalid", "").kind, Kind::kNotFound);
  EXPECT_EQ(route("POST", "confsec-router.invalid", "/?x=1").kind, Kind::kNotFound);
  EXPECT_EQ(route("POST", "confsec-router.invalid", "//").kind, Kind::kNotFound);
  EXPECT_EQ(route("POST", "confsec-router.invalid", "/node-events").kind, Kind::kNotFound);
  EXPECT_EQ(route("POST", "confsec-bank.invalid", "/deposit/").kind, Kind::kNotFound);
  EXPECT_EQ(route("GET", "confsec-router.invalid", "/_health").kind, Kind::kNotFound);
}

TEST(GatewayRoutes, RefusesOtherHosts) {
  using Kind = InnerRoute::Kind;
  EXPECT_EQ(route("POST", "example.com", "/deposit").kind, Kind::kHostRefused);
  EXPECT_EQ(route("POST", "confsec-bank.invalid:80", "/deposit").kind, Kind::kHostRefused);
  EXPECT_EQ(route("POST", "confsec.invalid", "/").kind, Kind::kHostRefused);
  EXPECT_EQ(route("POST", "127.0.0.1", "/").kind, Kind::kHostRefused);
  EXPECT_EQ(route("POST", "", "/").kind, Kind::kHostRefused);
  // Without an authority, the Host header decides.
  EXPECT_EQ(route("POST", "", "/balance", {{"host", "confsec-bank.invalid"}}).kind, Kind::kForward);
  EXPECT_EQ(route("POST", "", "/balance", {{"host", "evil.example"}}).kind, Kind::kHostRefused);
  // The ping works on an allowed host only, and only with the gateway's value.
  EXPECT_EQ(route("GET", "confsec-router.invalid", "/anything", {{"x-confsec-ping", "gateway"}}).kind, Kind::kPing);
  EXPECT_EQ(route("GET", "evil.example", "/", {{"x-confsec-ping", "gateway"}}).kind, Kind::kHostRefused);
  EXPECT_EQ(route("POST", "confsec-router.invalid", "/", {{"x-confsec-ping", "routercom"}}).kind, Kind::kForward);
}

}  // namespace
}  // namespace openpcc::gateway

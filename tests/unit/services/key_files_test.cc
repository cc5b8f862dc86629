// Key files: permission checks, atomic writes that never replace unless asked, and the currency key's
// load-or-generate path (including two processes racing to create it).
#include "services/common/key_files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/random.h"

namespace openpcc::services {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() : path_(fs::temp_directory_path() / ("openpcc-keyfiles-" + to_hex(random_bytes(6)))) {
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

Bytes as_bytes_copy(std::string_view s) { return Bytes(s.begin(), s.end()); }

mode_t mode_of(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_text(const fs::path& p, const std::string& text, mode_t mode) {
  std::ofstream(p, std::ios::binary) << text;
  ASSERT_EQ(::chmod(p.c_str(), mode), 0);
}

// Only the files we expect: no temporaries left behind.
std::vector<std::string> listing(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

nlohmann::json vector_at(const std::string& file, size_t i) {
  std::ifstream in(std::string(OPENPCC_TEST_DATA_DIR) + "/" + file);
  return nlohmann::json::parse(in).at(i);
}

crypto::RsaPrivateKey key_from_vector(const nlohmann::json& v) {
  auto h = [&](const char* k) { return from_hex(v.at(k).get<std::string>()).value(); };
  return crypto::RsaPrivateKey::from_components(h("n"), h("e"), h("d"), h("p"), h("q")).value();
}

// The draft's 2048-bit safe-prime key, as a PEM file.
std::string safe_prime_pem() {
  return key_from_vector(vector_at("rsapbssa-draft-irtf-cfrg-partially-blind-rsa.json", 0)).to_pem().value();
}

TEST(SecretFile, WriteIsAtomicPrivateAndReadable) {
  TempDir dir;
  const fs::path p = dir.path() / "sub" / "secret";  // the missing directory is created, mode 0700
  const Bytes data = random_bytes(100);
  ASSERT_TRUE(write_secret_file_atomically(p, data).has_value());
  EXPECT_EQ(mode_of(p), 0600u);
  EXPECT_EQ(mode_of(p.parent_path()), 0700u);
  auto back = read_secret_file(p);
  ASSERT_TRUE(back.has_value()) << back.error().to_string();
  EXPECT_EQ(to_hex(back->span()), to_hex(data));

  // Replace by default; kKeep refuses and leaves the old bytes.
  const Bytes other = random_bytes(5);
  ASSERT_TRUE(write_secret_file_atomically(p, other).has_value());
  EXPECT_EQ(to_hex(read_secret_file(p)->span()), to_hex(other));
  auto kept = write_secret_file_atomically(p, data, ExistingFile::kKeep);
  ASSERT_FALSE(kept.has_value());
  EXPECT_EQ(kept.error().code, ErrorCode::kConflict);
  EXPECT_EQ(to_hex(read_secret_file(p)->span()), to_hex(other));
  EXPECT_EQ(listing(p.parent_path()), std::vector<std::string>{"secret"});

  // Public files are world-readable whatever the umask.
  const mode_t old_umask = ::umask(077);
  ASSERT_TRUE(write_public_file_atomically(dir.path() / "pub", as_bytes("x")).has_value());
  ::umask(old_umask);
  EXPECT_EQ(mode_of(dir.path() / "pub"), 0644u);
}

TEST(SecretFile, ReadRefusesLoosePermissionsAndOddFiles) {
  TempDir dir;
  const fs::path p = dir.path() / "key";
  auto missing = read_secret_file(p);
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);

  for (mode_t loose : {0640, 0604, 0660, 0644, 0610, 0601}) {
    SCOPED_TRACE(loose);
    write_text(p, "secret", loose);
    auto r = read_secret_file(p);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().message.find("chmod 600"), std::string::npos) << r.error().message;
  }
  write_text(p, "secret", 0400);  // read-only for the owner is fine
  EXPECT_TRUE(read_secret_file(p).has_value());

  EXPECT_EQ(read_secret_file(dir.path()).error().code, ErrorCode::kInvalidArgument);  // a directory
  const fs::path fifo = dir.path() / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_EQ(read_secret_file(fifo).error().code, ErrorCode::kInvalidArgument);  // and no hang

  const fs::path big = dir.path() / "big";
  write_text(big, std::string(kMaxSecretFileSize + 1, 'x'), 0600);
  EXPECT_EQ(read_secret_file(big).error().code, ErrorCode::kInvalidArgument);
}

TEST(CurrencyKey, LoadsAValidSafePrimeKey) {
  TempDir dir;
  const fs::path p = dir.path() / "currency.key";
  write_text(p, safe_prime_pem(), 0600);
  auto key = load_currency_key(p, 2048);
  ASSERT_TRUE(key.has_value()) << key.error().to_string();
  EXPECT_EQ(key->public_key().modulus_bits(), 2048u);
  EXPECT_TRUE(load_currency_key(p).has_value());  // any size

  auto wrong_size = load_currency_key(p, 3072);
  ASSERT_FALSE(wrong_size.has_value());
  EXPECT_NE(wrong_size.error().message.find("2048-bit key, expected 3072"), std::string::npos);

  // load_or_generate loads it (no generation), and writes the missing public key.
  auto loaded = load_or_generate_currency_key(p, 2048, [](int, int) -> bool {
    ADD_FAILURE() << "must not generate";
    return false;
  });
  ASSERT_TRUE(loaded.has_value()) << loaded.error().to_string();
  EXPECT_EQ(loaded->public_key().n, key->public_key().n);
  EXPECT_EQ(read_text(public_key_path(p)), key->public_key().to_pem().value());
  EXPECT_EQ(mode_of(public_key_path(p)), 0644u);
  // A stale public key file is rewritten.
  write_text(public_key_path(p), "stale", 0644);
  ASSERT_TRUE(load_or_generate_currency_key(p, 2048).has_value());
  EXPECT_EQ(read_text(public_key_path(p)), key->public_key().to_pem().value());
}

TEST(CurrencyKey, RefusesBadKeyFiles) {
  TempDir dir;
  const fs::path p = dir.path() / "currency.key";

  write_text(p, safe_prime_pem(), 0644);
  auto loose = load_or_generate_currency_key(p);
  ASSERT_FALSE(loose.has_value());
  EXPECT_NE(loose.error().message.find("mode 0644"), std::string::npos) << loose.error().message;
  EXPECT_EQ(read_text(p), safe_prime_pem()) << "a refused key is never replaced";

  // RFC 9474's 2048-bit vector key has ordinary primes: fine for RSABSSA, not for credits.
  write_text(p, key_from_vector(vector_at("rsabssa-cfrg-repo-2vectors.json", 1)).to_pem().value(), 0600);
  auto not_safe = load_or_generate_currency_key(p);
  ASSERT_FALSE(not_safe.has_value());
  EXPECT_NE(not_safe.error().message.find("safe primes"), std::string::npos);

  write_text(p, "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n", 0600);
  EXPECT_FALSE(load_or_generate_currency_key(p).has_value());
  write_text(p, "", 0600);
  EXPECT_FALSE(load_or_generate_currency_key(p).has_value());
  // A public key is not a private key.
  write_text(p, key_from_vector(vector_at("rsabssa-cfrg-repo-2vectors.json", 1)).public_key().to_pem().value(),
             0600);
  EXPECT_FALSE(load_or_generate_currency_key(p).has_value());
}

TEST(CurrencyKey, GeneratesOnceAndRacingProcessesAgree) {
  TempDir dir;
  const fs::path p = dir.path() / "data" / "currency.key";
  // Two starters race: both generate, one stores its key first, the other must return the stored key.
  Result<crypto::RsaPrivateKey> a = make_error(ErrorCode::kInternal, "unset");
  Result<crypto::RsaPrivateKey> b = make_error(ErrorCode::kInternal, "unset");
  int stage3_calls = 0;
  std::thread t([&] { b = load_or_generate_currency_key(p, 1024); });
  a = load_or_generate_currency_key(p, 1024, [&](int stage, int) {
    stage3_calls += stage == 3;
    return true;
  });
  t.join();
  ASSERT_TRUE(a.has_value()) << a.error().to_string();
  ASSERT_TRUE(b.has_value()) << b.error().to_string();
  EXPECT_EQ(a->public_key().n, b->public_key().n);
  EXPECT_TRUE(a->has_safe_primes());
  EXPECT_EQ(a->public_key().modulus_bits(), 1024u);
  EXPECT_GE(stage3_calls, 2) << "stage 3 once per prime";
  EXPECT_EQ(stage3_calls % 2, 0);
  EXPECT_EQ(mode_of(p), 0600u);
  auto stored = load_currency_key(p, 1024);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->public_key().n, a->public_key().n);
  EXPECT_EQ(read_text(public_key_path(p)), a->public_key().to_pem().value());
  EXPECT_EQ(listing(p.parent_path()), (std::vector<std::string>{"currency.key", "currency.key.pub"}));

  // generate with kKeep refuses up front (no minutes of work); kReplace replaces.
  auto again = generate_currency_key_file(p, 1024, [](int, int) -> bool {
    ADD_FAILURE() << "must not start generating";
    return false;
  });
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);
}

TEST(Ed25519Key, GeneratesLoadsAndAcceptsRawSeeds) {
  TempDir dir;
  const fs::path p = dir.path() / "badge.key";
  auto a = load_or_generate_ed25519_key(p);
  ASSERT_TRUE(a.has_value()) << a.error().to_string();
  EXPECT_EQ(mode_of(p), 0600u);
  EXPECT_NE(read_text(p).find("-----BEGIN PRIVATE KEY-----"), std::string::npos);  // PKCS#8
  EXPECT_EQ(read_text(public_key_path(p)), a->public_key().to_pem().value());
  EXPECT_EQ(mode_of(public_key_path(p)), 0644u);

  auto b = load_or_generate_ed25519_key(p);  // loads, does not regenerate
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->public_key(), a->public_key());
  const Bytes msg = as_bytes_copy("badge");
  EXPECT_TRUE(a->public_key().verify(msg, b->sign(msg).value()).has_value());

  auto conflict = generate_ed25519_key_file(p);
  ASSERT_FALSE(conflict.has_value());
  EXPECT_EQ(conflict.error().code, ErrorCode::kConflict);
  auto replaced = generate_ed25519_key_file(p, ExistingFile::kReplace);
  ASSERT_TRUE(replaced.has_value());
  EXPECT_NE(replaced->public_key(), a->public_key());
  EXPECT_EQ(load_ed25519_key(p)->public_key(), replaced->public_key());

  // A raw 32-byte seed file (RFC 8032 §7.1 test 1) is accepted too.
  const fs::path raw = dir.path() / "raw.key";
  const Bytes seed = from_hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60").value();
  ASSERT_TRUE(write_secret_file_atomically(raw, seed).has_value());
  auto from_seed = load_ed25519_key(raw);
  ASSERT_TRUE(from_seed.has_value()) << from_seed.error().to_string();
  EXPECT_EQ(to_hex(from_seed->public_key().bytes()),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");

  ASSERT_EQ(::chmod(raw.c_str(), 0640), 0);
  EXPECT_NE(load_or_generate_ed25519_key(raw).error().message.find("mode 0640"), std::string::npos);
  write_text(raw, "not a key", 0600);
  EXPECT_FALSE(load_or_generate_ed25519_key(raw).has_value());
  write_text(raw, safe_prime_pem(), 0600);  // an RSA key is not an Ed25519 key
  EXPECT_FALSE(load_ed25519_key(raw).has_value());
}

TEST(Ed25519Key, RacingStartersAgree) {
  for (int round = 0; round < 20; ++round) {
    TempDir dir;
    const fs::path p = dir.path() / "badge.key";
    Result<crypto::Ed25519PrivateKey> a = make_error(ErrorCode::kInternal, "unset");
    Result<crypto::Ed25519PrivateKey> b = make_error(ErrorCode::kInternal, "unset");
    std::thread t([&] { b = load_or_generate_ed25519_key(p); });
    a = load_or_generate_ed25519_key(p);
    t.join();
    ASSERT_TRUE(a.has_value()) << a.error().to_string();
    ASSERT_TRUE(b.has_value()) << b.error().to_string();
    EXPECT_EQ(a->public_key(), b->public_key());
    EXPECT_EQ(load_ed25519_key(p)->public_key(), a->public_key());
    EXPECT_EQ(listing(dir.path()), (std::vector<std::string>{"badge.key", "badge.key.pub"}));
  }
}

}  // namespace
}  // namespace openpcc::services

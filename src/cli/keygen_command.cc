// `openpcc keygen currency|badge --out FILE`: generates a service key file (services/common/key_files.h), with
// progress on a terminal because safe-prime RSA keys take a while. `openpcc keygen jwk` writes the currency public
// key as the JWK that gets published.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "services/authbank/jwk.h"
#include "services/common/key_files.h"

namespace openpcc::cli {
namespace {

using Clock = std::chrono::steady_clock;

constexpr char kCurrencyHelp[] =
    "Generate the currency (credit-signing) key: RSA with safe primes, written as a PKCS#1 PEM file with mode 0600, "
    "its public key next to it as FILE.pub.\n\n"
    "Why safe primes: credits are partially blind RSA signatures (RSAPBSSA-SHA384). The signer derives a separate "
    "exponent pair (e', d') for every credit value from the public metadata, and d' = e'^-1 mod phi(n) exists for "
    "every derived e' only when p = 2p'+1 and q = 2q'+1 with p' and q' prime.\n\n"
    "Why it is slow: such primes are rare (both p and (p-1)/2 must be prime), so the search tests thousands of "
    "candidates, and how many is luck. Measured on a 2-core x86 machine: 0.2-0.3 s at 1024 bits, 0.5-5 s at 2048, "
    "15-60 s at 3072, minutes at 4096; slower CPUs take several times longer. Services that start without a key "
    "generate one the same way; generating it here ahead of time avoids the wait at first start.";

constexpr char kJwkHelp[] =
    "Write the currency public key as a JSON Web Key (RFC 7517): the form the AuthBank's config answer publishes "
    "inside a signed statement. Reads the PKCS#1 PEM public key that `openpcc keygen currency` (or a service's "
    "first start) wrote next to the private key as FILE.pub, and writes compact JSON "
    "{\"e\",\"kid\",\"kty\":\"RSA\",\"n\",\"use\":\"sig\"} (kid = RFC 7638 thumbprint) to --out, mode 0644. "
    "Publish it with `openpcc tlog publish --currency-jwk FILE` and name the bundle in the AuthBank's "
    "currency_key_bundle.";

constexpr char kBadgeHelp[] =
    "Generate the badge key: Ed25519, written as a PKCS#8 PEM file with mode 0600, its public key next to it as "
    "FILE.pub (SubjectPublicKeyInfo PEM).";

std::string elapsed_string(Clock::duration d) {
  const auto tenths = std::chrono::duration_cast<std::chrono::milliseconds>(d).count() / 100;
  const long long minutes = tenths / 600, seconds = (tenths / 10) % 60, tenth = tenths % 10;
  char buf[32];
  if (minutes > 0) {
    std::snprintf(buf, sizeof buf, "%lldm%02lld.%llds", minutes, seconds, tenth);
  } else {
    std::snprintf(buf, sizeof buf, "%lld.%llds", seconds, tenth);
  }
  return buf;
}

// Shows key-generation progress on stderr: on a terminal, a status line redrawn at most 10 times a second with a
// spinner, the prime being searched, candidates tested and the elapsed time; otherwise one line at the start and
// one at the end, so logs stay clean.
class ProgressDisplay {
 public:
  ProgressDisplay(std::string what, bool terminal) : what_(std::move(what)), terminal_(terminal) {}

  void start() {
    start_ = Clock::now();
    std::fprintf(stderr, "%s\n", what_.c_str());
    std::fflush(stderr);
    if (terminal_) draw();
  }

  // The crypto::KeyGenProgress callback: stage 0 = a candidate was drawn (count = its number), stage 3 = a prime
  // was found (count 0 = p, 1 = q). Other stages are primality-test rounds.
  bool update(int stage, int count) {
    if (stage == 0) candidates_ = count + 1;
    if (stage == 3) {
      primes_found_ = count + 1;
      total_candidates_ += candidates_;
      candidates_ = 0;
    }
    if (terminal_ && Clock::now() - last_draw_ >= std::chrono::milliseconds(100)) draw();
    return true;
  }

  void finish(bool ok) {
    if (terminal_) std::fputs("\r\033[K", stderr);
    const std::string elapsed = elapsed_string(Clock::now() - start_);
    if (ok) {
      std::fprintf(stderr, "done in %s (%ld candidates tested)\n", elapsed.c_str(), total_candidates_ + candidates_);
    } else {
      std::fprintf(stderr, "failed after %s\n", elapsed.c_str());
    }
    std::fflush(stderr);
  }

 private:
  void draw() {
    static constexpr char kSpinner[] = {'|', '/', '-', '\\'};
    last_draw_ = Clock::now();
    const char* searching = primes_found_ == 0 ? "searching for p" : primes_found_ == 1 ? "p found, searching for q"
                                                                                        : "checking the key";
    std::fprintf(stderr, "\r\033[K%c %s: %ld candidates  %s", kSpinner[frame_++ % 4], searching, candidates_,
                 elapsed_string(last_draw_ - start_).c_str());
    std::fflush(stderr);
  }

  std::string what_;
  bool terminal_;
  Clock::time_point start_{}, last_draw_{};
  long candidates_ = 0, total_candidates_ = 0;
  int primes_found_ = 0;
  unsigned frame_ = 0;
};

struct KeygenOptions {
  std::string out;
  size_t bits = services::kCurrencyKeyDefaultBits;
  bool force = false;
};

int fail(const std::string& message) {
  std::fprintf(stderr, "openpcc keygen: error: %s\n", message.c_str());
  return 1;
}

int run_currency(const KeygenOptions& opts) {
  const std::filesystem::path path(opts.out);
  const auto existing = opts.force ? services::ExistingFile::kReplace : services::ExistingFile::kKeep;
  if (opts.bits % 2 != 0) return fail("--bits must be even (two primes of bits/2 each)");
  std::error_code ec;
  if (!opts.force && std::filesystem::exists(std::filesystem::symlink_status(path, ec))) {
    return fail(opts.out + " already exists; pass --force to replace it (credits signed by the old key will no "
                           "longer verify)");
  }
  ProgressDisplay display("generating a " + std::to_string(opts.bits) +
                              "-bit RSA key with safe primes (this can take minutes)…",
                          ::isatty(STDERR_FILENO) == 1);
  display.start();
  auto key = services::generate_currency_key_file(
      path, opts.bits, [&display](int stage, int count) { return display.update(stage, count); }, existing);
  display.finish(key.has_value());
  if (!key) return fail(key.error().to_string());
  std::printf("private key: %s (mode 0600)\npublic key:  %s\nmodulus:     %zu bits\n", path.c_str(),
              services::public_key_path(path).c_str(), key->public_key().modulus_bits());
  return 0;
}

int run_badge(const KeygenOptions& opts) {
  const std::filesystem::path path(opts.out);
  const auto existing = opts.force ? services::ExistingFile::kReplace : services::ExistingFile::kKeep;
  auto key = services::generate_ed25519_key_file(path, existing);
  if (!key) {
    if (key.error().code == ErrorCode::kConflict) {
      return fail(opts.out + " already exists; pass --force to replace it (badges signed by the old key will no "
                             "longer verify)");
    }
    return fail(key.error().to_string());
  }
  std::printf("private key: %s (mode 0600)\npublic key:  %s\nEd25519 public key (hex): %s\n", path.c_str(),
              services::public_key_path(path).c_str(), to_hex(key->public_key().bytes()).c_str());
  return 0;
}

struct JwkOptions {
  std::string public_key;
  std::string out;
};

int run_jwk(const JwkOptions& opts) {
  auto pem = services::read_public_file(opts.public_key, 64 * 1024);
  if (!pem) return fail(pem.error().to_string());
  auto key = crypto::RsaPublicKey::from_pem(*pem);
  if (!key) {
    return fail(opts.public_key + ": not an RSA public key (" + key.error().message +
                "); pass the .pub file next to the currency key");
  }
  const std::string jwk = authbank::rsa_public_key_to_jwk(*key) + "\n";
  if (auto ok = services::write_public_file_atomically(opts.out, as_bytes(jwk)); !ok) {
    return fail(ok.error().to_string());
  }
  std::printf("jwk: %s\nkid: %s\nmodulus: %zu bits\n", opts.out.c_str(), authbank::rsa_jwk_thumbprint(*key).c_str(),
              key->modulus_bits());
  return 0;
}

}  // namespace

void add_keygen_command(CLI::App& app, int& exit_code) {
  auto* keygen = app.add_subcommand("keygen", "Generate a service key file (currency or badge key), or the currency key's JWK");
  keygen->require_subcommand(1);

  // Owned by the callbacks; CLI11 keeps the subcommands alive as long as `app`.
  auto currency_opts = std::make_shared<KeygenOptions>();
  auto* currency = keygen->add_subcommand("currency", kCurrencyHelp);
  currency->add_option("--out", currency_opts->out, "Private key file to write (the public key goes to FILE.pub)")
      ->required();
  currency->add_option("--bits", currency_opts->bits, "Modulus size in bits (even)")
      ->default_val(services::kCurrencyKeyDefaultBits)
      ->check(CLI::Range(static_cast<size_t>(1024), static_cast<size_t>(8192)));
  currency->add_flag("--force", currency_opts->force, "Replace an existing key file");
  currency->callback([currency_opts, &exit_code] { exit_code = run_currency(*currency_opts); });

  auto badge_opts = std::make_shared<KeygenOptions>();
  auto* badge = keygen->add_subcommand("badge", kBadgeHelp);
  badge->add_option("--out", badge_opts->out, "Private key file to write (the public key goes to FILE.pub)")
      ->required();
  badge->add_flag("--force", badge_opts->force, "Replace an existing key file");
  badge->callback([badge_opts, &exit_code] { exit_code = run_badge(*badge_opts); });

  auto jwk_opts = std::make_shared<JwkOptions>();
  auto* jwk = keygen->add_subcommand("jwk", kJwkHelp);
  jwk->add_option("--public-key", jwk_opts->public_key, "The currency public key (PKCS#1 PEM, e.g. currency.key.pub)")
      ->required();
  jwk->add_option("--out", jwk_opts->out, "JWK file to write (replaced if it exists)")->required();
  jwk->callback([jwk_opts, &exit_code] { exit_code = run_jwk(*jwk_opts); });
}

}  // namespace openpcc::cli

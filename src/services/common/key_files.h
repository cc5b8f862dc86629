// Key files in a service's data directory: read with a permission check, written atomically and durably, generated
// on first start.
//
//   auto key = load_or_generate_currency_key(data_dir / "currency.key");   // 2048-bit RSA with safe primes
//   if (!key) { log(key.error().to_string()); return 1; }                  // e.g. "mode 0644 ... chmod 600 ..."
//   auto signer = crypto::BlindRsaSigner::create(crypto::kOpenPccCreditSuite, std::move(*key));
//
// Secret files must not be readable, writable or executable by group or others (mode 0600 or stricter); a looser
// file is refused rather than used, as ssh does. Writes go to a temporary file in the same directory (mode 0600),
// which is fsynced, moved into place and followed by an fsync of the directory, so a crash leaves either the old file
// or the complete new one, never a torn key.
#pragma once

#include <cstddef>
#include <filesystem>

#include "common/bytes.h"
#include "common/error.h"
#include "common/secure.h"
#include "crypto/ed25519.h"
#include "crypto/rsa_blind.h"

namespace openpcc::services {

// The largest secret file read_secret_file reads (keys are a few KiB).
inline constexpr size_t kMaxSecretFileSize = 1 << 20;

// What a write does when the target exists.
enum class ExistingFile {
  kReplace,  // atomically replace it
  kKeep,     // leave it and fail with kConflict, also when another process creates it during the write
};

// The file's bytes. kNotFound if it does not exist; kInvalidArgument if it is not a regular file, is larger than
// kMaxSecretFileSize, or its mode grants group or others any access (the message gives the mode and the fix).
Result<SecretBytes> read_secret_file(const std::filesystem::path& path);

// A public file's contents (a public key, a policy, a bundle, evidence): kNotFound if it does not exist,
// kInvalidArgument if it is not a regular file or is larger than max_size, kIo for read errors.
inline constexpr size_t kMaxPublicFileSize = 16 << 20;
Result<std::string> read_public_file(const std::filesystem::path& path, size_t max_size = kMaxPublicFileSize);

// Writes `bytes` as a mode-0600 file, atomically and durably (see above). A missing parent directory is created
// with mode 0700.
Status write_secret_file_atomically(const std::filesystem::path& path, ByteSpan bytes,
                                    ExistingFile existing = ExistingFile::kReplace);

// The same for public material (mode 0644), e.g. the public key next to a private key.
Status write_public_file_atomically(const std::filesystem::path& path, ByteSpan bytes,
                                    ExistingFile existing = ExistingFile::kReplace);

// Where the public half of a key file goes: `path` with ".pub" appended ("currency.key" → "currency.key.pub").
std::filesystem::path public_key_path(const std::filesystem::path& private_key_path);

// ---- The currency (credit-signing) key: RSA with safe primes, PKCS#1 PEM ----

inline constexpr size_t kCurrencyKeyDefaultBits = crypto::kBlindRsaDefaultModulusBits;  // 2048
// Pass as `modulus_bits` to load a key of any size (still at least crypto::kBlindRsaMinModulusBits).
inline constexpr size_t kAnyModulusBits = 0;

// Reads a PKCS#1 PEM RSA private key ("-----BEGIN RSA PRIVATE KEY-----") and checks it: the permission rule above,
// a consistent key (n = p·q, e·d ≡ 1), safe primes (the partially blind credit suite needs them) and, unless
// kAnyModulusBits, exactly `modulus_bits` bits. kNotFound if the file does not exist.
Result<crypto::RsaPrivateKey> load_currency_key(const std::filesystem::path& path,
                                                size_t modulus_bits = kAnyModulusBits);

// Generates a fresh safe-prime key of `modulus_bits` (slow: seconds at 1024 bits, minutes at 2048 — `progress`
// sees OpenSSL's prime search, see crypto::KeyGenProgress), writes it to `path` (mode 0600) and its public key to
// public_key_path(path) (PKCS#1 PEM, mode 0644). With ExistingFile::kKeep an existing key file is never replaced
// (kConflict). The public file is written after the private one; a crash between the two leaves a key without its
// .pub, which the next generate or load_or_generate_currency_key restores.
Result<crypto::RsaPrivateKey> generate_currency_key_file(const std::filesystem::path& path,
                                                         size_t modulus_bits = kCurrencyKeyDefaultBits,
                                                         crypto::KeyGenProgress progress = {},
                                                         ExistingFile existing = ExistingFile::kKeep);

// A service's start-up call: loads the key at `path` (which must have `modulus_bits` bits, or any size with
// kAnyModulusBits), or generates and stores one if there is none. Never replaces an existing file: if another
// process creates the key while this one generates, that key is loaded and returned, so all processes sharing the
// data directory sign with the same key. Writes a missing public key file.
Result<crypto::RsaPrivateKey> load_or_generate_currency_key(const std::filesystem::path& path,
                                                            size_t modulus_bits = kCurrencyKeyDefaultBits,
                                                            crypto::KeyGenProgress progress = {});

// ---- The badge key: Ed25519, PKCS#8 PEM ----

// Reads an Ed25519 private key: PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----", as `openssl genpkey -algorithm ed25519`
// writes) or the raw 32-byte RFC 8032 seed. The permission rule above applies. kNotFound if absent.
Result<crypto::Ed25519PrivateKey> load_ed25519_key(const std::filesystem::path& path);

// A fresh key from the OS CSPRNG, written as PKCS#8 PEM (mode 0600), its public key as SubjectPublicKeyInfo PEM at
// public_key_path(path) (mode 0644). kConflict for an existing file with ExistingFile::kKeep.
Result<crypto::Ed25519PrivateKey> generate_ed25519_key_file(const std::filesystem::path& path,
                                                           ExistingFile existing = ExistingFile::kKeep);

// Loads the key at `path`, or generates and stores one; never replaces an existing file, and a key another process
// stored first wins (as load_or_generate_currency_key). Writes a missing or stale public key file (best effort).
Result<crypto::Ed25519PrivateKey> load_or_generate_ed25519_key(const std::filesystem::path& path);

}  // namespace openpcc::services

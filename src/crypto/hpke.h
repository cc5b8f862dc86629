// Hybrid Public Key Encryption (RFC 9180): the four modes over the KEMs of kem.h, the KDFs of hkdf.h and the AEADs
// of aead.h (including the export-only AEAD).
//
//   auto hpke = Hpke::create({KemId::kDhkemX25519HkdfSha256, KdfId::kHkdfSha256, AeadId::kAes128Gcm});
//   Sender:     auto pk_r = hpke->kem().deserialize_public_key(pk_bytes);
//               auto ctx  = hpke->setup_sender(*pk_r, info);        // send ctx->enc() to the recipient
//               auto ct   = ctx->seal(aad, plaintext);
//   Recipient:  auto ctx  = hpke->setup_recipient(enc, *sk_r, info); // sk_r: any KemPrivateKey (e.g. a TPM key)
//               auto pt   = ctx->open(aad, ct);
//
// Hpke is a small immutable value: copy it and share it between threads. Contexts are movable, not copyable, and
// not for concurrent use. Every secret is held in SecretBytes.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "common/bytes.h"
#include "common/error.h"
#include "common/secure.h"
#include "crypto/aead.h"
#include "crypto/hkdf.h"
#include "crypto/kem.h"

namespace openpcc::crypto {

enum class HpkeMode : uint8_t {
  kBase = 0x00,
  kPsk = 0x01,
  kAuth = 0x02,
  kAuthPsk = 0x03,
};

struct HpkeSuite {
  KemId kem;
  KdfId kdf;
  AeadId aead;
};

// The sender's mode inputs. psk and psk_id are given together (psk modes) or not at all (RFC 9180 §5.1.2).
struct HpkeSenderOptions {
  HpkeMode mode = HpkeMode::kBase;
  ByteSpan psk = {};
  ByteSpan psk_id = {};
  const KemPrivateKey* sk_s = nullptr;  // auth modes: the sender's private key
  EncapOptions ephemeral = {};          // tests and vectors only: fix the ephemeral key (see kem.h)
};

// The recipient's mode inputs, mirroring the sender's.
struct HpkeRecipientOptions {
  HpkeMode mode = HpkeMode::kBase;
  ByteSpan psk = {};
  ByteSpan psk_id = {};
  const KemPublicKey* pk_s = nullptr;  // auth modes: the sender's public key
};

// The key schedule's outputs (RFC 9180 §5.1).
struct HpkeKeySchedule {
  SecretBytes key;              // Nk bytes
  SecretBytes base_nonce;       // Nn bytes
  SecretBytes exporter_secret;  // Nh bytes
};

// What both directions share: the AEAD key, base nonce and sequence number, and the exporter secret.
class HpkeContext {
 public:
  // Export(exporter_context, L) (RFC 9180 §5.3); kInvalidArgument if L > 255·Nh.
  Result<SecretBytes> export_secret(ByteSpan exporter_context, size_t length) const;

  AeadId aead_id() const { return aead_.id(); }
  size_t tag_size() const { return aead_.tag_size(); }  // Nt: ciphertext = plaintext + Nt bytes
  // Messages sealed/opened so far. Once it reaches 2^64 - 1, seal/open return kLimitExceeded (RFC 9180's
  // MessageLimitReachedError, at a lower limit than 2^96 - 1 because the counter is 64-bit).
  uint64_t sequence() const { return sequence_; }
  // Testing hook: jump the sequence number, e.g. to exercise the message limit.
  void set_sequence_for_testing(uint64_t sequence) { sequence_ = sequence; }

 protected:
  HpkeContext(const Hkdf& kdf, ByteSpan suite_id, Aead aead, HpkeKeySchedule schedule);
  // nonce = base_nonce XOR I2OSP(seq, Nn), written to `nonce` (Nn bytes used); kLimitExceeded when exhausted.
  Status compute_nonce(std::array<uint8_t, 12>& nonce) const;

  Hkdf kdf_;
  std::array<uint8_t, 10> suite_id_;
  Aead aead_;
  SecretBytes base_nonce_;
  SecretBytes exporter_secret_;
  uint64_t sequence_ = 0;
};

class SenderContext : public HpkeContext {
 public:
  // The encapsulated key to send to the recipient (Nenc bytes).
  ByteSpan enc() const { return enc_; }

  // Seal(aad, pt) with the next sequence number. kUnsupported for the export-only AEAD.
  Result<Bytes> seal(ByteSpan aad, ByteSpan plaintext);
  // The same, appending plaintext.size() + Nt bytes to `out` (`plaintext` must not point into `out`).
  Status seal_append(ByteSpan aad, ByteSpan plaintext, Bytes& out);

 private:
  friend class Hpke;
  SenderContext(const Hkdf& kdf, ByteSpan suite_id, Aead aead, HpkeKeySchedule schedule, Bytes enc)
      : HpkeContext(kdf, suite_id, std::move(aead), std::move(schedule)), enc_(std::move(enc)) {}
  Bytes enc_;
};

class RecipientContext : public HpkeContext {
 public:
  // Open(aad, ct) with the next sequence number, which advances only on success. kAuthenticationFailed on a bad
  // tag; kUnsupported for the export-only AEAD.
  Result<Bytes> open(ByteSpan aad, ByteSpan ciphertext);
  // The same, appending the plaintext to `out`; on failure `out` keeps its previous contents.
  Status open_append(ByteSpan aad, ByteSpan ciphertext, Bytes& out);

 private:
  friend class Hpke;
  RecipientContext(const Hkdf& kdf, ByteSpan suite_id, Aead aead, HpkeKeySchedule schedule)
      : HpkeContext(kdf, suite_id, std::move(aead), std::move(schedule)) {}
};

class Hpke {
 public:
  // kUnsupported for unknown ids.
  static Result<Hpke> create(HpkeSuite suite);

  const HpkeSuite& suite() const { return suite_; }
  const Kem& kem() const { return kem_; }
  const Hkdf& kdf() const { return kdf_; }

  // SetupS / SetupR for options.mode (RFC 9180 §5.1.1-5.1.4). Auth modes need options.sk_s / options.pk_s; the
  // hybrid KEM has no auth modes (kUnsupported).
  Result<SenderContext> setup_sender(const KemPublicKey& pk_r, ByteSpan info,
                                     const HpkeSenderOptions& options = {}) const;
  Result<RecipientContext> setup_recipient(ByteSpan enc, const KemPrivateKey& sk_r, ByteSpan info,
                                           const HpkeRecipientOptions& options = {}) const;

  // Single-shot encryption (RFC 9180 §6.1).
  struct Sealed {
    Bytes enc;
    Bytes ciphertext;
  };
  Result<Sealed> seal(const KemPublicKey& pk_r, ByteSpan info, ByteSpan aad, ByteSpan plaintext,
                      const HpkeSenderOptions& options = {}) const;
  Result<Bytes> open(ByteSpan enc, const KemPrivateKey& sk_r, ByteSpan info, ByteSpan aad, ByteSpan ciphertext,
                     const HpkeRecipientOptions& options = {}) const;

  // Single-shot export (RFC 9180 §6.2).
  struct Exported {
    Bytes enc;
    SecretBytes secret;
  };
  Result<Exported> send_export(const KemPublicKey& pk_r, ByteSpan info, ByteSpan exporter_context, size_t length,
                               const HpkeSenderOptions& options = {}) const;
  Result<SecretBytes> receive_export(ByteSpan enc, const KemPrivateKey& sk_r, ByteSpan info,
                                     ByteSpan exporter_context, size_t length,
                                     const HpkeRecipientOptions& options = {}) const;

  // KeySchedule (RFC 9180 §5.1) on its own, with its input checks (VerifyPSKInputs). For test vectors and the
  // conformance harness; setup_* use it internally.
  Result<HpkeKeySchedule> key_schedule(HpkeMode mode, ByteSpan shared_secret, ByteSpan info, ByteSpan psk,
                                       ByteSpan psk_id) const;

 private:
  Hpke(HpkeSuite suite, Kem kem, Hkdf kdf, AeadSizes aead_sizes);

  HpkeSuite suite_;
  Kem kem_;
  Hkdf kdf_;
  AeadSizes aead_sizes_;
  std::array<uint8_t, 10> suite_id_;  // "HPKE" ‖ kem ‖ kdf ‖ aead
};

}  // namespace openpcc::crypto

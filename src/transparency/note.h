// Signed notes (C2SP signed-note, https://c2sp.org/signed-note) with Ed25519 keys: the envelope that carries a
// transparency log's checkpoints (checkpoint.h), byte-compatible with golang.org/x/mod/sumdb/note.
//
//   If you think cryptography is the answer to your problem,\n      ← the text: any lines, ending in a newline
//   then you don't know what your problem is.\n
//   \n                                                              ← one blank line (the LAST one in the note)
//   — PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiF…AM=\n               ← U+2014, space, key name, space,
//                                                                      base64(key ID ‖ signature), newline
//
// Keys: a key is named (non-empty UTF-8 without Unicode spaces or '+'), and identified by name plus a 32-bit key ID,
// SHA-256(name ‖ 0x0A ‖ 0x01 ‖ 32-byte public key)[:4] read big-endian. A verifier key is written as
// "name+hex8(key ID)+base64(0x01 ‖ public key)", e.g.
// "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW".
//
// Verification follows the spec: signatures from keys the verifier does not know (name or ID differ) are ignored;
// a signature from the known key that fails rejects the whole note; at least one must verify.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/error.h"
#include "crypto/ed25519.h"

namespace openpcc::transparency {

inline constexpr size_t kMaxNoteSize = size_t{1} << 20;  // whole note, text and signatures
inline constexpr size_t kMaxNoteSignatures = 100;
inline constexpr uint8_t kNoteSignatureTypeEd25519 = 0x01;

// Non-empty, valid UTF-8, no Unicode white space, no '+'.
bool is_valid_note_key_name(std::string_view name);

// SHA-256(name ‖ 0x0A ‖ type ‖ public key)[:4], big-endian.
uint32_t note_key_id(std::string_view name, uint8_t signature_type, ByteSpan public_key);

// One signature line, parsed but not verified. `signature` excludes the 4-byte key ID.
struct NoteSignature {
  std::string name;
  uint32_t key_id = 0;
  Bytes signature;
  friend bool operator==(const NoteSignature&, const NoteSignature&) = default;
};

struct ParsedNote {
  std::string text;  // with its final newline, without the blank separator line
  std::vector<NoteSignature> signatures;
};

// Syntax only, no signature is checked. kLimitExceeded beyond kMaxNoteSize or kMaxNoteSignatures; kDecode for
// anything malformed (invalid UTF-8, control characters other than newline, no blank line, no signature line, a
// line in the signature block that is not a signature, a bad key name or base64, a signature shorter than 5 bytes,
// a missing final newline).
Result<ParsedNote> parse_note(std::string_view note);

// Whether `text` can be the text of a note: non-empty, ends in a newline, valid UTF-8 without control characters
// other than newline, and small enough to leave room for signatures.
Status check_note_text(std::string_view text);

class NoteSigner {
 public:
  // kInvalidArgument for a name that is not a valid key name.
  static Result<NoteSigner> create(std::string name, crypto::Ed25519PrivateKey key);
  // A signer key in the sumdb/note format: "PRIVATE+KEY+name+hex8(key ID)+base64(0x01 ‖ 32-byte seed)".
  static Result<NoteSigner> parse(std::string_view private_key_string);

  // The signed note: text, blank line, one signature line. `text` must pass check_note_text; if it does not (or
  // signing fails), the result is the empty string, which no verifier accepts. sign_checked says why.
  std::string sign(std::string_view text) const;
  Result<std::string> sign_checked(std::string_view text) const;
  // Just the signature line ("— name base64\n"), to add this key's signature to a note signed by others.
  Result<std::string> signature_line(std::string_view text) const;

  // "name+hex8+base64(0x01 ‖ public key)", what verifiers are configured with.
  std::string verifier_key() const;
  const std::string& name() const { return name_; }
  uint32_t key_id() const { return key_id_; }
  const crypto::Ed25519PublicKey& public_key() const { return key_.public_key(); }

 private:
  NoteSigner(std::string name, uint32_t key_id, crypto::Ed25519PrivateKey key)
      : name_(std::move(name)), key_id_(key_id), key_(std::move(key)) {}
  std::string name_;
  uint32_t key_id_;
  crypto::Ed25519PrivateKey key_;
};

class NoteVerifier {
 public:
  // A verifier key string (see above). kDecode for anything malformed, kUnsupported for a signature type other than
  // Ed25519, kInvalidArgument when the key ID does not match the name and key.
  static Result<NoteVerifier> parse(std::string_view verifier_key);
  static Result<NoteVerifier> create(std::string name, const crypto::Ed25519PublicKey& key);

  // Parses the note and checks the signatures by this key; returns the text (with its final newline). Errors: those
  // of parse_note; kAuthenticationFailed when a signature by this key is invalid or there is none.
  Result<std::string> verify(std::string_view note) const;

  std::string verifier_key() const;
  const std::string& name() const { return name_; }
  uint32_t key_id() const { return key_id_; }
  const crypto::Ed25519PublicKey& public_key() const { return key_; }

 private:
  NoteVerifier(std::string name, uint32_t key_id, crypto::Ed25519PublicKey key)
      : name_(std::move(name)), key_id_(key_id), key_(std::move(key)) {}
  std::string name_;
  uint32_t key_id_;
  crypto::Ed25519PublicKey key_;
};

}  // namespace openpcc::transparency

#include "transparency/note.h"

#include <string>
#include <utility>

#include "crypto/sha256.h"

namespace openpcc::transparency {
namespace {

constexpr std::string_view kEmDashSpace = "\xE2\x80\x94 ";  // U+2014 then U+0020
constexpr std::string_view kSignerPrefix = "PRIVATE+KEY+";
constexpr size_t kKeyIdSize = 4;

// Decodes one UTF-8 scalar value at s[i]; returns its length, or 0 for an invalid sequence (overlong forms,
// surrogates and values above U+10FFFF included).
size_t utf8_sequence(std::string_view s, size_t i, char32_t* out) {
  const auto byte = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  uint8_t b0 = byte(i);
  if (b0 < 0x80) {
    *out = b0;
    return 1;
  }
  size_t len;
  char32_t cp;
  char32_t min;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2, cp = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, cp = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (s.size() - i < len) return 0;
  for (size_t k = 1; k < len; ++k) {
    uint8_t b = byte(i + k);
    if ((b & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  *out = cp;
  return len;
}

// White space as Unicode (and Go's unicode.IsSpace) defines it.
bool is_unicode_space(char32_t c) {
  switch (c) {
    case U'\t': case U'\n': case U'\v': case U'\f': case U'\r': case U' ':
    case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return c >= 0x2000 && c <= 0x200A;
  }
}

// Valid UTF-8 with no control characters other than newline (what the spec allows anywhere in a note).
Status check_note_characters(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    char32_t c;
    size_t n = utf8_sequence(s, i, &c);
    if (n == 0) return make_error(ErrorCode::kDecode, "note: invalid UTF-8 at byte " + std::to_string(i));
    if (c < 0x20 && c != U'\n') {
      return make_error(ErrorCode::kDecode, "note: control character at byte " + std::to_string(i));
    }
    i += n;
  }
  return {};
}

std::string hex8(uint32_t v) {
  Bytes b = i2osp(v, 4);
  return to_hex(b);
}

std::string key_label(std::string_view name, uint32_t key_id) { return std::string(name) + "+" + hex8(key_id); }

// Splits s at the first '+': "a+b+c" → {"a", "b+c"}. found is false when there is none.
std::pair<std::string_view, std::string_view> chop_plus(std::string_view s, bool* found) {
  size_t at = s.find('+');
  *found = at != std::string_view::npos;
  if (!*found) return {s, {}};
  return {s.substr(0, at), s.substr(at + 1)};
}

Result<uint32_t> parse_hex8(std::string_view s) {
  if (s.size() != 8) return make_error(ErrorCode::kDecode, "note key: the key ID is not 8 hex digits");
  uint32_t v = 0;
  for (char c : s) {
    uint32_t d;
    if (c >= '0' && c <= '9') {
      d = static_cast<uint32_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      d = static_cast<uint32_t>(c - 'a' + 10);
    } else {
      return make_error(ErrorCode::kDecode, "note key: the key ID is not 8 lowercase hex digits");
    }
    v = (v << 4) | d;
  }
  return v;
}

struct KeyParts {
  std::string name;
  uint32_t key_id;
  Bytes key;  // after the type byte
};

// "name+hex8+base64(type ‖ key)" with an Ed25519 type byte and a 32-byte key.
Result<KeyParts> parse_key_parts(std::string_view s, std::string_view what) {
  bool found1, found2;
  auto [name, rest] = chop_plus(s, &found1);
  auto [id_hex, key64] = chop_plus(rest, &found2);
  if (!found1 || !found2) {
    return make_error(ErrorCode::kDecode, std::string(what) + ": expected name+keyid+key");
  }
  if (!is_valid_note_key_name(name)) return make_error(ErrorCode::kDecode, std::string(what) + ": invalid key name");
  auto id = parse_hex8(id_hex);
  if (!id) return std::unexpected(id.error());
  auto key = from_base64(key64);
  if (!key) return make_error(ErrorCode::kDecode, std::string(what) + ": the key is not valid base64");
  if (key->empty()) return make_error(ErrorCode::kDecode, std::string(what) + ": empty key");
  if ((*key)[0] != kNoteSignatureTypeEd25519) {
    return make_error(ErrorCode::kUnsupported, std::string(what) + ": signature type " +
                                                   hex_id((*key)[0]) + " is not Ed25519 (0x01)");
  }
  if (key->size() != 1 + crypto::kEd25519PublicKeySize) {
    return make_error(ErrorCode::kDecode, std::string(what) + ": an Ed25519 key is 32 bytes");
  }
  return KeyParts{std::string(name), *id, Bytes(key->begin() + 1, key->end())};
}

}  // namespace

bool is_valid_note_key_name(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size();) {
    char32_t c;
    size_t n = utf8_sequence(name, i, &c);
    if (n == 0 || c == U'+' || is_unicode_space(c) || c < 0x20) return false;
    i += n;
  }
  return true;
}

uint32_t note_key_id(std::string_view name, uint8_t signature_type, ByteSpan public_key) {
  Bytes input = to_bytes(name);
  input.push_back(0x0A);
  input.push_back(signature_type);
  append(input, public_key);
  auto digest = crypto::sha256(input);
  return (uint32_t{digest[0]} << 24) | (uint32_t{digest[1]} << 16) | (uint32_t{digest[2]} << 8) | digest[3];
}

Status check_note_text(std::string_view text) {
  if (text.empty() || text.back() != '\n') {
    return make_error(ErrorCode::kInvalidArgument, "note: the text must be non-empty and end in a newline");
  }
  // Leave room for a few signature lines under the size cap.
  if (text.size() > kMaxNoteSize - 4096) {
    return make_error(ErrorCode::kLimitExceeded, "note: the text is too large");
  }
  if (auto s = check_note_characters(text); !s) {
    return make_error(ErrorCode::kInvalidArgument, s.error().message);
  }
  return {};
}

Result<ParsedNote> parse_note(std::string_view note) {
  if (note.size() > kMaxNoteSize) {
    return make_error(ErrorCode::kLimitExceeded, "note: larger than " + std::to_string(kMaxNoteSize) + " bytes");
  }
  if (auto s = check_note_characters(note); !s) return std::unexpected(s.error());
  // The text ends at the last blank line; everything after it is signature lines.
  size_t split = note.rfind("\n\n");
  if (split == std::string_view::npos) return make_error(ErrorCode::kDecode, "note: no blank line before signatures");
  ParsedNote out;
  out.text = std::string(note.substr(0, split + 1));
  std::string_view block = note.substr(split + 2);
  if (block.empty()) return make_error(ErrorCode::kDecode, "note: no signature lines");
  if (block.back() != '\n') return make_error(ErrorCode::kDecode, "note: the last line does not end in a newline");
  while (!block.empty()) {
    size_t eol = block.find('\n');  // present: the block ends in a newline
    std::string_view line = block.substr(0, eol);
    block.remove_prefix(eol + 1);
    if (out.signatures.size() == kMaxNoteSignatures) {
      return make_error(ErrorCode::kLimitExceeded,
                        "note: more than " + std::to_string(kMaxNoteSignatures) + " signatures");
    }
    if (!line.starts_with(kEmDashSpace)) {
      return make_error(ErrorCode::kDecode, "note: a line after the blank line is not a signature line");
    }
    line.remove_prefix(kEmDashSpace.size());
    size_t space = line.find(' ');
    if (space == std::string_view::npos) return make_error(ErrorCode::kDecode, "note: signature line without a key");
    std::string_view name = line.substr(0, space);
    std::string_view sig64 = line.substr(space + 1);
    if (!is_valid_note_key_name(name)) return make_error(ErrorCode::kDecode, "note: invalid key name in a signature");
    auto sig = from_base64(sig64);
    if (!sig) return make_error(ErrorCode::kDecode, "note: signature is not valid base64");
    if (sig->size() < kKeyIdSize + 1) return make_error(ErrorCode::kDecode, "note: signature too short");
    NoteSignature entry;
    entry.name = std::string(name);
    entry.key_id = (uint32_t{(*sig)[0]} << 24) | (uint32_t{(*sig)[1]} << 16) | (uint32_t{(*sig)[2]} << 8) | (*sig)[3];
    entry.signature.assign(sig->begin() + kKeyIdSize, sig->end());
    out.signatures.push_back(std::move(entry));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------------
// NoteSigner

Result<NoteSigner> NoteSigner::create(std::string name, crypto::Ed25519PrivateKey key) {
  if (!is_valid_note_key_name(name)) {
    return make_error(ErrorCode::kInvalidArgument, "note signer: invalid key name (empty, a space or '+')");
  }
  uint32_t id = note_key_id(name, kNoteSignatureTypeEd25519, key.public_key().bytes());
  return NoteSigner(std::move(name), id, std::move(key));
}

Result<NoteSigner> NoteSigner::parse(std::string_view private_key_string) {
  if (!private_key_string.starts_with(kSignerPrefix)) {
    return make_error(ErrorCode::kDecode, "note signer key: does not start with PRIVATE+KEY+");
  }
  auto parts = parse_key_parts(private_key_string.substr(kSignerPrefix.size()), "note signer key");
  if (!parts) return std::unexpected(parts.error());
  SecretBytes seed(parts->key);
  secure_wipe(parts->key.data(), parts->key.size());
  auto key = crypto::Ed25519PrivateKey::from_seed(seed);
  if (!key) return std::unexpected(key.error());
  if (note_key_id(parts->name, kNoteSignatureTypeEd25519, key->public_key().bytes()) != parts->key_id) {
    return make_error(ErrorCode::kInvalidArgument, "note signer key: the key ID does not match the key");
  }
  return create(std::move(parts->name), std::move(*key));
}

Result<std::string> NoteSigner::signature_line(std::string_view text) const {
  if (auto s = check_note_text(text); !s) return std::unexpected(s.error());
  auto sig = key_.sign(as_bytes(text));
  if (!sig) return std::unexpected(sig.error());
  Bytes blob = i2osp(key_id_, kKeyIdSize);
  append(blob, *sig);
  return std::string(kEmDashSpace) + name_ + " " + to_base64(blob) + "\n";
}

Result<std::string> NoteSigner::sign_checked(std::string_view text) const {
  auto line = signature_line(text);
  if (!line) return std::unexpected(line.error());
  return std::string(text) + "\n" + *line;
}

std::string NoteSigner::sign(std::string_view text) const {
  auto note = sign_checked(text);
  return note ? std::move(*note) : std::string();
}

std::string NoteSigner::verifier_key() const {
  Bytes key{kNoteSignatureTypeEd25519};
  append(key, key_.public_key().bytes());
  return key_label(name_, key_id_) + "+" + to_base64(key);
}

// ---------------------------------------------------------------------------------------------------------------------
// NoteVerifier

Result<NoteVerifier> NoteVerifier::parse(std::string_view verifier_key) {
  auto parts = parse_key_parts(verifier_key, "note verifier key");
  if (!parts) return std::unexpected(parts.error());
  if (note_key_id(parts->name, kNoteSignatureTypeEd25519, parts->key) != parts->key_id) {
    return make_error(ErrorCode::kInvalidArgument, "note verifier key: the key ID does not match the name and key");
  }
  auto key = crypto::Ed25519PublicKey::from_bytes(parts->key);
  if (!key) return std::unexpected(key.error());
  return NoteVerifier(std::move(parts->name), parts->key_id, std::move(*key));
}

Result<NoteVerifier> NoteVerifier::create(std::string name, const crypto::Ed25519PublicKey& key) {
  if (!is_valid_note_key_name(name)) {
    return make_error(ErrorCode::kInvalidArgument, "note verifier: invalid key name (empty, a space or '+')");
  }
  uint32_t id = note_key_id(name, kNoteSignatureTypeEd25519, key.bytes());
  return NoteVerifier(std::move(name), id, key);
}

Result<std::string> NoteVerifier::verify(std::string_view note) const {
  auto parsed = parse_note(note);
  if (!parsed) return std::unexpected(parsed.error());
  bool verified = false;
  for (const NoteSignature& sig : parsed->signatures) {
    if (sig.name != name_ || sig.key_id != key_id_) continue;  // another key's signature: not ours to judge
    if (!key_.verify(as_bytes(parsed->text), sig.signature)) {
      return make_error(ErrorCode::kAuthenticationFailed,
                        "note: invalid signature for key " + key_label(name_, key_id_));
    }
    verified = true;
  }
  if (!verified) {
    return make_error(ErrorCode::kAuthenticationFailed, "note: no signature by key " + key_label(name_, key_id_));
  }
  return std::move(parsed->text);
}

std::string NoteVerifier::verifier_key() const {
  Bytes key{kNoteSignatureTypeEd25519};
  append(key, key_.bytes());
  return key_label(name_, key_id_) + "+" + to_base64(key);
}

}  // namespace openpcc::transparency

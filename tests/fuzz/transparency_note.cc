// Signed notes and checkpoints (transparency/note.h, checkpoint.h, log_state.h): never crashes on any bytes, read as
// a signed note, a checkpoint body, a verifier key string and a signer key string, and checks:
//   * a parsed note re-serializes to exactly the input (text, blank line, canonical signature lines);
//   * a parsed checkpoint body re-serializes to exactly the input (checkpoint_body is canonical);
//   * a parsed verifier key prints back to the input;
//   * anything that passes check_note_text signs and verifies back to itself under the fixed fuzz key, and a note
//     that verifies under that key has a text that check_note_text accepts;
//   * a checkpoint that verifies under the fixed key is accepted by a fresh LogState (the empty tree extends any
//     tree; only a size-0 checkpoint with another root is refused) and a second look at it changes nothing;
//   * a checkpoint body that parses signs and opens back to the same checkpoint.
// The seeds (corpus/transparency_note) are notes and checkpoints signed with the fixed key below, so mutations start
// from notes whose signature checks pass.
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "crypto/ed25519.h"
#include "transparency/checkpoint.h"
#include "transparency/log_state.h"
#include "transparency/note.h"

namespace {

using namespace openpcc;
using namespace openpcc::transparency;

constexpr char kKeyName[] = "fuzz.example/log";

void require(bool ok) {
  if (!ok) std::abort();
}

struct Keys {
  NoteSigner signer;
  NoteVerifier verifier;
};

Keys make_keys() {
  // Seed 0x42 × 32: the seeds' signatures were made with this key.
  Bytes seed(32, 0x42);
  auto key = crypto::Ed25519PrivateKey::from_seed(seed);
  require(key.has_value());
  auto signer = NoteSigner::create(kKeyName, std::move(*key));
  require(signer.has_value());
  auto verifier = NoteVerifier::parse(signer->verifier_key());
  require(verifier.has_value());
  return Keys{std::move(*signer), std::move(*verifier)};
}

std::string serialize(const ParsedNote& note) {
  std::string out = note.text + "\n";
  for (const NoteSignature& sig : note.signatures) {
    Bytes blob = i2osp(sig.key_id, 4);
    append(blob, sig.signature);
    out += "\xE2\x80\x94 " + sig.name + " " + to_base64(blob) + "\n";
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Keys keys = make_keys();
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  if (auto note = parse_note(text)) {
    require(serialize(*note) == text);
    require(!note->signatures.empty() && note->signatures.size() <= kMaxNoteSignatures);
  }

  if (auto body = keys.verifier.verify(text)) {
    require(parse_note(text).has_value());
    require(check_note_text(*body).has_value() || body->size() > kMaxNoteSize - 4096);
    if (auto cp = parse_checkpoint(*body)) {
      require(checkpoint_body(*cp) == *body);
      auto state = LogState::in_memory(keys.verifier, cp->origin);
      auto accepted = state.accept(text, {});
      if (cp->size == 0 && cp->root != empty_root()) {
        require(!accepted.has_value());  // no tree of size 0 has another root
      } else {
        require(accepted.has_value() && *accepted == *cp);
        require(state.accept(text, {}).has_value());
        require(state.signed_checkpoint() == text);
      }
    }
  }

  if (auto cp = parse_checkpoint(text)) {
    require(checkpoint_body(*cp) == text);
    auto signed_note = sign_checkpoint(*cp, keys.signer);
    require(signed_note.has_value());
    auto opened = open_signed_checkpoint(*signed_note, keys.verifier, cp->origin);
    require(opened.has_value() && *opened == *cp);
  }

  if (check_note_text(text)) {
    auto signed_note = keys.signer.sign_checked(text);
    require(signed_note.has_value());
    auto back = keys.verifier.verify(*signed_note);
    require(back.has_value() && *back == text);
  }

  if (auto verifier = NoteVerifier::parse(text)) require(verifier->verifier_key() == text);
  (void)NoteSigner::parse(text);
  return 0;
}

// Transparency log checkpoints (C2SP tlog-checkpoint, https://c2sp.org/tlog-checkpoint): the signed statement "the
// log named <origin> has <size> entries and this Merkle root", carried as the text of a signed note (note.h).
//
//   example.com/behind-the-sofa\n                       ← origin: the log's identity, non-empty
//   20852163\n                                          ← size in ASCII decimal, no leading zeros ("0" when empty)
//   CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n      ← base64 of the RFC 9162 root at that size (32 bytes)
//   [extension lines, each non-empty]
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "transparency/merkle.h"
#include "transparency/note.h"

namespace openpcc::transparency {

struct Checkpoint {
  std::string origin;
  uint64_t size = 0;
  Hash root{};
  std::vector<std::string> extensions = {};  // opaque extra lines (not recommended by the spec; we never write any)
  friend bool operator==(const Checkpoint&, const Checkpoint&) = default;
};

// The note text: origin, size, root, extension lines, each ending in a newline.
std::string checkpoint_body(const Checkpoint& checkpoint);

// Strict: a valid note text (check_note_text: UTF-8, no control characters but newlines, ends in a newline), at
// least three lines, each non-empty, the size is canonical decimal that fits in 64 bits, the root is canonical base64
// of 32 bytes. kDecode otherwise.
Result<Checkpoint> parse_checkpoint(std::string_view body);

// Signs the checkpoint's body (kInvalidArgument for an origin or extension line that cannot be a line of it).
Result<std::string> sign_checkpoint(const Checkpoint& checkpoint, const NoteSigner& signer);

// Verifies the note with `verifier` (note.h rules) and parses its text as a checkpoint. The key name need not equal
// the origin (sum.golang.org signs "go.sum database tree"); pass expected_origin to require one.
Result<Checkpoint> open_signed_checkpoint(std::string_view note, const NoteVerifier& verifier);
Result<Checkpoint> open_signed_checkpoint(std::string_view note, const NoteVerifier& verifier,
                                          std::string_view expected_origin);

}  // namespace openpcc::transparency

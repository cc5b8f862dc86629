// What a log client remembers: the newest checkpoint of a transparency log it has verified, so that the log can
// never show it an older tree (rollback) or a tree that does not extend the one it saw (fork).
//
//   auto state = LogState::open(dir / "tlog.checkpoint", *NoteVerifier::parse(vkey), "example.com/log");
//   auto cp = state->accept(signed_checkpoint_text, consistency_proof_from_current_size);
//   if (!cp) { ... "tlog fork detected: ..." / "tlog rollback detected: ..." ... }
//
// The state file holds the accepted signed note itself, so it is self-authenticating: it is verified again (key and
// origin) when loaded, and a file that does not verify is an error, never a reason to start over (that would make a
// rollback as easy as corrupting the file). It is written with mode 0600 through a temporary file, fsync and an
// atomic rename, so a crash leaves the old or the new checkpoint. One process at a time should own a state file.
#pragma once

#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/error.h"
#include "transparency/checkpoint.h"
#include "transparency/merkle.h"
#include "transparency/note.h"

namespace openpcc::transparency {

class LogState {
 public:
  // The state kept in `path`: loaded if the file exists (kAuthenticationFailed if it does not verify with `verifier`
  // or names another origin, kDecode if it is not a checkpoint), empty otherwise (created by the first accept).
  static Result<LogState> open(std::filesystem::path path, NoteVerifier verifier, std::string origin);
  // A state that lives only in memory.
  static LogState in_memory(NoteVerifier verifier, std::string origin);

  // The last accepted checkpoint; before any, size 0 with the empty root.
  const Checkpoint& checkpoint() const { return checkpoint_; }
  // Its signed note, or "" before any.
  const std::string& signed_checkpoint() const { return note_; }
  const std::string& origin() const { return origin_; }
  const NoteVerifier& verifier() const { return verifier_; }

  // Accepts a newer signed checkpoint with the consistency proof from checkpoint().size to its size:
  //   * the note must carry a valid signature by the log's key and the log's origin   → kAuthenticationFailed
  //   * a smaller size than the accepted one                                          → kConflict "rollback"
  //   * the same size with another root                                               → kConflict "fork"
  //   * a proof that does not show the new tree extends the accepted one              → kConflict "fork"
  // then persists it (kIo if that fails; the state is unchanged then). The same checkpoint again is accepted with
  // no write. Returns the (new) current checkpoint.
  Result<Checkpoint> accept(std::string_view signed_checkpoint, std::span<const Hash> consistency_proof);

  // Whether `leaf` (a leaf hash) is entry `index` of the accepted tree, by an inclusion proof at its size.
  Status verify_inclusion(uint64_t index, const Hash& leaf, std::span<const Hash> proof) const;

 private:
  LogState(std::optional<std::filesystem::path> path, NoteVerifier verifier, std::string origin);
  std::optional<std::filesystem::path> path_;
  NoteVerifier verifier_;
  std::string origin_;
  Checkpoint checkpoint_;
  std::string note_;
};

}  // namespace openpcc::transparency

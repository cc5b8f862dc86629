// The wallet's state file: where wallet_state.h's state lives between runs.
//
// THE FILE HOLDS SECRETS — BlindBank account tokens (bearer secrets for the money in those accounts), unspent
// credits (money), and blinding inverses (which link credits to the withdrawals the bank saw). It is created with
// mode 0600 from the first byte (temporary file opened 0600, written, fsynced, renamed over the old file, directory
// fsynced: a crash leaves the old or the new state, never a torn one), a missing directory is created 0700, and a
// file whose mode lets group or others in is refused rather than read. Back it up like a private key; delete it
// only after the wallet closed cleanly (then it holds no value).
//
//   auto file = StateFile::open("/home/u/.confsec/wallet.state");   // kConflict: another wallet is using it
//   auto state = file->load();                                      // nullopt: no file yet
//   file->save(serialize_state(s));
//
// One wallet per file: open() takes an exclusive lock (flock on "<path>.lock", released when the StateFile is
// destroyed or the process dies), so two processes can never spend from, or overwrite, the same state.
//
// A file that does not parse is never replaced silently: load() copies it to "<path>.corrupt" (mode 0600) and fails
// with the parse error; the wallet refuses to start until someone looks at it (the copy keeps the account tokens for
// manual recovery even if the original is then removed).
#pragma once

#include <filesystem>
#include <optional>

#include "client/wallet/wallet_state.h"
#include "common/bytes.h"
#include "common/error.h"

namespace openpcc::wallet {

class StateFile {
 public:
  // kConflict if another process (or another StateFile in this one) holds the lock; kIo if the lock file cannot be
  // created. Creates a missing parent directory with mode 0700.
  static Result<StateFile> open(std::filesystem::path path);

  StateFile(StateFile&& other) noexcept;
  StateFile& operator=(StateFile&& other) noexcept;
  StateFile(const StateFile&) = delete;
  StateFile& operator=(const StateFile&) = delete;
  ~StateFile();

  // The state, or nullopt if there is no file. kInvalidArgument for a file with a mode other than 0600-or-stricter
  // or that is not a regular file; kDecode/kUnsupported for a corrupt or unknown-version file (a ".corrupt" copy is
  // kept, see above).
  Result<std::optional<WalletState>> load() const;
  // Replaces the file atomically and durably with `file_bytes` (serialize_state's output).
  Status save(ByteSpan file_bytes) const;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path corrupt_copy_path() const;

 private:
  StateFile(std::filesystem::path path, int lock_fd) : path_(std::move(path)), lock_fd_(lock_fd) {}
  std::filesystem::path path_;
  int lock_fd_ = -1;
};

}  // namespace openpcc::wallet

#include "transparency/log_state.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "common/random.h"

namespace openpcc::transparency {
namespace {

namespace fs = std::filesystem;

Error io_error(std::string_view what, const fs::path& path, int err) {
  return Error{ErrorCode::kIo, "tlog state: " + std::string(what) + " " + path.string() + ": " + std::strerror(err)};
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  bool close() {
    int fd = fd_;
    fd_ = -1;
    return ::close(fd) == 0;
  }

 private:
  int fd_;
};

// Replaces `path` with `text` (mode 0600): temporary file in the same directory, fsync, rename, fsync directory.
Status write_atomically(const fs::path& path, std::string_view text) {
  const fs::path dir = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return std::unexpected(io_error("cannot create directory", dir, ec.value()));
  const fs::path temp = dir / ("." + path.filename().string() + ".tmp-" + to_hex(random_bytes(8)));
  Fd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (fd.get() < 0) return std::unexpected(io_error("cannot create", temp, errno));
  auto fail = [&](Error e) -> Status {
    ::unlink(temp.c_str());
    return std::unexpected(std::move(e));
  };
  for (size_t done = 0; done < text.size();) {
    ssize_t n = ::write(fd.get(), text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(io_error("cannot write", temp, errno));
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) != 0) return fail(io_error("cannot fsync", temp, errno));
  if (!fd.close()) return fail(io_error("cannot close", temp, errno));
  if (::rename(temp.c_str(), path.c_str()) != 0) return fail(io_error("cannot rename to", path, errno));
  Fd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd.get() < 0 || ::fsync(dfd.get()) != 0) return std::unexpected(io_error("cannot fsync", dir, errno));
  return {};
}

// The file's text, nullopt if it does not exist.
Result<std::optional<std::string>> read_state_file(const fs::path& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (fd.get() < 0) {
    if (errno == ENOENT) return std::optional<std::string>();
    return std::unexpected(io_error("cannot open", path, errno));
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return std::unexpected(io_error("cannot stat", path, errno));
  if (!S_ISREG(st.st_mode)) {
    return make_error(ErrorCode::kInvalidArgument, "tlog state: " + path.string() + " is not a file");
  }
  if (static_cast<uint64_t>(st.st_size) > kMaxNoteSize) {
    return make_error(ErrorCode::kLimitExceeded, "tlog state: " + path.string() + " is too large");
  }
  std::string text(static_cast<size_t>(st.st_size), '\0');
  for (size_t done = 0; done < text.size();) {
    ssize_t n = ::read(fd.get(), text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(io_error("cannot read", path, errno));
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return std::optional<std::string>(std::move(text));
}

Checkpoint empty_checkpoint(const std::string& origin) {
  return Checkpoint{.origin = origin, .size = 0, .root = empty_root()};
}

}  // namespace

LogState::LogState(std::optional<fs::path> path, NoteVerifier verifier, std::string origin)
    : path_(std::move(path)),
      verifier_(std::move(verifier)),
      origin_(std::move(origin)),
      checkpoint_(empty_checkpoint(origin_)) {}

LogState LogState::in_memory(NoteVerifier verifier, std::string origin) {
  return LogState(std::nullopt, std::move(verifier), std::move(origin));
}

Result<LogState> LogState::open(fs::path path, NoteVerifier verifier, std::string origin) {
  auto text = read_state_file(path);
  if (!text) return std::unexpected(text.error());
  LogState state(path, std::move(verifier), std::move(origin));
  if (*text) {
    auto cp = open_signed_checkpoint(**text, state.verifier_, state.origin_);
    if (!cp) return std::unexpected(wrap_error("tlog state: " + path.string(), cp.error()));
    state.checkpoint_ = std::move(*cp);
    state.note_ = std::move(**text);
  }
  return state;
}

Result<Checkpoint> LogState::accept(std::string_view signed_checkpoint, std::span<const Hash> consistency_proof) {
  auto next = open_signed_checkpoint(signed_checkpoint, verifier_, origin_);
  if (!next) return std::unexpected(wrap_error("tlog checkpoint", next.error()));
  const Checkpoint& have = checkpoint_;
  if (next->size < have.size) {
    return make_error(ErrorCode::kConflict, "tlog rollback detected: the log shows size " + std::to_string(next->size) +
                                                " after we accepted size " + std::to_string(have.size));
  }
  if (next->size == have.size && next->root != have.root) {
    return make_error(ErrorCode::kConflict, "tlog fork detected: two different roots for size " +
                                                std::to_string(have.size) + " (" + to_base64(have.root) +
                                                " accepted, " + to_base64(next->root) + " now)");
  }
  if (auto s = verify_consistency(have.size, next->size, have.root, next->root, consistency_proof); !s) {
    return make_error(ErrorCode::kConflict, "tlog fork detected: the tree of size " + std::to_string(next->size) +
                                                " is not proven to extend the accepted tree of size " +
                                                std::to_string(have.size) + " (" + s.error().message + ")");
  }
  if (next->size == have.size && !note_.empty()) return checkpoint_;  // nothing new
  if (path_) {
    if (auto s = write_atomically(*path_, signed_checkpoint); !s) return std::unexpected(s.error());
  }
  checkpoint_ = std::move(*next);
  note_ = std::string(signed_checkpoint);
  return checkpoint_;
}

Status LogState::verify_inclusion(uint64_t index, const Hash& leaf, std::span<const Hash> proof) const {
  return transparency::verify_inclusion(index, checkpoint_.size, leaf, proof, checkpoint_.root);
}

}  // namespace openpcc::transparency

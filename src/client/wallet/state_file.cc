#include "client/wallet/state_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "services/common/key_files.h"

namespace openpcc::wallet {
namespace fs = std::filesystem;

namespace {

Status make_parent_directory(const fs::path& path) {
  const fs::path dir = path.parent_path();
  if (dir.empty()) return {};
  std::error_code ec;
  if (fs::is_directory(dir, ec)) return {};
  if (auto st = make_parent_directory(dir); !st) return st;
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return make_error(ErrorCode::kIo, "cannot create directory " + dir.string() + ": " + std::strerror(errno));
  }
  return {};
}

}  // namespace

Result<StateFile> StateFile::open(fs::path path) {
  if (path.filename().empty()) return make_error(ErrorCode::kInvalidArgument, "wallet state path has no file name");
  if (auto st = make_parent_directory(path); !st) return std::unexpected(st.error());
  const fs::path lock_path = fs::path(path.string() + ".lock");
  const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    return make_error(ErrorCode::kIo, "cannot open wallet lock file " + lock_path.string() + ": " + std::strerror(errno));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return make_error(ErrorCode::kConflict, "wallet state " + path.string() + " is in use by another wallet");
    }
    return make_error(ErrorCode::kIo, "cannot lock " + lock_path.string() + ": " + std::strerror(err));
  }
  return StateFile(std::move(path), fd);
}

StateFile::StateFile(StateFile&& other) noexcept : path_(std::move(other.path_)), lock_fd_(other.lock_fd_) {
  other.lock_fd_ = -1;
}

StateFile& StateFile::operator=(StateFile&& other) noexcept {
  if (this != &other) {
    if (lock_fd_ >= 0) ::close(lock_fd_);
    path_ = std::move(other.path_);
    lock_fd_ = other.lock_fd_;
    other.lock_fd_ = -1;
  }
  return *this;
}

StateFile::~StateFile() {
  if (lock_fd_ >= 0) ::close(lock_fd_);  // closing the descriptor releases the flock
}

fs::path StateFile::corrupt_copy_path() const { return fs::path(path_.string() + ".corrupt"); }

Result<std::optional<WalletState>> StateFile::load() const {
  auto bytes = services::read_secret_file(path_);
  if (!bytes) {
    if (bytes.error().code == ErrorCode::kNotFound) return std::optional<WalletState>();
    return std::unexpected(wrap_error("wallet state", bytes.error()));
  }
  auto state = parse_state(bytes->span());
  if (state) return std::optional<WalletState>(std::move(*state));
  Error error = state.error();
  error.message = path_.string() + ": " + error.message;
  if (auto kept = services::write_secret_file_atomically(corrupt_copy_path(), bytes->span()); kept) {
    error.message += " (a copy was kept at " + corrupt_copy_path().string() +
                     "; the wallet will not start over it: move it away only after recovering its account tokens)";
  } else {
    error.message += " (and keeping a copy failed: " + kept.error().message + ")";
  }
  return std::unexpected(std::move(error));
}

Status StateFile::save(ByteSpan file_bytes) const {
  if (auto st = services::write_secret_file_atomically(path_, file_bytes); !st) {
    return std::unexpected(wrap_error("save wallet state", st.error()));
  }
  return {};
}

}  // namespace openpcc::wallet

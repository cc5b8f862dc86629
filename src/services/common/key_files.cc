#include "services/common/key_files.h"

#include <fcntl.h>
#include <stdio.h>  // renameat2
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>

#include "common/random.h"

namespace openpcc::services {
namespace fs = std::filesystem;

namespace {

constexpr mode_t kSecretMode = 0600;
constexpr mode_t kPublicMode = 0644;
constexpr mode_t kDirectoryMode = 0700;

// Closes on destruction; -1 is "none".
class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : fd_(fd) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  ~UniqueFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  // Closes now and reports close's error (which can be a deferred write error).
  bool close() {
    const int fd = fd_;
    fd_ = -1;
    return fd < 0 || ::close(fd) == 0;
  }

 private:
  int fd_;
};

std::unexpected<Error> io_error(ErrorCode code, std::string_view what, const fs::path& path, int err) {
  return make_error(code, std::string(what) + " " + path.string() + ": " + std::strerror(err));
}

std::string mode_string(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

Status write_all(int fd, ByteSpan bytes, const fs::path& path) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error(ErrorCode::kIo, "cannot write", path, errno);
    }
    done += static_cast<size_t>(n);
  }
  return {};
}

// Makes `dir` exist; directories this call creates get kDirectoryMode (they will hold secrets).
Status ensure_directory(const fs::path& dir) {
  std::error_code ec;
  if (fs::is_directory(dir, ec)) return {};
  if (!dir.parent_path().empty() && dir.parent_path() != dir) {
    if (auto st = ensure_directory(dir.parent_path()); !st) return st;
  }
  if (::mkdir(dir.c_str(), kDirectoryMode) != 0 && errno != EEXIST) {
    return io_error(ErrorCode::kIo, "cannot create directory", dir, errno);
  }
  return {};
}

// Makes a rename or link in `dir` durable.
Status sync_directory(const fs::path& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return io_error(ErrorCode::kIo, "cannot open directory", dir, errno);
  if (::fsync(fd.get()) != 0) return io_error(ErrorCode::kIo, "cannot fsync directory", dir, errno);
  return {};
}

// Moves `from` to `to` without replacing an existing `to` (kConflict if there is one).
Status move_no_replace(const fs::path& from, const fs::path& to) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return {};
  if (errno == EEXIST) return make_error(ErrorCode::kConflict, to.string() + " already exists");
  if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP) {
    return io_error(ErrorCode::kIo, "cannot move key file into place at", to, errno);
  }
  // A filesystem without RENAME_NOREPLACE: link() also refuses to replace.
  if (::link(from.c_str(), to.c_str()) != 0) {
    if (errno == EEXIST) return make_error(ErrorCode::kConflict, to.string() + " already exists");
    return io_error(ErrorCode::kIo, "cannot move key file into place at", to, errno);
  }
  ::unlink(from.c_str());
  return {};
}

// kConflict if something (even a dangling symlink) is at `path`.
Status check_absent(const fs::path& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) return make_error(ErrorCode::kConflict, path.string() + " already exists");
  return {};
}

Status write_file_atomically(const fs::path& path, ByteSpan bytes, ExistingFile existing, mode_t mode) {
  if (path.filename().empty()) return make_error(ErrorCode::kInvalidArgument, "key file path has no file name");
  const fs::path dir = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  if (auto st = ensure_directory(dir); !st) return st;
  if (existing == ExistingFile::kKeep) {
    if (auto st = check_absent(path); !st) return st;
  }
  // A hidden temporary in the same directory, so the final rename cannot cross filesystems.
  const fs::path temp = dir / ("." + path.filename().string() + ".tmp-" + to_hex(random_bytes(8)));
  UniqueFd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode));
  if (fd.get() < 0) return io_error(ErrorCode::kIo, "cannot create", temp, errno);
  auto fail = [&](Error e) -> Status {
    ::unlink(temp.c_str());
    return std::unexpected(std::move(e));
  };
  // The umask may have narrowed `mode` (fine for secrets, not what we want for a public file): set it exactly.
  if (::fchmod(fd.get(), mode) != 0) return fail(io_error(ErrorCode::kIo, "cannot chmod", temp, errno).error());
  if (auto st = write_all(fd.get(), bytes, temp); !st) return fail(st.error());
  if (::fsync(fd.get()) != 0) return fail(io_error(ErrorCode::kIo, "cannot fsync", temp, errno).error());
  if (!fd.close()) return fail(io_error(ErrorCode::kIo, "cannot close", temp, errno).error());
  if (existing == ExistingFile::kReplace) {
    if (::rename(temp.c_str(), path.c_str()) != 0) {
      return fail(io_error(ErrorCode::kIo, "cannot move key file into place at", path, errno).error());
    }
  } else if (auto st = move_no_replace(temp, path); !st) {
    return fail(st.error());
  }
  return sync_directory(dir);
}

std::string_view as_text(const SecretBytes& b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// A PEM string holding a secret, wiped when it goes out of scope.
struct WipedString {
  std::string text;
  ~WipedString() { secure_wipe(text.data(), text.size()); }
};

// Makes public_key_path(path) hold exactly `pem`, rewriting a missing or stale file (a key replaced by hand, say).
// Best effort: a read-only key directory must not stop a service that has its key.
void refresh_public_file(const fs::path& path, const std::string& pem) {
  const fs::path pub = public_key_path(path);
  std::ifstream in(pub, std::ios::binary);
  if (in) {
    std::string current(pem.size() + 1, '\0');  // one byte more than expected tells a longer file apart
    in.read(current.data(), static_cast<std::streamsize>(current.size()));
    current.resize(static_cast<size_t>(in.gcount()));
    if (current == pem) return;
  }
  (void)write_public_file_atomically(pub, as_bytes(pem), ExistingFile::kReplace);
}

// The shared start-up logic: load; if absent, generate with kKeep; if another process stored a key meanwhile, load
// that one. Refreshes the public file of a loaded key.
template <class Key, class Load, class Generate, class PublicPem>
Result<Key> load_or_generate(const fs::path& path, Load load, Generate generate, PublicPem public_pem) {
  auto key = load();
  if (!key && key.error().code == ErrorCode::kNotFound) {
    key = generate();
    if (!key && key.error().code == ErrorCode::kConflict) key = load();
    return key;
  }
  if (key) {
    if (auto pem = public_pem(*key)) refresh_public_file(path, *pem);
  }
  return key;
}

}  // namespace

namespace {

// Opens `path` for reading if it is a regular file; `what` names it in errors ("key file", "file").
Result<std::pair<UniqueFd, struct stat>> open_regular_file(const fs::path& path, const std::string& what) {
  // O_NONBLOCK so that a FIFO in the file's place cannot hang us before the regular-file check.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (fd.get() < 0) {
    if (errno == ENOENT) return make_error(ErrorCode::kNotFound, what + " " + path.string() + " does not exist");
    return io_error(ErrorCode::kIo, "cannot open " + what, path, errno);
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return io_error(ErrorCode::kIo, "cannot stat " + what, path, errno);
  if (!S_ISREG(st.st_mode)) {
    return make_error(ErrorCode::kInvalidArgument, what + " " + path.string() + " is not a regular file");
  }
  return std::pair{std::move(fd), st};
}

// Reads at most max_size bytes into `buf` (max_size + 1 bytes long), whatever fstat said, so that a file growing
// meanwhile is still bounded. The byte count, or an error naming the file when it is larger than max_size.
Result<size_t> read_bounded(int fd, uint8_t* buf, size_t max_size, const fs::path& path, const std::string& what) {
  size_t done = 0;
  while (done < max_size + 1) {
    const ssize_t n = ::read(fd, buf + done, max_size + 1 - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error(ErrorCode::kIo, "cannot read " + what, path, errno);
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  if (done > max_size) {
    return make_error(ErrorCode::kInvalidArgument,
                      what + " " + path.string() + " is larger than " + std::to_string(max_size) + " bytes");
  }
  return done;
}

}  // namespace

Result<SecretBytes> read_secret_file(const fs::path& path) {
  auto file = open_regular_file(path, "key file");
  if (!file) return std::unexpected(file.error());
  const struct stat& st = file->second;
  if ((st.st_mode & 077) != 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "key file " + path.string() + " has mode " + mode_string(st.st_mode) +
                          ", which lets group or others access it; refusing to use it. Restrict it with `chmod 600 " +
                          path.string() + "` (and consider the key exposed if others could read it)");
  }
  SecretBytes buf(kMaxSecretFileSize + 1);
  auto size = read_bounded(file->first.get(), buf.data(), kMaxSecretFileSize, path, "key file");
  if (!size) return std::unexpected(size.error());
  return SecretBytes(ByteSpan(buf.data(), *size));
}

Result<std::string> read_public_file(const fs::path& path, size_t max_size) {
  auto file = open_regular_file(path, "file");
  if (!file) return std::unexpected(file.error());
  std::string buf(max_size + 1, '\0');
  auto size = read_bounded(file->first.get(), reinterpret_cast<uint8_t*>(buf.data()), max_size, path, "file");
  if (!size) return std::unexpected(size.error());
  buf.resize(*size);
  return buf;
}

Status write_secret_file_atomically(const fs::path& path, ByteSpan bytes, ExistingFile existing) {
  return write_file_atomically(path, bytes, existing, kSecretMode);
}

Status write_public_file_atomically(const fs::path& path, ByteSpan bytes, ExistingFile existing) {
  return write_file_atomically(path, bytes, existing, kPublicMode);
}

fs::path public_key_path(const fs::path& private_key_path) {
  fs::path p = private_key_path;
  p += ".pub";
  return p;
}

Result<crypto::RsaPrivateKey> load_currency_key(const fs::path& path, size_t modulus_bits) {
  auto bytes = read_secret_file(path);
  if (!bytes) return std::unexpected(bytes.error());
  auto key = crypto::RsaPrivateKey::from_pem(as_text(*bytes));
  if (!key) return std::unexpected(wrap_error("currency key " + path.string(), key.error()));
  const size_t bits = key->public_key().modulus_bits();
  if (modulus_bits != kAnyModulusBits && bits != modulus_bits) {
    return make_error(ErrorCode::kInvalidArgument,
                      "currency key " + path.string() + " is a " + std::to_string(bits) + "-bit key, expected " +
                          std::to_string(modulus_bits) +
                          " bits: configure the size to match, or move the file away to generate a new key");
  }
  if (!key->has_safe_primes()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "currency key " + path.string() +
                          " does not have safe primes (p = 2p'+1, q = 2q'+1), which partially blind credit "
                          "signatures need; generate one with `openpcc keygen currency`");
  }
  return key;
}

Result<crypto::RsaPrivateKey> generate_currency_key_file(const fs::path& path, size_t modulus_bits,
                                                         crypto::KeyGenProgress progress, ExistingFile existing) {
  // Checked again when the file is moved into place; this only avoids minutes of generation in the common case.
  if (existing == ExistingFile::kKeep) {
    if (auto st = check_absent(path); !st) return std::unexpected(st.error());
  }
  auto key = crypto::RsaPrivateKey::generate_safe_prime(modulus_bits, std::move(progress));
  if (!key) return std::unexpected(key.error());
  WipedString pem;
  auto encoded = key->to_pem();
  if (!encoded) return std::unexpected(encoded.error());
  pem.text = std::move(*encoded);
  if (auto st = write_secret_file_atomically(path, as_bytes(pem.text), existing); !st) {
    return std::unexpected(st.error());
  }
  auto pub = key->public_key().to_pem();
  if (!pub) return std::unexpected(pub.error());
  if (auto st = write_public_file_atomically(public_key_path(path), as_bytes(*pub)); !st) {
    return std::unexpected(st.error());
  }
  return key;
}

Result<crypto::RsaPrivateKey> load_or_generate_currency_key(const fs::path& path, size_t modulus_bits,
                                                            crypto::KeyGenProgress progress) {
  const size_t generate_bits = modulus_bits == kAnyModulusBits ? kCurrencyKeyDefaultBits : modulus_bits;
  return load_or_generate<crypto::RsaPrivateKey>(
      path, [&] { return load_currency_key(path, modulus_bits); },
      [&] { return generate_currency_key_file(path, generate_bits, std::move(progress), ExistingFile::kKeep); },
      [](const crypto::RsaPrivateKey& k) { return k.public_key().to_pem(); });
}

Result<crypto::Ed25519PrivateKey> load_ed25519_key(const fs::path& path) {
  auto bytes = read_secret_file(path);
  if (!bytes) return std::unexpected(bytes.error());
  auto key = bytes->size() == crypto::kEd25519SeedSize ? crypto::Ed25519PrivateKey::from_seed(*bytes)
                                                         : crypto::Ed25519PrivateKey::from_pem(as_text(*bytes));
  if (!key) return std::unexpected(wrap_error("Ed25519 key " + path.string(), key.error()));
  return key;
}

Result<crypto::Ed25519PrivateKey> generate_ed25519_key_file(const fs::path& path, ExistingFile existing) {
  if (existing == ExistingFile::kKeep) {
    if (auto st = check_absent(path); !st) return std::unexpected(st.error());
  }
  auto key = crypto::Ed25519PrivateKey::generate();
  if (!key) return std::unexpected(key.error());
  WipedString pem;
  auto encoded = key->to_pem();
  if (!encoded) return std::unexpected(encoded.error());
  pem.text = std::move(*encoded);
  if (auto st = write_secret_file_atomically(path, as_bytes(pem.text), existing); !st) {
    return std::unexpected(st.error());
  }
  auto pub = key->public_key().to_pem();
  if (!pub) return std::unexpected(pub.error());
  if (auto st = write_public_file_atomically(public_key_path(path), as_bytes(*pub)); !st) {
    return std::unexpected(st.error());
  }
  return key;
}

Result<crypto::Ed25519PrivateKey> load_or_generate_ed25519_key(const fs::path& path) {
  return load_or_generate<crypto::Ed25519PrivateKey>(
      path, [&] { return load_ed25519_key(path); }, [&] { return generate_ed25519_key_file(path); },
      [](const crypto::Ed25519PrivateKey& k) { return k.public_key().to_pem(); });
}

}  // namespace openpcc::services

#include "attest/boot_manifest.h"

#include <algorithm>
#include <fstream>
#include <string_view>
#include <system_error>

#include "attest/event_log.h"
#include "attest/little_endian.h"
#include "attest/uefi.h"
#include "crypto/sha256.h"
#include "crypto/sha256_stream.h"

namespace openpcc::attest {

namespace {

constexpr std::string_view kModelDigestDomain{"openpcc/model-digest/v1\0", 24};
constexpr size_t kReadChunk = 1 << 20;

Bytes digest_of(ByteSpan data) {
  auto d = crypto::sha256(data);
  return Bytes(d.begin(), d.end());
}

MeasuredEvent event(uint32_t pcr, uint32_t type, Bytes data) {
  Bytes digest = digest_of(data);
  return MeasuredEvent{pcr, type, std::move(digest), std::move(data)};
}

// UEFI_IMAGE_LOAD_EVENT: ImageLocationInMemory, ImageLengthInMemory, ImageLinkTimeAddress, LengthOfDevicePath (all
// UINT64), DevicePath[]. A simulated boot loads nothing from memory, so all are zero.
Bytes image_load_event() {
  Bytes out;
  for (int i = 0; i < 4; ++i) append_le<uint64_t>(out, 0);
  return out;
}

struct FileEntry {
  std::string path;  // relative, '/'-separated
  std::filesystem::path full;
};

Status hash_file(const FileEntry& file, Bytes& listing) {
  std::ifstream in(file.full, std::ios::binary);
  if (!in) return make_error(ErrorCode::kIo, "model digest: cannot open " + file.full.string());
  crypto::Sha256Stream hasher;
  std::vector<char> buf(kReadChunk);
  uint64_t size = 0;
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const auto n = static_cast<size_t>(in.gcount());
    hasher.update(ByteSpan(reinterpret_cast<const uint8_t*>(buf.data()), n));
    size += n;
  }
  if (in.bad()) return make_error(ErrorCode::kIo, "model digest: read error in " + file.full.string());
  append(listing, i2osp(file.path.size(), 8));
  append(listing, as_bytes(file.path));
  append(listing, i2osp(size, 8));
  append(listing, hasher.finish());
  return {};
}

}  // namespace

Status check_boot_manifest(const BootManifest& m) {
  if (m.bootloader_digest.size() != 32) {
    return make_error(ErrorCode::kInvalidArgument, "boot manifest: bootloader digest must be 32 bytes");
  }
  if (m.model_digest.size() != 32) {
    return make_error(ErrorCode::kInvalidArgument, "boot manifest: model digest must be 32 bytes");
  }
  for (const MeasuredEvent& ev : boot_events(m)) {
    if (ev.data.size() > kMaxEventDataSize) {
      return make_error(ErrorCode::kInvalidArgument, "boot manifest: " + event_type_name(ev.type) + " data of " +
                                                         std::to_string(ev.data.size()) + " bytes is too large");
    }
  }
  return {};
}

std::vector<MeasuredEvent> boot_events(const BootManifest& m) {
  std::vector<MeasuredEvent> events;
  events.push_back(event(0, kEvSCrtmVersion, to_ucs2le(m.firmware_version, true)));
  events.push_back(event(0, kEvPostCode, to_bytes("POST CODE")));

  const uint8_t secure_boot = m.secure_boot ? 1 : 0;
  events.push_back(event(7, kEvEfiVariableDriverConfig,
                         marshal_uefi_variable_data(kEfiGlobalVariableGuid, "SecureBoot", ByteSpan(&secure_boot, 1))));
  events.push_back(event(7, kEvEfiVariableDriverConfig, marshal_uefi_variable_data(kEfiGlobalVariableGuid, "PK", {})));
  events.push_back(event(7, kEvEfiVariableDriverConfig, marshal_uefi_variable_data(kEfiGlobalVariableGuid, "KEK", {})));
  events.push_back(
      event(7, kEvEfiVariableDriverConfig, marshal_uefi_variable_data(kEfiImageSecurityDatabaseGuid, "db", {})));
  events.push_back(
      event(7, kEvEfiVariableDriverConfig, marshal_uefi_variable_data(kEfiImageSecurityDatabaseGuid, "dbx", {})));

  events.push_back(event(1, kEvPlatformConfigFlags, to_bytes("openpcc platform configuration")));
  events.push_back(event(4, kEvEfiAction, to_bytes("Calling EFI Application from Boot Option")));
  for (uint32_t pcr = 0; pcr <= 7; ++pcr) events.push_back(event(pcr, kEvSeparator, Bytes(4, 0)));

  events.push_back(event(5, kEvEfiGptEvent, m.gpt_header));
  events.push_back(MeasuredEvent{4, kEvEfiBootServicesApplication, m.bootloader_digest, image_load_event()});

  Bytes cmdline_data = to_bytes("kernel_cmdline: " + m.kernel_cmdline);
  cmdline_data.push_back(0);
  events.push_back(MeasuredEvent{8, kEvIpl, digest_of(as_bytes(m.kernel_cmdline)), std::move(cmdline_data)});

  Bytes model_data = to_bytes("openpcc model digest");
  model_data.push_back(0);
  events.push_back(MeasuredEvent{kModelDigestPcr, kEvIpl, m.model_digest, std::move(model_data)});
  return events;
}

Result<Bytes> boot_event_log(const BootManifest& manifest) {
  if (auto st = check_boot_manifest(manifest); !st) return std::unexpected(st.error());
  EventLogWriter writer;
  for (const MeasuredEvent& ev : boot_events(manifest)) {
    if (auto st = writer.add_with_digest(ev.pcr, ev.type, ev.digest, ev.data); !st) return std::unexpected(st.error());
  }
  return writer.bytes();
}

PcrValues expected_pcrs(const BootManifest& manifest) {
  PcrValues values;
  for (uint32_t pcr : kAttestedPcrs) values.emplace(pcr, Bytes(kPcrSize, 0));
  for (const MeasuredEvent& ev : boot_events(manifest)) {
    auto it = values.find(ev.pcr);
    if (it != values.end()) it->second = pcr_extend(it->second, ev.digest);
  }
  return values;
}

BootManifest simulated_boot_manifest(ByteSpan model_digest, const SimulatedBootOptions& options) {
  BootManifest manifest;
  manifest.firmware_version = options.firmware_version;
  manifest.bootloader_digest = digest_of(as_bytes(std::string_view("openpcc simulated boot loader")));
  manifest.gpt_header = to_bytes("openpcc simulated GPT header");
  manifest.secure_boot = true;
  const std::string verity = options.verity_root.empty()
                                 ? to_hex(digest_of(as_bytes(std::string_view("openpcc simulated root filesystem"))))
                                 : options.verity_root;
  manifest.kernel_cmdline = "root=/dev/mapper/root ro confsec.root=" + verity;
  manifest.model_digest = Bytes(model_digest.begin(), model_digest.end());
  return manifest;
}

Result<Bytes> model_digest_of_files(const std::filesystem::path& root) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status root_status = fs::symlink_status(root, ec);
  if (root_status.type() == fs::file_type::not_found) {
    return make_error(ErrorCode::kIo, "model digest: " + root.string() + " does not exist");
  }
  if (ec) return make_error(ErrorCode::kIo, "model digest: " + root.string() + ": " + ec.message());
  std::vector<FileEntry> files;
  if (fs::is_symlink(root_status)) {
    return make_error(ErrorCode::kInvalidArgument, "model digest: " + root.string() + " is a symbolic link");
  } else if (fs::is_regular_file(root_status)) {
    files.push_back({root.filename().string(), root});
  } else if (fs::is_directory(root_status)) {
    fs::recursive_directory_iterator it(root, fs::directory_options::none, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
      const fs::file_status st = it->symlink_status(ec);
      if (ec) break;
      if (fs::is_symlink(st)) {
        return make_error(ErrorCode::kInvalidArgument, "model digest: " + it->path().string() + " is a symbolic link");
      }
      if (fs::is_directory(st)) continue;
      if (!fs::is_regular_file(st)) {
        return make_error(ErrorCode::kInvalidArgument,
                          "model digest: " + it->path().string() + " is not a regular file");
      }
      files.push_back({it->path().lexically_relative(root).generic_string(), it->path()});
    }
    if (ec) return make_error(ErrorCode::kIo, "model digest: listing " + root.string() + ": " + ec.message());
    if (files.empty()) {
      return make_error(ErrorCode::kInvalidArgument, "model digest: " + root.string() + " contains no files");
    }
  } else {
    return make_error(ErrorCode::kInvalidArgument,
                      "model digest: " + root.string() + " is neither a regular file nor a directory");
  }
  // std::string compares with char_traits<char>::compare, i.e. memcmp order: bytewise, as documented.
  std::sort(files.begin(), files.end(), [](const FileEntry& a, const FileEntry& b) { return a.path < b.path; });

  Bytes listing(kModelDigestDomain.begin(), kModelDigestDomain.end());
  for (const FileEntry& file : files) {
    if (auto st = hash_file(file, listing); !st) return std::unexpected(st.error());
  }
  return digest_of(listing);
}

}  // namespace openpcc::attest

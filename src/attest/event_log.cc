#include "attest/event_log.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <utility>

#include "attest/little_endian.h"
#include "attest/uefi.h"
#include "common/byte_reader.h"
#include "crypto/sha256.h"
#include "crypto/sha256_stream.h"

namespace openpcc::attest {

namespace {

constexpr uint16_t kAlgSha1 = 0x0004;
constexpr uint16_t kAlgSha256 = 0x000B;
constexpr size_t kSha1Size = 20;
constexpr size_t kMaxDigestSize = 64;
constexpr std::string_view kSpecIdSignature{"Spec ID Event03\0", 16};
constexpr std::string_view kStartupLocalitySignature{"StartupLocality\0", 16};
constexpr std::string_view kKernelCmdlinePrefix = "kernel_cmdline: ";
// TCG_EfiSpecIDEventStruct fields after the signature and before the algorithm list.
constexpr uint8_t kSpecVersionMajor = 2;

std::unexpected<Error> log_error(ErrorCode code, std::string message) {
  return make_error(code, "event log: " + std::move(message));
}

std::unexpected<Error> at_event(size_t index, const Error& e) {
  return std::unexpected(wrap_error("event log: event " + std::to_string(index), e));
}

struct AlgorithmSize {
  uint16_t alg;
  uint16_t size;
};

// The Spec ID event's data: which banks the log carries and their digest sizes.
Result<std::vector<AlgorithmSize>> parse_spec_id(ByteSpan data) {
  ByteReader r(data);
  auto sig = r.read_bytes(kSpecIdSignature.size(), "Spec ID signature");
  if (!sig) return std::unexpected(sig.error());
  if (to_string(*sig) != kSpecIdSignature) {
    return make_error(ErrorCode::kUnsupported,
                      "header is not a \"Spec ID Event03\" event (legacy SHA-1 log or another format)");
  }
  auto platform_class = read_le<uint32_t>(r, "Spec ID platformClass");
  auto minor = r.read_u8("Spec ID specVersionMinor");
  auto major = r.read_u8("Spec ID specVersionMajor");
  auto errata = r.read_u8("Spec ID specErrata");
  auto uintn = r.read_u8("Spec ID uintnSize");
  auto count = read_le<uint32_t>(r, "Spec ID numberOfAlgorithms");
  if (!platform_class) return std::unexpected(platform_class.error());
  if (!minor) return std::unexpected(minor.error());
  if (!major) return std::unexpected(major.error());
  if (!errata) return std::unexpected(errata.error());
  if (!uintn) return std::unexpected(uintn.error());
  if (!count) return std::unexpected(count.error());
  if (*major != kSpecVersionMajor) {
    return make_error(ErrorCode::kUnsupported, "Spec ID version " + std::to_string(*major) + "." +
                                                   std::to_string(*minor) + ", want 2.x");
  }
  if (*uintn != 1 && *uintn != 2) {
    return make_error(ErrorCode::kDecode, "Spec ID uintnSize " + std::to_string(*uintn) + " is neither 1 nor 2");
  }
  if (*count == 0 || *count > kMaxSpecIdAlgorithms) {
    return make_error(ErrorCode::kDecode, "Spec ID lists " + std::to_string(*count) + " algorithms, want 1.." +
                                              std::to_string(kMaxSpecIdAlgorithms));
  }
  std::vector<AlgorithmSize> algs;
  for (uint32_t i = 0; i < *count; ++i) {
    auto alg = read_le<uint16_t>(r, "Spec ID algorithmId");
    if (!alg) return std::unexpected(alg.error());
    auto size = read_le<uint16_t>(r, "Spec ID digestSize");
    if (!size) return std::unexpected(size.error());
    if (*size == 0 || *size > kMaxDigestSize) {
      return make_error(ErrorCode::kDecode, "Spec ID digest size " + std::to_string(*size) + " for algorithm " +
                                                hex_id(*alg));
    }
    if ((*alg == kAlgSha256 && *size != 32) || (*alg == kAlgSha1 && *size != kSha1Size)) {
      return make_error(ErrorCode::kDecode, "Spec ID digest size " + std::to_string(*size) + " is wrong for " +
                                                hex_id(*alg));
    }
    for (const auto& seen : algs) {
      if (seen.alg == *alg) return make_error(ErrorCode::kDecode, "Spec ID lists algorithm " + hex_id(*alg) + " twice");
    }
    algs.push_back({*alg, *size});
  }
  auto vendor_size = r.read_u8("Spec ID vendorInfoSize");
  if (!vendor_size) return std::unexpected(vendor_size.error());
  if (auto vendor = r.read_bytes(*vendor_size, "Spec ID vendorInfo"); !vendor) return std::unexpected(vendor.error());
  if (!r.empty()) {
    return make_error(ErrorCode::kDecode, "Spec ID event has " + std::to_string(r.remaining()) + " trailing bytes");
  }
  if (std::none_of(algs.begin(), algs.end(), [](const AlgorithmSize& a) { return a.alg == kAlgSha256; })) {
    return make_error(ErrorCode::kUnsupported, "log has no SHA-256 bank");
  }
  return algs;
}

Result<ByteSpan> read_event_data(ByteReader& r) {
  auto size = read_le<uint32_t>(r, "eventSize");
  if (!size) return std::unexpected(size.error());
  if (*size > kMaxEventDataSize) {
    return make_error(ErrorCode::kLimitExceeded, "event data of " + std::to_string(*size) + " bytes exceeds " +
                                                     std::to_string(kMaxEventDataSize));
  }
  return r.read_bytes(*size, "event data");
}

Result<TcgEvent> parse_event2(ByteReader& r, const std::vector<AlgorithmSize>& algs) {
  TcgEvent ev;
  auto pcr = read_le<uint32_t>(r, "pcrIndex");
  if (!pcr) return std::unexpected(pcr.error());
  auto type = read_le<uint32_t>(r, "eventType");
  if (!type) return std::unexpected(type.error());
  if (*pcr > kMaxPcrIndex) {
    return make_error(ErrorCode::kDecode, "PCR index " + std::to_string(*pcr) + " above " +
                                              std::to_string(kMaxPcrIndex));
  }
  ev.pcr = *pcr;
  ev.type = *type;
  auto count = read_le<uint32_t>(r, "digests.count");
  if (!count) return std::unexpected(count.error());
  if (*count == 0 || *count > algs.size()) {
    return make_error(ErrorCode::kDecode, std::to_string(*count) + " digests, the Spec ID lists " +
                                              std::to_string(algs.size()) + " algorithms");
  }
  std::vector<uint16_t> seen;
  for (uint32_t i = 0; i < *count; ++i) {
    auto alg = read_le<uint16_t>(r, "digest hashAlg");
    if (!alg) return std::unexpected(alg.error());
    auto it = std::find_if(algs.begin(), algs.end(), [&](const AlgorithmSize& a) { return a.alg == *alg; });
    if (it == algs.end()) {
      return make_error(ErrorCode::kDecode, "digest algorithm " + hex_id(*alg) + " is not in the Spec ID");
    }
    if (std::find(seen.begin(), seen.end(), *alg) != seen.end()) {
      return make_error(ErrorCode::kDecode, "two digests for algorithm " + hex_id(*alg));
    }
    seen.push_back(*alg);
    auto digest = r.read_bytes(it->size, "digest");
    if (!digest) return std::unexpected(digest.error());
    if (*alg == kAlgSha256) ev.sha256.assign(digest->begin(), digest->end());
  }
  if (ev.sha256.empty()) return make_error(ErrorCode::kDecode, "no SHA-256 digest");
  auto data = read_event_data(r);
  if (!data) return std::unexpected(data.error());
  ev.data.assign(data->begin(), data->end());
  return ev;
}

}  // namespace

std::string event_type_name(uint32_t type) {
  static constexpr std::pair<uint32_t, std::string_view> kNames[] = {
      {0x00000000, "EV_PREBOOT_CERT"},
      {kEvPostCode, "EV_POST_CODE"},
      {0x00000002, "EV_UNUSED"},
      {kEvNoAction, "EV_NO_ACTION"},
      {kEvSeparator, "EV_SEPARATOR"},
      {kEvAction, "EV_ACTION"},
      {kEvEventTag, "EV_EVENT_TAG"},
      {kEvSCrtmContents, "EV_S_CRTM_CONTENTS"},
      {kEvSCrtmVersion, "EV_S_CRTM_VERSION"},
      {kEvCpuMicrocode, "EV_CPU_MICROCODE"},
      {kEvPlatformConfigFlags, "EV_PLATFORM_CONFIG_FLAGS"},
      {kEvTableOfDevices, "EV_TABLE_OF_DEVICES"},
      {kEvCompactHash, "EV_COMPACT_HASH"},
      {kEvIpl, "EV_IPL"},
      {kEvIplPartitionData, "EV_IPL_PARTITION_DATA"},
      {kEvNonhostCode, "EV_NONHOST_CODE"},
      {kEvNonhostConfig, "EV_NONHOST_CONFIG"},
      {kEvNonhostInfo, "EV_NONHOST_INFO"},
      {kEvOmitBootDeviceEvents, "EV_OMIT_BOOT_DEVICE_EVENTS"},
      {kEvEfiEventBase, "EV_EFI_EVENT_BASE"},
      {kEvEfiVariableDriverConfig, "EV_EFI_VARIABLE_DRIVER_CONFIG"},
      {kEvEfiVariableBoot, "EV_EFI_VARIABLE_BOOT"},
      {kEvEfiBootServicesApplication, "EV_EFI_BOOT_SERVICES_APPLICATION"},
      {kEvEfiBootServicesDriver, "EV_EFI_BOOT_SERVICES_DRIVER"},
      {kEvEfiRuntimeServicesDriver, "EV_EFI_RUNTIME_SERVICES_DRIVER"},
      {kEvEfiGptEvent, "EV_EFI_GPT_EVENT"},
      {kEvEfiAction, "EV_EFI_ACTION"},
      {kEvEfiPlatformFirmwareBlob, "EV_EFI_PLATFORM_FIRMWARE_BLOB"},
      {kEvEfiHandoffTables, "EV_EFI_HANDOFF_TABLES"},
      {kEvEfiPlatformFirmwareBlob2, "EV_EFI_PLATFORM_FIRMWARE_BLOB2"},
      {kEvEfiHandoffTables2, "EV_EFI_HANDOFF_TABLES2"},
      {kEvEfiVariableBoot2, "EV_EFI_VARIABLE_BOOT2"},
      {kEvEfiHcrtmEvent, "EV_EFI_HCRTM_EVENT"},
      {kEvEfiVariableAuthority, "EV_EFI_VARIABLE_AUTHORITY"},
  };
  for (const auto& [value, name] : kNames) {
    if (value == type) return std::string(name);
  }
  char buf[11];
  std::snprintf(buf, sizeof(buf), "0x%08x", type);
  return buf;
}

EventLogWriter::EventLogWriter(uint8_t startup_locality) {
  Bytes spec_id;
  append(spec_id, as_bytes(kSpecIdSignature));
  append_le<uint32_t>(spec_id, 0);  // platformClass: client
  append_u8(spec_id, 0);            // specVersionMinor
  append_u8(spec_id, kSpecVersionMajor);
  append_u8(spec_id, 2);            // specErrata
  append_u8(spec_id, 2);            // uintnSize: UINT64
  append_le<uint32_t>(spec_id, 1);  // numberOfAlgorithms
  append_le<uint16_t>(spec_id, kAlgSha256);
  append_le<uint16_t>(spec_id, 32);
  append_u8(spec_id, 0);  // vendorInfoSize

  append_le<uint32_t>(bytes_, 0);
  append_le<uint32_t>(bytes_, kEvNoAction);
  bytes_.insert(bytes_.end(), kSha1Size, 0);
  append_le<uint32_t>(bytes_, static_cast<uint32_t>(spec_id.size()));
  append(bytes_, spec_id);

  if (startup_locality != 0) {
    Bytes data(kStartupLocalitySignature.begin(), kStartupLocalitySignature.end());
    data.push_back(startup_locality);
    (void)add_with_digest(0, kEvNoAction, Bytes(32, 0), data);
  }
}

Status EventLogWriter::add(uint32_t pcr, uint32_t type, ByteSpan data) {
  return add_with_digest(pcr, type, crypto::sha256(data), data);
}

Status EventLogWriter::add_with_digest(uint32_t pcr, uint32_t type, ByteSpan digest, ByteSpan data) {
  if (pcr > kMaxPcrIndex) {
    return make_error(ErrorCode::kInvalidArgument, "event log writer: PCR index " + std::to_string(pcr));
  }
  if (digest.size() != 32) {
    return make_error(ErrorCode::kInvalidArgument,
                      "event log writer: SHA-256 digest of " + std::to_string(digest.size()) + " bytes");
  }
  if (data.size() > kMaxEventDataSize) {
    return make_error(ErrorCode::kInvalidArgument,
                      "event log writer: event data of " + std::to_string(data.size()) + " bytes");
  }
  append_le<uint32_t>(bytes_, pcr);
  append_le<uint32_t>(bytes_, type);
  append_le<uint32_t>(bytes_, 1);  // digests.count
  append_le<uint16_t>(bytes_, kAlgSha256);
  append(bytes_, digest);
  append_le<uint32_t>(bytes_, static_cast<uint32_t>(data.size()));
  append(bytes_, data);
  return {};
}

Result<EventLog> parse_event_log(ByteSpan bytes) {
  if (bytes.size() > kMaxEventLogSize) {
    return log_error(ErrorCode::kLimitExceeded, std::to_string(bytes.size()) + " bytes exceed " +
                                                    std::to_string(kMaxEventLogSize));
  }
  ByteReader r(bytes);
  // Header: TCG_PCClientPCREvent (SHA-1 format).
  auto pcr = read_le<uint32_t>(r, "header pcrIndex");
  auto type = pcr ? read_le<uint32_t>(r, "header eventType") : Result<uint32_t>(std::unexpected(pcr.error()));
  if (!type) return std::unexpected(wrap_error("event log", type.error()));
  if (*pcr != 0 || *type != kEvNoAction) {
    return log_error(ErrorCode::kUnsupported, "first event is not the EV_NO_ACTION Spec ID header (PCR " +
                                                  std::to_string(*pcr) + ", " + event_type_name(*type) + ")");
  }
  if (auto digest = r.read_bytes(kSha1Size, "header digest"); !digest) {
    return std::unexpected(wrap_error("event log", digest.error()));
  }
  auto header_data = read_event_data(r);
  if (!header_data) return std::unexpected(wrap_error("event log: header", header_data.error()));
  auto algs = parse_spec_id(*header_data);
  if (!algs) return std::unexpected(wrap_error("event log", algs.error()));

  EventLog log;
  bool have_locality = false;
  while (!r.empty()) {
    const size_t index = log.events.size() + 1;  // the header is event 0
    if (log.events.size() >= kMaxEventCount) {
      return log_error(ErrorCode::kLimitExceeded, "more than " + std::to_string(kMaxEventCount) + " events");
    }
    auto ev = parse_event2(r, *algs);
    if (!ev) return at_event(index, ev.error());
    if (ev->type == kEvNoAction && ev->pcr == 0 && ev->data.size() >= kStartupLocalitySignature.size() &&
        std::equal(kStartupLocalitySignature.begin(), kStartupLocalitySignature.end(), ev->data.begin())) {
      if (ev->data.size() != kStartupLocalitySignature.size() + 1) {
        return at_event(index, Error{ErrorCode::kDecode, "StartupLocality event data is not 17 bytes"});
      }
      if (have_locality) return at_event(index, Error{ErrorCode::kDecode, "second StartupLocality event"});
      const uint8_t locality = ev->data.back();
      if (locality > 4) {
        return at_event(index, Error{ErrorCode::kDecode, "startup locality " + std::to_string(locality)});
      }
      have_locality = true;
      log.startup_locality = locality;
    }
    log.events.push_back(std::move(*ev));
  }
  return log;
}

PcrValues replay_event_log(const EventLog& log, std::span<const uint32_t> pcrs) {
  PcrValues values;
  for (uint32_t pcr : pcrs) {
    Bytes start(kPcrSize, 0);
    if (pcr == 0) start.back() = log.startup_locality;
    values.emplace(pcr, std::move(start));
  }
  crypto::Sha256Stream hasher;  // one SHA-256 fetch for the whole replay, not one per extend
  for (const TcgEvent& ev : log.events) {
    if (ev.type == kEvNoAction) continue;  // informational, never extended
    auto it = values.find(ev.pcr);
    if (it == values.end()) continue;
    hasher.update(it->second);
    hasher.update(ev.sha256);
    const auto next = hasher.finish();
    it->second.assign(next.begin(), next.end());
  }
  return values;
}

std::optional<bool> secure_boot_enabled(const EventLog& log) {
  std::optional<bool> result;
  for (const TcgEvent& ev : log.events) {
    if (ev.pcr != 7 || ev.type != kEvEfiVariableDriverConfig) continue;
    auto var = parse_uefi_variable_data(ev.data);
    if (!var || var->vendor_guid != kEfiGlobalVariableGuid || var->name != "SecureBoot") continue;
    const auto digest = crypto::sha256(ev.data);
    if (!std::equal(digest.begin(), digest.end(), ev.sha256.begin(), ev.sha256.end())) return std::nullopt;
    if (var->data.size() != 1 || var->data[0] > 1) return std::nullopt;
    const bool enabled = var->data[0] == 1;
    if (result && *result != enabled) return std::nullopt;
    result = enabled;
  }
  return result;
}

std::vector<std::string> kernel_cmdlines(const EventLog& log) {
  std::vector<std::string> out;
  for (const TcgEvent& ev : log.events) {
    if (ev.pcr != 8 || ev.type != kEvIpl) continue;
    std::string_view text(reinterpret_cast<const char*>(ev.data.data()), ev.data.size());
    if (!text.starts_with(kKernelCmdlinePrefix)) continue;
    text.remove_prefix(kKernelCmdlinePrefix.size());
    if (text.ends_with('\0')) text.remove_suffix(1);
    const auto digest = crypto::sha256(as_bytes(text));
    if (!std::equal(digest.begin(), digest.end(), ev.sha256.begin(), ev.sha256.end())) continue;
    out.emplace_back(text);
  }
  return out;
}

}  // namespace openpcc::attest

// The TCG PC Client Platform Firmware Profile event log, crypto-agile format: what firmware and boot loaders measured
// into which PCR, so that a verifier can replay it against quoted PCR values and then read facts out of it.
//
// Layout (all integers little-endian):
//   TCG_PCClientPCREvent  header: pcrIndex 0, eventType EV_NO_ACTION, SHA-1-sized zero digest, eventDataSize,
//                         event = TCG_EfiSpecIDEventStruct ("Spec ID Event03\0", platformClass, version 2.0,
//                         uintnSize, numberOfAlgorithms, {algorithmId u16, digestSize u16}…, vendorInfoSize u8, …)
//   TCG_PCR_EVENT2 …      pcrIndex u32, eventType u32, TPML_DIGEST_VALUES (count u32, {hashAlg u16, digest}…),
//                         eventSize u32, event[eventSize]
//
// The parser needs the Spec ID's digest sizes to step over banks other than SHA-256, requires every event to carry a
// SHA-256 digest and keeps only that one. An EV_NO_ACTION event in PCR 0 with data "StartupLocality\0" ‖ locality
// sets the locality from which PCR 0 starts (H-CRTM / locality 3 firmware); other EV_NO_ACTION events are kept but
// never extended.
//
// Nothing in an event's data is covered by the PCRs except through its digest: helpers that interpret data
// (secure_boot_enabled, kernel_cmdlines) only trust events whose digest is the hash of what they read.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "attest/pcr.h"
#include "common/bytes.h"
#include "common/error.h"

namespace openpcc::attest {

// Event types (TCG PC Client PFP, "Events").
inline constexpr uint32_t kEvPostCode = 0x00000001;
inline constexpr uint32_t kEvNoAction = 0x00000003;
inline constexpr uint32_t kEvSeparator = 0x00000004;
inline constexpr uint32_t kEvAction = 0x00000005;
inline constexpr uint32_t kEvEventTag = 0x00000006;
inline constexpr uint32_t kEvSCrtmContents = 0x00000007;
inline constexpr uint32_t kEvSCrtmVersion = 0x00000008;
inline constexpr uint32_t kEvCpuMicrocode = 0x00000009;
inline constexpr uint32_t kEvPlatformConfigFlags = 0x0000000A;
inline constexpr uint32_t kEvTableOfDevices = 0x0000000B;
inline constexpr uint32_t kEvCompactHash = 0x0000000C;
inline constexpr uint32_t kEvIpl = 0x0000000D;
inline constexpr uint32_t kEvIplPartitionData = 0x0000000E;
inline constexpr uint32_t kEvNonhostCode = 0x0000000F;
inline constexpr uint32_t kEvNonhostConfig = 0x00000010;
inline constexpr uint32_t kEvNonhostInfo = 0x00000011;
inline constexpr uint32_t kEvOmitBootDeviceEvents = 0x00000012;
inline constexpr uint32_t kEvEfiEventBase = 0x80000000;
inline constexpr uint32_t kEvEfiVariableDriverConfig = 0x80000001;
inline constexpr uint32_t kEvEfiVariableBoot = 0x80000002;
inline constexpr uint32_t kEvEfiBootServicesApplication = 0x80000003;
inline constexpr uint32_t kEvEfiBootServicesDriver = 0x80000004;
inline constexpr uint32_t kEvEfiRuntimeServicesDriver = 0x80000005;
inline constexpr uint32_t kEvEfiGptEvent = 0x80000006;
inline constexpr uint32_t kEvEfiAction = 0x80000007;
inline constexpr uint32_t kEvEfiPlatformFirmwareBlob = 0x80000008;
inline constexpr uint32_t kEvEfiHandoffTables = 0x80000009;
inline constexpr uint32_t kEvEfiPlatformFirmwareBlob2 = 0x8000000A;
inline constexpr uint32_t kEvEfiHandoffTables2 = 0x8000000B;
inline constexpr uint32_t kEvEfiVariableBoot2 = 0x8000000C;
inline constexpr uint32_t kEvEfiHcrtmEvent = 0x80000010;
inline constexpr uint32_t kEvEfiVariableAuthority = 0x800000E0;

// "EV_EFI_GPT_EVENT", or "0x12345678" for a type this code does not name.
std::string event_type_name(uint32_t type);

// Parser limits. Real logs are tens of kilobytes with a few hundred events; the largest event data are Secure Boot
// databases of a few tens of kilobytes.
inline constexpr size_t kMaxEventLogSize = 16 * 1024 * 1024;
inline constexpr size_t kMaxEventDataSize = 64 * 1024;
inline constexpr size_t kMaxEventCount = 100'000;
inline constexpr size_t kMaxSpecIdAlgorithms = 16;

// One TCG_PCR_EVENT2 with its SHA-256 digest (other banks are dropped).
struct TcgEvent {
  uint32_t pcr = 0;
  uint32_t type = 0;
  Bytes sha256;
  Bytes data;
};

struct EventLog {
  std::vector<TcgEvent> events;  // in log order, without the Spec ID header
  uint8_t startup_locality = 0;  // from a StartupLocality event, 0 when there is none
};

// Writes a crypto-agile log with a single SHA-256 bank. Used by the simulated boot and by tests.
class EventLogWriter {
 public:
  // Writes the Spec ID header; a non-zero startup locality (3 or 4) also writes the StartupLocality event.
  explicit EventLogWriter(uint8_t startup_locality = 0);

  // digest = SHA-256(data). kInvalidArgument (and nothing written) when data exceeds kMaxEventDataSize or the PCR
  // index exceeds kMaxPcrIndex.
  Status add(uint32_t pcr, uint32_t type, ByteSpan data);
  // For events whose digest is of something other than their data (a loaded image, a model). The digest must be
  // 32 bytes.
  Status add_with_digest(uint32_t pcr, uint32_t type, ByteSpan digest, ByteSpan data);

  const Bytes& bytes() const { return bytes_; }

 private:
  Bytes bytes_;
};

// Bounds-checked, with the limits above: kLimitExceeded when one is hit, kTruncated for input that ends inside an
// event, kDecode for malformed structures, kUnsupported for a log without a SHA-256 bank or in the legacy SHA-1 format.
// The input must end exactly after the last event.
Result<EventLog> parse_event_log(ByteSpan bytes);

// The SHA-256 bank values that replaying the log produces for each of `pcrs`: every PCR starts at zero (PCR 0 at
// the startup locality in its last byte) and is extended with the digest of each of its events except EV_NO_ACTION.
// PCRs without events keep their starting value.
PcrValues replay_event_log(const EventLog& log, std::span<const uint32_t> pcrs);

// The SecureBoot variable as measured into PCR 7 (EV_EFI_VARIABLE_DRIVER_CONFIG, EFI_GLOBAL_VARIABLE "SecureBoot"):
// true for 0x01, false for 0x00. nullopt when there is no such event, when one is malformed or its digest is not
// SHA-256 of its data, or when several disagree.
std::optional<bool> secure_boot_enabled(const EventLog& log);

// The kernel command lines GRUB measured into PCR 8 (EV_IPL, data "kernel_cmdline: <cmdline>\0", digest
// SHA-256(<cmdline>)), in log order, without the prefix and terminator. Events whose digest does not match the
// command line they carry are skipped: their text is not what the PCR attests.
std::vector<std::string> kernel_cmdlines(const EventLog& log);

}  // namespace openpcc::attest

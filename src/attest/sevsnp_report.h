// The AMD SEV-SNP ATTESTATION_REPORT (SEV Secure Nested Paging Firmware ABI Specification, "Attestation" —
// the ATTESTATION_REPORT structure): 1184 bytes, little-endian, signed by the chip's VCEK with ECDSA P-384 over
// SHA-384 of bytes [0, 0x2A0).
//
//   0x000 VERSION u32         0x050 REPORT_DATA[64]       0x180 REPORTED_TCB u64
//   0x004 GUEST_SVN u32       0x090 MEASUREMENT[48]       0x188 CPUID_FAM_ID, _MOD_ID, _STEP u8 (version ≥ 3)
//   0x008 POLICY u64          0x0C0 HOST_DATA[32]         0x1A0 CHIP_ID[64]
//   0x010 FAMILY_ID[16]       0x0E0 ID_KEY_DIGEST[48]     0x1E0 COMMITTED_TCB u64
//   0x020 IMAGE_ID[16]        0x110 AUTHOR_KEY_DIGEST[48] 0x1E8 CURRENT_BUILD, _MINOR, _MAJOR u8
//   0x030 VMPL u32            0x140 REPORT_ID[32]         0x1EC COMMITTED_BUILD, _MINOR, _MAJOR u8
//   0x034 SIGNATURE_ALGO u32  0x160 REPORT_ID_MA[32]      0x1F0 LAUNCH_TCB u64
//   0x038 CURRENT_TCB u64                                 0x1F8 LAUNCH_MIT_VECTOR u64 (version ≥ 5)
//   0x040 PLATFORM_INFO u64                               0x200 CURRENT_MIT_VECTOR u64 (version ≥ 5)
//   0x048 AUTHOR_KEY_EN (bit 0), MASK_CHIP_KEY (bit 1), SIGNING_KEY (bits 4:2)
//   0x2A0 SIGNATURE: R[72] ‖ S[72], little-endian, then reserved to 0x4A0
//
// The parser accepts report versions 2 to 5 (the layouts this file knows), rejects any other size or version, a
// SIGNATURE_ALGO other than 1 (ECDSA P-384 with SHA-384), and non-zero bytes in every field the specification
// reserves as must-be-zero for that version (including the unused upper 24 bytes of R and S). It does not check the
// signature: see attest/sevsnp_verify.h.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "common/bytes.h"
#include "common/error.h"

namespace openpcc::attest {

inline constexpr size_t kSevSnpReportSize = 0x4A0;      // 1184
inline constexpr size_t kSevSnpSignedSize = 0x2A0;      // the signature covers bytes [0, 0x2A0)
inline constexpr size_t kSevSnpSignatureOffset = 0x2A0;
inline constexpr size_t kSevSnpSignatureComponentSize = 72;  // R and S fields, little-endian
inline constexpr size_t kSevSnpReportDataOffset = 0x50;
inline constexpr size_t kSevSnpMeasurementOffset = 0x90;
inline constexpr size_t kSevSnpChipIdOffset = 0x1A0;
inline constexpr uint32_t kSevSnpSignatureAlgoEcdsaP384Sha384 = 1;

// A TCB_VERSION in the Milan/Genoa layout: byte 0 boot loader SPL, 1 TEE SPL, 2..5 reserved, 6 SNP firmware SPL,
// 7 microcode SPL (SPL = security patch level). `raw` keeps all eight bytes as the little-endian u64.
struct TcbVersion {
  uint8_t boot_loader = 0;
  uint8_t tee = 0;
  uint8_t snp = 0;
  uint8_t microcode = 0;
  uint64_t raw = 0;

  static TcbVersion from_raw(uint64_t raw);
  // The raw value with these four SPLs and zero reserved bytes.
  static TcbVersion from_spls(uint8_t boot_loader, uint8_t tee, uint8_t snp, uint8_t microcode);
  // Every SPL of *this is ≥ the same SPL of `minimum` (a partial order: SPLs are compared one by one).
  bool at_least(const TcbVersion& minimum) const;
  // "bl=10 tee=0 snp=23 ucode=84"
  std::string to_string() const;
  friend bool operator==(const TcbVersion& a, const TcbVersion& b) { return a.raw == b.raw; }
};

// GUEST_POLICY bits.
inline constexpr uint64_t kSevSnpPolicySmt = 1ull << 16;
inline constexpr uint64_t kSevSnpPolicyReservedMustBeOne = 1ull << 17;
inline constexpr uint64_t kSevSnpPolicyMigrateMa = 1ull << 18;
inline constexpr uint64_t kSevSnpPolicyDebug = 1ull << 19;
inline constexpr uint64_t kSevSnpPolicySingleSocket = 1ull << 20;

// SIGNING_KEY values.
inline constexpr uint8_t kSevSnpSigningKeyVcek = 0;
inline constexpr uint8_t kSevSnpSigningKeyVlek = 1;
inline constexpr uint8_t kSevSnpSigningKeyNone = 7;

struct SevSnpReport {
  uint32_t version = 0;
  uint32_t guest_svn = 0;
  uint64_t policy = 0;
  std::array<uint8_t, 16> family_id{};
  std::array<uint8_t, 16> image_id{};
  uint32_t vmpl = 0;
  uint32_t signature_algo = 0;
  TcbVersion current_tcb;
  uint64_t platform_info = 0;
  bool author_key_en = false;
  bool mask_chip_key = false;
  uint8_t signing_key = 0;  // 0 VCEK, 1 VLEK, 7 none
  std::array<uint8_t, 64> report_data{};
  std::array<uint8_t, 48> measurement{};
  std::array<uint8_t, 32> host_data{};
  std::array<uint8_t, 48> id_key_digest{};
  std::array<uint8_t, 48> author_key_digest{};
  std::array<uint8_t, 32> report_id{};
  std::array<uint8_t, 32> report_id_ma{};
  TcbVersion reported_tcb;
  std::optional<uint8_t> cpuid_family_id;  // version ≥ 3
  std::optional<uint8_t> cpuid_model_id;
  std::optional<uint8_t> cpuid_stepping;
  std::array<uint8_t, 64> chip_id{};
  TcbVersion committed_tcb;
  uint8_t current_build = 0, current_minor = 0, current_major = 0;
  uint8_t committed_build = 0, committed_minor = 0, committed_major = 0;
  TcbVersion launch_tcb;
  std::optional<uint64_t> launch_mit_vector;  // version ≥ 5
  std::optional<uint64_t> current_mit_vector;
  // The signature as ECDSA wants it: 48-byte big-endian r and s (converted from the 72-byte little-endian fields).
  std::array<uint8_t, 48> signature_r{};
  std::array<uint8_t, 48> signature_s{};

  bool debug_allowed() const { return (policy & kSevSnpPolicyDebug) != 0; }
  bool migrate_ma_allowed() const { return (policy & kSevSnpPolicyMigrateMa) != 0; }
  uint8_t policy_abi_major() const { return static_cast<uint8_t>(policy >> 8); }
  uint8_t policy_abi_minor() const { return static_cast<uint8_t>(policy); }
  // CHIP_ID is all zeros when the platform masks it (MASK_CHIP_ID); it then identifies nothing.
  bool chip_id_masked() const;
};

// kDecode (or kUnsupported for an unknown version or signature algorithm) for anything but a well-formed report.
Result<SevSnpReport> parse_sevsnp_report(ByteSpan report);

}  // namespace openpcc::attest

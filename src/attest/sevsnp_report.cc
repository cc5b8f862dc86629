#include "attest/sevsnp_report.h"

#include <algorithm>
#include <cstring>

namespace openpcc::attest {
namespace {

// The report has a fixed size, checked before any field is read, so fields are read at constant offsets.
uint32_t le32(ByteSpan b, size_t offset) {
  uint32_t v = 0;
  for (size_t i = 4; i-- > 0;) v = v << 8 | b[offset + i];
  return v;
}

uint64_t le64(ByteSpan b, size_t offset) {
  uint64_t v = 0;
  for (size_t i = 8; i-- > 0;) v = v << 8 | b[offset + i];
  return v;
}

template <size_t N>
void copy_field(ByteSpan b, size_t offset, std::array<uint8_t, N>& out) {
  std::memcpy(out.data(), b.data() + offset, N);
}

std::string hex_offset(size_t offset) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string s = "0x";
  for (int shift = 8; shift >= 0; shift -= 4) s.push_back(kDigits[(offset >> shift) & 0xF]);
  return s;
}

// Bytes [begin, end) are reserved must-be-zero.
Status check_zero(ByteSpan b, size_t begin, size_t end, std::string_view field) {
  for (size_t i = begin; i < end; ++i) {
    if (b[i] != 0) {
      return make_error(ErrorCode::kDecode, "sevsnp report: reserved " + std::string(field) + " byte at " +
                                                hex_offset(i) + " is not zero");
    }
  }
  return {};
}

// A 72-byte little-endian R or S as a 48-byte big-endian P-384 scalar; the upper 24 bytes must be zero.
Result<std::array<uint8_t, 48>> signature_component(ByteSpan b, size_t offset, std::string_view name) {
  if (auto ok = check_zero(b, offset + 48, offset + kSevSnpSignatureComponentSize, "signature " + std::string(name));
      !ok) {
    return std::unexpected(ok.error());
  }
  std::array<uint8_t, 48> out{};
  for (size_t i = 0; i < 48; ++i) out[i] = b[offset + 47 - i];
  return out;
}

}  // namespace

TcbVersion TcbVersion::from_raw(uint64_t raw) {
  TcbVersion t;
  t.raw = raw;
  t.boot_loader = static_cast<uint8_t>(raw);
  t.tee = static_cast<uint8_t>(raw >> 8);
  t.snp = static_cast<uint8_t>(raw >> 48);
  t.microcode = static_cast<uint8_t>(raw >> 56);
  return t;
}

TcbVersion TcbVersion::from_spls(uint8_t boot_loader, uint8_t tee, uint8_t snp, uint8_t microcode) {
  return from_raw(uint64_t{boot_loader} | uint64_t{tee} << 8 | uint64_t{snp} << 48 | uint64_t{microcode} << 56);
}

bool TcbVersion::at_least(const TcbVersion& minimum) const {
  return boot_loader >= minimum.boot_loader && tee >= minimum.tee && snp >= minimum.snp &&
         microcode >= minimum.microcode;
}

std::string TcbVersion::to_string() const {
  return "bl=" + std::to_string(boot_loader) + " tee=" + std::to_string(tee) + " snp=" + std::to_string(snp) +
         " ucode=" + std::to_string(microcode);
}

bool SevSnpReport::chip_id_masked() const {
  return std::all_of(chip_id.begin(), chip_id.end(), [](uint8_t b) { return b == 0; });
}

Result<SevSnpReport> parse_sevsnp_report(ByteSpan b) {
  if (b.size() != kSevSnpReportSize) {
    return make_error(ErrorCode::kDecode, "sevsnp report: must be " + std::to_string(kSevSnpReportSize) +
                                              " bytes, got " + std::to_string(b.size()));
  }
  SevSnpReport r;
  r.version = le32(b, 0x00);
  if (r.version < 2 || r.version > 5) {
    return make_error(ErrorCode::kUnsupported,
                      "sevsnp report: unsupported version " + std::to_string(r.version) + " (known: 2 to 5)");
  }
  r.signature_algo = le32(b, 0x34);
  if (r.signature_algo != kSevSnpSignatureAlgoEcdsaP384Sha384) {
    return make_error(ErrorCode::kUnsupported, "sevsnp report: unsupported signature algorithm " +
                                                   std::to_string(r.signature_algo) + " (only 1, ECDSA P-384 SHA-384)");
  }
  r.guest_svn = le32(b, 0x04);
  r.policy = le64(b, 0x08);
  copy_field(b, 0x10, r.family_id);
  copy_field(b, 0x20, r.image_id);
  r.vmpl = le32(b, 0x30);
  r.current_tcb = TcbVersion::from_raw(le64(b, 0x38));
  r.platform_info = le64(b, 0x40);

  const uint32_t key_info = le32(b, 0x48);
  if (key_info >> 5 != 0) {
    return make_error(ErrorCode::kDecode, "sevsnp report: reserved key information bits 31:5 are not zero");
  }
  r.author_key_en = (key_info & 1) != 0;
  r.mask_chip_key = (key_info & 2) != 0;
  r.signing_key = static_cast<uint8_t>((key_info >> 2) & 7);
  if (auto ok = check_zero(b, 0x4C, 0x50, "field"); !ok) return std::unexpected(ok.error());

  copy_field(b, 0x50, r.report_data);
  copy_field(b, 0x90, r.measurement);
  copy_field(b, 0xC0, r.host_data);
  copy_field(b, 0xE0, r.id_key_digest);
  copy_field(b, 0x110, r.author_key_digest);
  copy_field(b, 0x140, r.report_id);
  copy_field(b, 0x160, r.report_id_ma);
  r.reported_tcb = TcbVersion::from_raw(le64(b, 0x180));
  if (r.version >= 3) {
    r.cpuid_family_id = b[0x188];
    r.cpuid_model_id = b[0x189];
    r.cpuid_stepping = b[0x18A];
    if (auto ok = check_zero(b, 0x18B, 0x1A0, "field"); !ok) return std::unexpected(ok.error());
  } else {
    if (auto ok = check_zero(b, 0x188, 0x1A0, "field"); !ok) return std::unexpected(ok.error());
  }
  copy_field(b, 0x1A0, r.chip_id);
  r.committed_tcb = TcbVersion::from_raw(le64(b, 0x1E0));
  r.current_build = b[0x1E8];
  r.current_minor = b[0x1E9];
  r.current_major = b[0x1EA];
  if (auto ok = check_zero(b, 0x1EB, 0x1EC, "field"); !ok) return std::unexpected(ok.error());
  r.committed_build = b[0x1EC];
  r.committed_minor = b[0x1ED];
  r.committed_major = b[0x1EE];
  if (auto ok = check_zero(b, 0x1EF, 0x1F0, "field"); !ok) return std::unexpected(ok.error());
  r.launch_tcb = TcbVersion::from_raw(le64(b, 0x1F0));
  size_t reserved_from = 0x1F8;
  if (r.version >= 5) {
    r.launch_mit_vector = le64(b, 0x1F8);
    r.current_mit_vector = le64(b, 0x200);
    reserved_from = 0x208;
  }
  if (auto ok = check_zero(b, reserved_from, kSevSnpSignedSize, "field"); !ok) return std::unexpected(ok.error());

  auto sig_r = signature_component(b, kSevSnpSignatureOffset, "R");
  if (!sig_r) return std::unexpected(sig_r.error());
  auto sig_s = signature_component(b, kSevSnpSignatureOffset + kSevSnpSignatureComponentSize, "S");
  if (!sig_s) return std::unexpected(sig_s.error());
  r.signature_r = *sig_r;
  r.signature_s = *sig_s;
  if (auto ok = check_zero(b, kSevSnpSignatureOffset + 2 * kSevSnpSignatureComponentSize, kSevSnpReportSize,
                           "signature");
      !ok) {
    return std::unexpected(ok.error());
  }
  return r;
}

}  // namespace openpcc::attest

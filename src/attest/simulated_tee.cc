#include "attest/simulated_tee.h"

#include <algorithm>
#include <cstring>

#include "common/byte_reader.h"
#include "common/secure.h"
#include "crypto/sha384.h"
#include "crypto/sha512.h"

namespace openpcc::attest {
namespace {

constexpr std::string_view kMagicText = "openpcc SIMULATED tee report v1";
constexpr size_t kMagicSize = 32;
constexpr std::string_view kLaunchLabel{"openpcc simulated launch\0", 25};

std::array<uint8_t, kMagicSize> magic() {
  std::array<uint8_t, kMagicSize> out{};
  std::memcpy(out.data(), kMagicText.data(), kMagicText.size());
  return out;
}

template <size_t N>
Status read_array(ByteReader& reader, std::array<uint8_t, N>& out, std::string_view what) {
  auto bytes = reader.read_bytes(N, what);
  if (!bytes) return std::unexpected(bytes.error());
  std::copy(bytes->begin(), bytes->end(), out.begin());
  return {};
}

Result<uint64_t> read_u64be(ByteReader& reader, std::string_view what) {
  auto hi = reader.read_u32be(what);
  if (!hi) return std::unexpected(hi.error());
  auto lo = reader.read_u32be(what);
  if (!lo) return std::unexpected(lo.error());
  return (uint64_t{*hi} << 32) | *lo;
}

std::unexpected<Error> decode_error(const Error& e) {
  return make_error(ErrorCode::kDecode, "simulated tee report: " + e.message);
}

}  // namespace

Bytes encode_simulated_tee_report(const SimulatedTeeReport& report) {
  Bytes out;
  out.reserve(kSimulatedTeeBodySize);
  auto m = magic();
  append(out, m);
  append(out, i2osp(report.version, 4));
  append(out, report.measurement);
  append(out, report.host_data);
  append(out, report.report_data);
  append(out, report.chip_id);
  append(out, i2osp(report.reported_tcb, 8));
  append(out, i2osp(static_cast<uint64_t>(report.issued_at), 8));
  return out;
}

Result<SimulatedTeeReport> parse_simulated_tee_report(ByteSpan body) {
  if (body.size() != kSimulatedTeeBodySize) {
    return make_error(ErrorCode::kDecode, "simulated tee report: body must be " +
                                              std::to_string(kSimulatedTeeBodySize) + " bytes, got " +
                                              std::to_string(body.size()));
  }
  ByteReader reader(body);
  std::array<uint8_t, kMagicSize> seen_magic{};
  if (auto s = read_array(reader, seen_magic, "magic"); !s) return decode_error(s.error());
  if (seen_magic != magic()) return make_error(ErrorCode::kDecode, "simulated tee report: wrong magic");
  SimulatedTeeReport report;
  auto version = reader.read_u32be("version");
  if (!version) return decode_error(version.error());
  if (*version != 1) {
    return make_error(ErrorCode::kDecode, "simulated tee report: unsupported version " + std::to_string(*version));
  }
  report.version = *version;
  if (auto s = read_array(reader, report.measurement, "measurement"); !s) return decode_error(s.error());
  if (auto s = read_array(reader, report.host_data, "host_data"); !s) return decode_error(s.error());
  if (auto s = read_array(reader, report.report_data, "report_data"); !s) return decode_error(s.error());
  if (auto s = read_array(reader, report.chip_id, "chip_id"); !s) return decode_error(s.error());
  auto tcb = read_u64be(reader, "reported_tcb");
  if (!tcb) return decode_error(tcb.error());
  report.reported_tcb = *tcb;
  auto issued = read_u64be(reader, "issued_at");
  if (!issued) return decode_error(issued.error());
  report.issued_at = static_cast<int64_t>(*issued);
  return report;
}

std::array<uint8_t, 48> simulated_launch_measurement(ByteSpan what) {
  return crypto::sha384(concat({as_bytes(kLaunchLabel), what}));
}

Result<SimulatedHardwareRoot> SimulatedHardwareRoot::generate() {
  auto key = crypto::EcdsaPrivateKey::generate(crypto::EcCurve::kP384);
  if (!key) return std::unexpected(key.error());
  return SimulatedHardwareRoot(std::move(*key));
}

Result<SimulatedHardwareRoot> SimulatedHardwareRoot::from_pem(std::string_view private_key_pem) {
  auto key = crypto::EcdsaPrivateKey::from_pem(private_key_pem);
  if (!key) return std::unexpected(key.error());
  if (key->curve() != crypto::EcCurve::kP384) {
    return make_error(ErrorCode::kInvalidArgument, "simulated hardware root: key must be ECDSA P-384");
  }
  return SimulatedHardwareRoot(std::move(*key));
}

Result<std::string> SimulatedHardwareRoot::to_pem() const { return key_.to_pem(); }

std::array<uint8_t, 64> SimulatedHardwareRoot::chip_id() const { return crypto::sha512(public_key().point()); }

Result<SimulatedHardwareRoot::Signed> SimulatedHardwareRoot::sign(SimulatedTeeReport report) const {
  report.chip_id = chip_id();
  Bytes body = encode_simulated_tee_report(report);
  auto sig = key_.sign(body);
  if (!sig) return std::unexpected(sig.error());
  return Signed{std::move(body), concat({sig->r, sig->s})};
}

Result<SimulatedTeeReport> verify_simulated_tee_report(ByteSpan body, ByteSpan signature,
                                                       const crypto::EcdsaPublicKey& root) {
  auto report = parse_simulated_tee_report(body);
  if (!report) return std::unexpected(report.error());
  if (signature.size() != kSimulatedTeeSignatureSize) {
    return make_error(ErrorCode::kAuthenticationFailed, "simulated tee report: signature must be 96 bytes (r ‖ s)");
  }
  if (root.curve() != crypto::EcCurve::kP384) {
    return make_error(ErrorCode::kInvalidArgument, "simulated tee report: the root key must be ECDSA P-384");
  }
  if (auto ok = root.verify(body, signature.first(48), signature.subspan(48)); !ok) {
    return make_error(ErrorCode::kAuthenticationFailed,
                      "simulated tee report: signature does not verify with the simulated hardware root");
  }
  // The chip id is signed, so a valid signature with a mismatched chip id means the root signed a report naming
  // another chip: refuse it rather than guess.
  if (!ct_equal(report->chip_id, crypto::sha512(root.point()))) {
    return make_error(ErrorCode::kAuthenticationFailed,
                      "simulated tee report: chip id does not belong to the simulated hardware root");
  }
  return report;
}

}  // namespace openpcc::attest

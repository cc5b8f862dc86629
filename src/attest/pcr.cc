#include "attest/pcr.h"

#include <string>

#include "crypto/sha256.h"

namespace openpcc::attest {

namespace {
constexpr uint16_t kAlgSha256 = 0x000B;
constexpr uint8_t kSizeofSelect = 3;
}  // namespace

Bytes pcr_composite_digest(const PcrValues& values) {
  Bytes all;
  all.reserve(values.size() * kPcrSize);
  for (const auto& [index, value] : values) append(all, value);  // std::map iterates in ascending index order
  auto d = crypto::sha256(all);
  return Bytes(d.begin(), d.end());
}

Bytes marshal_pcr_selection(std::span<const uint32_t> pcrs) {
  std::array<uint8_t, kSizeofSelect> bitmap{};
  for (uint32_t pcr : pcrs) {
    if (pcr > kMaxPcrIndex) continue;
    bitmap[pcr / 8] |= static_cast<uint8_t>(1u << (pcr % 8));
  }
  Bytes out;
  append(out, i2osp(1, 4));  // TPML_PCR_SELECTION.count
  append_u16be(out, kAlgSha256);
  append_u8(out, kSizeofSelect);
  append(out, bitmap);
  return out;
}

Result<Bytes> policy_pcr_digest(const PcrValues& values) {
  if (values.empty()) return make_error(ErrorCode::kInvalidArgument, "policy pcr: no PCRs selected");
  std::vector<uint32_t> indices;
  for (const auto& [index, value] : values) {
    if (index > kMaxPcrIndex) {
      return make_error(ErrorCode::kInvalidArgument, "policy pcr: PCR index " + std::to_string(index) + " above " +
                                                         std::to_string(kMaxPcrIndex));
    }
    if (value.size() != kPcrSize) {
      return make_error(ErrorCode::kInvalidArgument, "policy pcr: PCR " + std::to_string(index) + " value has " +
                                                         std::to_string(value.size()) + " bytes, want 32");
    }
    indices.push_back(index);
  }
  const Bytes zeros(kPcrSize, 0);  // a fresh policy session's digest
  const Bytes composite = pcr_composite_digest(values);
  auto d = crypto::sha256(concat({zeros, i2osp(kTpmCcPolicyPcr, 4), marshal_pcr_selection(indices), composite}));
  return Bytes(d.begin(), d.end());
}

Bytes pcr_extend(ByteSpan old_value, ByteSpan digest) {
  auto d = crypto::sha256(concat({old_value, digest}));
  return Bytes(d.begin(), d.end());
}

}  // namespace openpcc::attest

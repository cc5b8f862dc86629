// TPM structure parsing (attest/tpm_structures.h) on arbitrary bytes: the input is read whole as a TPMT_PUBLIC, a
// TPMS_ATTEST, a TPM2B_ATTEST and a TPMT_SIGNATURE, and also split as
//   u16be key length ‖ TPMT_PUBLIC ‖ u16be signature length ‖ TPMT_SIGNATURE ‖ signed message
// for verify_tpm_signature. Nothing may crash; whatever parses must keep the exact input bytes, and a key's Name
// must be nameAlg ‖ SHA-256(input).
#include <algorithm>
#include <cstdint>
#include <cstdlib>

#include "attest/tpm_structures.h"
#include "crypto/sha256.h"

using namespace openpcc;
using namespace openpcc::attest;

namespace {

void check_key(ByteSpan in, const TpmPublic& key) {
  if (key.marshalled != Bytes(in.begin(), in.end())) std::abort();
  if (key.type != kTpmAlgRsa && key.type != kTpmAlgEcc) std::abort();
  auto name = tpm_object_name(in);
  if (key.name_alg == kTpmAlgSha256) {
    const auto digest = crypto::sha256(in);
    if (!name || name->size() != 34 || !std::equal(digest.begin(), digest.end(), name->begin() + 2)) std::abort();
  } else if (name) {
    std::abort();
  }
  if (auto point = ecc_public_point(key)) {
    if (point->size() != 65 || (*point)[0] != 0x04) std::abort();
  }
}

ByteSpan take_sized(ByteSpan& in) {
  if (in.size() < 2) return {};
  const size_t n = std::min<size_t>(in.size() - 2, static_cast<size_t>(in[0] << 8 | in[1]));
  ByteSpan out = in.subspan(2, n);
  in = in.subspan(2 + n);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ByteSpan in(data, size);
  if (auto key = parse_tpmt_public(in)) check_key(in, *key);
  if (auto att = parse_tpms_attest(in)) {
    if (att->marshalled != Bytes(in.begin(), in.end()) || att->magic != kTpmGeneratedValue) std::abort();
    if (att->type != kTpmStAttestQuote && att->type != kTpmStAttestCreation) std::abort();
  }
  if (auto att = parse_tpm2b_attest(in)) {
    if (att->marshalled.size() + 2 != size) std::abort();
  }
  if (auto sig = parse_tpmt_signature(in)) {
    if (sig->marshalled != Bytes(in.begin(), in.end())) std::abort();
  }

  ByteSpan rest = in;
  const ByteSpan key_bytes = take_sized(rest);
  const ByteSpan sig_bytes = take_sized(rest);
  auto key = parse_tpmt_public(key_bytes);
  auto sig = parse_tpmt_signature(sig_bytes);
  if (key && sig) {
    check_key(key_bytes, *key);
    (void)verify_tpm_signature(*key, rest, *sig);
  }
  return 0;
}

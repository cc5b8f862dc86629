// rsa.pbssa.derive_public_key / rsa.pbssa.blind_sign / rsa.pbssa.verify / rsa.bssa.verify: the suite-free forms of
// the RSA blind-signature operations, shaped like the published vectors (RFC 9474 and
// draft-irtf-cfrg-partially-blind-rsa), with the PSS variant chosen by `salt_length` (48 = PSS, 0 = PSSZERO).
//
// The verify ops answer {"valid": false} for a well-formed signature that does not verify, and an error line only
// for malformed input, so a driver can tell "rejected" from "could not ask".
#include <nlohmann/json.hpp>

#include "conformance/fields.h"
#include "conformance/harness.h"
#include "conformance/rsa_key_fields.h"
#include "crypto/rsa_blind.h"

namespace openpcc::conformance {

using nlohmann::json;
using namespace openpcc::crypto;

namespace {

// Deterministic suites: the vectors' msg is already the prepared message (a Randomized suite's 32-byte prefix, if
// any, is part of it), so verify takes it as is.
Result<BlindRsaSuite> suite_for_salt_length(const json& req, bool partially_blind) {
  auto salt_length = uint_field(req, "salt_length", UINT32_MAX);
  if (!salt_length) return std::unexpected(salt_length.error());
  if (*salt_length == 48) return partially_blind ? kRsaPbssaSha384PssDeterministic : kRsaBssaSha384PssDeterministic;
  if (*salt_length == 0) {
    return partially_blind ? kRsaPbssaSha384PssZeroDeterministic : kRsaBssaSha384PssZeroDeterministic;
  }
  return make_error(ErrorCode::kUnsupported, "field \"salt_length\" must be 48 (PSS) or 0 (PSSZERO), got " +
                                                 std::to_string(*salt_length));
}

Result<json> verify_answer(const BlindRsaSuite& suite, const RsaPublicKey& key, ByteSpan msg, ByteSpan info,
                           ByteSpan sig) {
  auto status = verify(suite, key, msg, info, sig);
  if (status) return json{{"valid", true}};
  // Only "does not verify" is an answer; a wrong-size signature or an unusable key is a malformed request.
  if (status.error().code == ErrorCode::kAuthenticationFailed) return json{{"valid", false}};
  return std::unexpected(status.error());
}

Result<json> verify_op(const json& req, bool partially_blind) {
  auto suite = suite_for_salt_length(req, partially_blind);
  if (!suite) return std::unexpected(suite.error());
  auto key = rsa_public_key_fields(req);
  if (!key) return std::unexpected(key.error());
  Result<Bytes> info = Bytes{};
  if (partially_blind) info = hex_field(req, "info");
  if (!info) return std::unexpected(info.error());
  auto msg = hex_field(req, "msg");
  if (!msg) return std::unexpected(msg.error());
  auto sig = hex_field(req, "sig");
  if (!sig) return std::unexpected(sig.error());
  return verify_answer(*suite, *key, *msg, *info, *sig);
}

Result<json> pbssa_derive_public_key_op(const json& req) {
  auto key = rsa_public_key_fields(req);
  if (!key) return std::unexpected(key.error());
  auto info = hex_field(req, "info");
  if (!info) return std::unexpected(info.error());
  auto e_prime = derive_metadata_public_exponent(*key, *info);
  if (!e_prime) return std::unexpected(e_prime.error());
  // e′ is printed in the draft's form, λ/8 bytes big-endian (its top byte may be zero).
  return json{{"n", to_hex(key->n)}, {"e", to_hex(*e_prime)}};
}

Result<json> pbssa_blind_sign_op(const json& req) {
  auto key = rsa_private_key_fields(req);
  if (!key) return std::unexpected(key.error());
  auto info = hex_field(req, "info");
  if (!info) return std::unexpected(info.error());
  auto blind_msg = hex_field(req, "blind_msg");
  if (!blind_msg) return std::unexpected(blind_msg.error());
  // The signer's work does not depend on the PSS variant: any partially blind suite signs the same.
  auto signer = BlindRsaSigner::create(kRsaPbssaSha384PssDeterministic, std::move(*key));
  if (!signer) return std::unexpected(signer.error());
  auto sig = signer->blind_sign(*blind_msg, *info);
  if (!sig) return std::unexpected(sig.error());
  return json{{"blind_sig", to_hex(*sig)}};
}

}  // namespace

void add_rsa_operations(Harness& h) {
  h.add("rsa.pbssa.derive_public_key", pbssa_derive_public_key_op);
  h.add("rsa.pbssa.blind_sign", pbssa_blind_sign_op);
  h.add("rsa.pbssa.verify", [](const json& req) { return verify_op(req, /*partially_blind=*/true); });
  h.add("rsa.bssa.verify", [](const json& req) { return verify_op(req, /*partially_blind=*/false); });
}

}  // namespace openpcc::conformance

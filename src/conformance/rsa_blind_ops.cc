// rsa_blind.blind_sign / blind / finalize / verify: RFC 9474 RSABSSA-SHA384, RSAPBSSA-SHA384 and the OpenPCC credit
// suite, with keys given as hex components.
#include <array>

#include <nlohmann/json.hpp>

#include "conformance/fields.h"
#include "conformance/harness.h"
#include "conformance/rsa_key_fields.h"
#include "crypto/rsa_blind.h"

namespace openpcc::conformance {

using nlohmann::json;
using namespace openpcc::crypto;

namespace {

// The harness name of the credit suite is shorter than the library's descriptive one.
constexpr std::string_view kCreditSuiteName = "OpenPCC-Credit";

Result<BlindRsaSuite> suite_from(const json& req) {
  auto name = string_field(req, "suite");
  if (!name) return std::unexpected(name.error());
  if (*name == kCreditSuiteName) return kOpenPccCreditSuite;
  static constexpr std::array kSuites = {
      kRsaBssaSha384PssRandomized,      kRsaBssaSha384PssZeroRandomized, kRsaBssaSha384PssDeterministic,
      kRsaBssaSha384PssZeroDeterministic, kRsaPbssaSha384PssRandomized,  kRsaPbssaSha384PssZeroRandomized,
      kRsaPbssaSha384PssDeterministic,  kRsaPbssaSha384PssZeroDeterministic};
  for (const auto& s : kSuites) {
    if (s.name == *name) return s;
  }
  return make_error(ErrorCode::kUnsupported, "unknown suite \"" + *name + "\"");
}

Result<Bytes> info_from(const json& req) {
  auto info = optional_hex_field(req, "info");
  if (!info) return std::unexpected(info.error());
  return info->value_or(Bytes{});
}

Result<json> blind_sign_op(const json& req) {
  auto suite = suite_from(req);
  if (!suite) return std::unexpected(suite.error());
  auto key = rsa_private_key_fields(req);
  if (!key) return std::unexpected(key.error());
  auto signer = BlindRsaSigner::create(*suite, std::move(*key));
  if (!signer) return std::unexpected(signer.error());
  auto blinded = hex_field(req, "blinded_msg");
  if (!blinded) return std::unexpected(blinded.error());
  auto info = info_from(req);
  if (!info) return std::unexpected(info.error());
  auto sig = signer->blind_sign(*blinded, *info);
  if (!sig) return std::unexpected(sig.error());
  return json{{"blind_sig", to_hex(*sig)}};
}

// What blind, finalize and verify all take: the suite, the public key, the message (`message_field`) and info.
struct PublicInputs {
  BlindRsaSuite suite;
  RsaPublicKey key;
  Bytes message;
  Bytes info;
};

Result<PublicInputs> public_inputs(const json& req, std::string_view message_field) {
  auto suite = suite_from(req);
  if (!suite) return std::unexpected(suite.error());
  auto key = rsa_public_key_fields(req);
  if (!key) return std::unexpected(key.error());
  auto message = hex_field(req, message_field);
  if (!message) return std::unexpected(message.error());
  auto info = info_from(req);
  if (!info) return std::unexpected(info.error());
  return PublicInputs{*suite, std::move(*key), std::move(*message), std::move(*info)};
}

Result<json> blind_op(const json& req) {
  auto in = public_inputs(req, "msg");
  if (!in) return std::unexpected(in.error());
  Bytes prepared = prepare(in->suite, in->message);
  auto blinding = blind(in->suite, in->key, prepared, in->info);
  if (!blinding) return std::unexpected(blinding.error());
  return json{{"prepared_msg", to_hex(prepared)},
              {"blinded_msg", to_hex(blinding->blinded_msg)},
              {"inv", to_hex(blinding->inv.span())}};
}

Result<json> finalize_op(const json& req) {
  auto in = public_inputs(req, "prepared_msg");
  if (!in) return std::unexpected(in.error());
  auto blind_sig = hex_field(req, "blind_sig");
  if (!blind_sig) return std::unexpected(blind_sig.error());
  auto inv = hex_field(req, "inv");
  if (!inv) return std::unexpected(inv.error());
  SecretBytes inv_secret(*inv);
  secure_wipe(inv->data(), inv->size());
  auto sig = finalize(in->suite, in->key, in->message, in->info, *blind_sig, inv_secret.span());
  if (!sig) return std::unexpected(sig.error());
  return json{{"sig", to_hex(*sig)}};
}

Result<json> verify_op(const json& req) {
  auto in = public_inputs(req, "prepared_msg");
  if (!in) return std::unexpected(in.error());
  auto sig = hex_field(req, "sig");
  if (!sig) return std::unexpected(sig.error());
  auto status = verify(in->suite, in->key, in->message, in->info, *sig);
  if (!status) return std::unexpected(status.error());
  return json{{"valid", true}};
}

}  // namespace

void add_rsa_blind_operations(Harness& h) {
  h.add("rsa_blind.blind_sign", blind_sign_op);
  h.add("rsa_blind.blind", blind_op);
  h.add("rsa_blind.finalize", finalize_op);
  h.add("rsa_blind.verify", verify_op);
}

}  // namespace openpcc::conformance

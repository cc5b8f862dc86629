#include "attest/verify.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <string_view>

#include "attest/event_log.h"
#include "attest/quote_binding.h"
#include "attest/sevsnp_verify.h"
#include "attest/simulated_tee.h"
#include "attest/tpm_structures.h"
#include "common/secure.h"
#include "crypto/sha256.h"

namespace openpcc::attest {
namespace {

using pb::EvidenceType;

std::string short_hex(ByteSpan b) {
  if (b.size() <= 32) return to_hex(b);
  return to_hex(b.first(32)) + "…(" + std::to_string(b.size()) + " bytes)";
}

std::string type_name(int type) {
  if (pb::EvidenceType_IsValid(type)) return pb::EvidenceType_Name(static_cast<EvidenceType>(type));
  return "type " + std::to_string(type);
}

std::string pcr_list(std::span<const uint32_t> pcrs) {
  std::string out;
  for (uint32_t p : pcrs) out += (out.empty() ? "" : ",") + std::to_string(p);
  return "{" + out + "}";
}

template <class Map>
std::string pcr_list_of(const Map& m) {
  std::vector<uint32_t> keys;
  for (const auto& [k, v] : m) keys.push_back(k);
  return pcr_list(keys);
}

// Records checks in order. A check named once keeps its first verdict.
class Recorder {
 public:
  void pass(std::string name, std::string seen = {}, std::string expected = {}) {
    add({std::move(name), CheckStatus::kPassed, std::move(seen), std::move(expected), {}});
  }
  void fail(std::string name, std::string detail, std::string seen = {}, std::string expected = {}) {
    add({std::move(name), CheckStatus::kFailed, std::move(seen), std::move(expected), std::move(detail)});
  }
  void skip(std::string name, std::string why) {
    add({std::move(name), CheckStatus::kSkipped, {}, {}, std::move(why)});
  }
  bool check(bool ok, std::string name, std::string detail, std::string seen = {}, std::string expected = {}) {
    if (ok) {
      pass(std::move(name), std::move(seen), std::move(expected));
    } else {
      fail(std::move(name), std::move(detail), std::move(seen), std::move(expected));
    }
    return ok;
  }
  std::vector<Check> take() { return std::move(checks_); }

 private:
  void add(Check c) { checks_.push_back(std::move(c)); }
  std::vector<Check> checks_;
};

struct Pieces {
  const pb::SignedEvidencePiece* ak = nullptr;
  const pb::SignedEvidencePiece* certify = nullptr;
  const pb::SignedEvidencePiece* rek = nullptr;
  const pb::SignedEvidencePiece* event_log = nullptr;
  const pb::SignedEvidencePiece* quote = nullptr;
  const pb::SignedEvidencePiece* tee = nullptr;
};

// Types this verifier understands, and those that may travel alongside for other layers.
bool collect_pieces(const pb::SignedEvidenceList& evidence, Pieces& pieces, Recorder& r) {
  std::map<int, int> counts;
  std::vector<std::string> problems;
  for (const auto& piece : evidence.items()) {
    const int type = piece.type();
    ++counts[type];
    const pb::SignedEvidencePiece** slot = nullptr;
    switch (type) {
      case pb::AK_TPMT_PUBLIC: slot = &pieces.ak; break;
      case pb::TPM_CERTIFY_REK_CREATION: slot = &pieces.certify; break;
      case pb::TPMT_PUBLIC: slot = &pieces.rek; break;
      case pb::EVENT_LOG: slot = &pieces.event_log; break;
      case pb::TPM_QUOTE: slot = &pieces.quote; break;
      case pb::SEVSNP_REPORT:
      case pb::SIMULATED_TEE_REPORT:
        if (pieces.tee != nullptr) problems.push_back("more than one TEE report");
        slot = &pieces.tee;
        break;
      case pb::IMAGE_MANIFEST_BUNDLE: break;  // checked by the transparency layer before this runs
      default: problems.push_back("unsupported evidence piece " + type_name(type)); break;
    }
    if (slot != nullptr && *slot == nullptr) *slot = &piece;
  }
  for (const auto& [type, count] : counts) {
    if (count > 1 && type != pb::SEVSNP_REPORT && type != pb::SIMULATED_TEE_REPORT) {
      problems.push_back("duplicate " + type_name(type));
    }
  }
  const std::pair<const pb::SignedEvidencePiece*, const char*> required[] = {
      {pieces.ak, "AK_TPMT_PUBLIC"}, {pieces.certify, "TPM_CERTIFY_REK_CREATION"}, {pieces.rek, "TPMT_PUBLIC"},
      {pieces.event_log, "EVENT_LOG"}, {pieces.quote, "TPM_QUOTE"}, {pieces.tee, "a TEE report"}};
  for (const auto& [piece, name] : required) {
    if (piece == nullptr) problems.push_back(std::string("missing ") + name);
  }
  std::string seen = std::to_string(evidence.items_size()) + " pieces";
  if (!problems.empty()) {
    std::string detail;
    for (const auto& p : problems) detail += (detail.empty() ? "" : "; ") + p;
    r.fail("evidence.pieces", detail, seen,
           "one each of AK_TPMT_PUBLIC, TPM_CERTIFY_REK_CREATION, TPMT_PUBLIC, EVENT_LOG, TPM_QUOTE and one TEE report");
    return false;
  }
  r.pass("evidence.pieces", seen);
  return true;
}

int64_t now_seconds(const VerifierPolicy& policy) {
  if (policy.now) return *policy.now;
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// ---- TEE -----------------------------------------------------------------------------------------------------------

struct TeeFacts {
  std::string kind;  // "sev-snp" / "simulated"
  Bytes report_data;
  Bytes measurement;
};

std::optional<TeeFacts> verify_simulated_tee(const pb::SignedEvidencePiece& piece, const VerifierPolicy& policy,
                                             Recorder& r) {
  if (!r.check(policy.accept_simulated_tee, "tee.simulated_allowed",
               "this policy does not accept SIMULATED TEE reports (no hardware root of trust)", "simulated",
               "sev-snp")) {
    r.skip("tee.signature", "simulated TEE reports are not accepted");
    return std::nullopt;
  }
  if (policy.simulated_roots.empty()) {
    r.fail("tee.signature", "the policy lists no simulated hardware root", "simulated", "a trusted simulated root");
    return std::nullopt;
  }
  std::string last_error;
  for (const auto& root : policy.simulated_roots) {
    auto report = verify_simulated_tee_report(as_bytes(piece.data()), as_bytes(piece.signature()), root);
    if (report) {
      r.pass("tee.signature", "SIMULATED report signed by root " + short_hex(crypto::sha256(root.point())),
             "a trusted simulated root");
      return TeeFacts{"simulated", Bytes(report->report_data.begin(), report->report_data.end()),
                      Bytes(report->measurement.begin(), report->measurement.end())};
    }
    last_error = report.error().message;
  }
  r.fail("tee.signature", last_error, "simulated report", "signed by a trusted simulated root");
  return std::nullopt;
}

std::optional<TeeFacts> verify_sevsnp(const pb::SignedEvidencePiece& piece, const VerifierPolicy& policy,
                                      Recorder& r) {
  r.pass("tee.simulated_allowed", "sev-snp", "sev-snp");
  // SEVSNP_REPORT: data = the raw 1184-byte report, signature = the VCEK certificate (DER); ASK and ARK come from
  // the policy's trusted AMD roots. report_data is compared below, with the other pieces at hand.
  auto certs = parse_sevsnp_certificates(as_bytes(piece.signature()));
  if (!certs) {
    r.fail("tee.signature", "SEV-SNP VCEK: " + certs.error().message, "SEVSNP_REPORT", "a VCEK certificate");
    return std::nullopt;
  }
  auto result = verify_sevsnp_report(as_bytes(piece.data()), *certs, policy.sevsnp);
  if (!result) {
    r.fail("tee.signature", result.error().message, "SEVSNP_REPORT", "a well-formed SEV-SNP report");
    return std::nullopt;
  }
  if (!result->valid()) {
    const auto* failure = result->first_failure();
    r.fail("tee.signature",
           "SEV-SNP " + std::string(check_name(failure->check)) + ": " + failure->detail, "SEV-SNP report",
           "VCEK → ASK → AMD ARK, current CRL, TCB policy, report signature");
    return std::nullopt;
  }
  const std::string product = result->product ? std::string(to_string(*result->product)) : "?";
  r.pass("tee.signature", "SEV-SNP report, VCEK chain to the AMD " + product + " root", "an AMD root");
  return TeeFacts{"sev-snp", Bytes(result->report_data().begin(), result->report_data().end()),
                  Bytes(result->measurement().begin(), result->measurement().end())};
}

// ---- TPM pieces ----------------------------------------------------------------------------------------------------

std::optional<TpmPublic> verify_ak(const pb::SignedEvidencePiece& piece, Recorder& r) {
  auto ak = parse_tpmt_public(as_bytes(piece.data()));
  if (!ak) {
    r.fail("ak.public", ak.error().message, "unparseable TPMT_PUBLIC", "a restricted signing key");
    return std::nullopt;
  }
  const uint32_t required = kTpmaObjectFixedTpm | kTpmaObjectFixedParent | kTpmaObjectRestricted | kTpmaObjectSign;
  const bool ok = (ak->attributes & required) == required && (ak->attributes & kTpmaObjectDecrypt) == 0;
  std::string seen = (ak->type == kTpmAlgRsa ? "RSA-" + std::to_string(ak->rsa_bits) : std::string("ECC")) +
                     " attributes 0x" + to_hex(i2osp(ak->attributes, 4));
  if (!r.check(ok, "ak.public", "the AK is not a fixedTPM, fixedParent, restricted signing key", seen,
               "fixedTPM|fixedParent|restricted|sign, not decrypt")) {
    return std::nullopt;
  }
  return std::move(*ak);
}

struct QuoteFacts {
  TpmAttest attest;
  TpmSignature signature;
  PcrValues pcrs;
  int64_t issued_at = 0;
  Bytes challenge;
};

std::optional<QuoteFacts> parse_quote_piece(const pb::SignedEvidencePiece& piece, Recorder& r) {
  pb::TPMQuoteAttestation quote;
  if (!quote.ParseFromString(piece.data())) {
    r.fail("quote.signature", "TPM_QUOTE data is not a TPMQuoteAttestation message");
    return std::nullopt;
  }
  auto attest = parse_tpms_attest(as_bytes(quote.tpmstattestquote()));
  if (!attest) {
    r.fail("quote.signature", "quote TPMS_ATTEST: " + attest.error().message);
    return std::nullopt;
  }
  if (attest->type != kTpmStAttestQuote) {
    r.fail("quote.signature", "the TPM_QUOTE piece holds a TPMS_ATTEST that is not a quote");
    return std::nullopt;
  }
  auto sig = parse_tpmt_signature(as_bytes(piece.signature()));
  if (!sig) {
    r.fail("quote.signature", "quote TPMT_SIGNATURE: " + sig.error().message);
    return std::nullopt;
  }
  QuoteFacts facts{std::move(*attest), std::move(*sig), {}, 0, {}};
  for (const auto& [index, value] : quote.pcrvalues().values()) facts.pcrs[index] = to_bytes(value);
  if (quote.has_binding()) {
    facts.issued_at = quote.binding().issued_at().seconds();
    facts.challenge = to_bytes(quote.binding().challenge());
  }
  return facts;
}

}  // namespace

bool VerificationReport::ok() const {
  if (!node) return false;
  return std::all_of(checks.begin(), checks.end(), [](const Check& c) { return c.status == CheckStatus::kPassed; });
}

const Check* VerificationReport::first_failure() const {
  for (const auto& c : checks) {
    if (c.status == CheckStatus::kFailed) return &c;
  }
  for (const auto& c : checks) {
    if (c.status == CheckStatus::kSkipped) return &c;
  }
  return nullptr;
}

const Check* VerificationReport::find(std::string_view name) const {
  for (const auto& c : checks) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

VerificationReport verify_evidence(const pb::SignedEvidenceList& evidence, const VerifierPolicy& policy) {
  Recorder r;
  VerificationReport report;
  Pieces pieces;
  if (!collect_pieces(evidence, pieces, r)) {
    report.checks = r.take();
    return report;
  }
  const int64_t now = now_seconds(policy);

  // The TEE report: the hardware (or simulated) root that vouches for everything below.
  std::optional<TeeFacts> tee = pieces.tee->type() == pb::SIMULATED_TEE_REPORT
                                    ? verify_simulated_tee(*pieces.tee, policy, r)
                                    : verify_sevsnp(*pieces.tee, policy, r);
  if (tee && !policy.allowed_tee_measurements.empty()) {
    const bool allowed = std::any_of(policy.allowed_tee_measurements.begin(), policy.allowed_tee_measurements.end(),
                                     [&](const Bytes& m) { return m == tee->measurement; });
    r.check(allowed, "tee.measurement", "the TEE launch measurement is not in the policy's allowed list",
            short_hex(tee->measurement), std::to_string(policy.allowed_tee_measurements.size()) + " allowed values");
  }

  // The attestation key, vouched for by the TEE report's report_data.
  std::optional<TpmPublic> ak = verify_ak(*pieces.ak, r);

  // The quote.
  std::optional<QuoteFacts> quote = parse_quote_piece(*pieces.quote, r);
  bool quote_signed = false;
  if (quote && ak) {
    auto ok = verify_tpm_signature(*ak, quote->attest.marshalled, quote->signature);
    quote_signed = r.check(ok.has_value(), "quote.signature", ok ? "" : ok.error().message, "signed by the AK",
                           "signed by the AK");
  } else if (quote) {
    r.skip("quote.signature", "the AK did not verify");
  }

  if (tee) {
    Bytes expected = tee_report_data(as_bytes(pieces.quote->signature()), as_bytes(pieces.ak->data()));
    r.check(ct_equal(tee->report_data, expected), "tee.report_data",
            "the TEE report is not bound to this quote and AK (report_data ≠ SHA-256(quote signature) ‖ "
            "SHA-256(AK))",
            short_hex(tee->report_data), short_hex(expected));
  } else {
    r.skip("tee.report_data", "the TEE report did not verify");
  }

  // PCR selection and values.
  bool pcrs_ok = false;
  if (quote) {
    const std::vector<uint32_t> wanted(kAttestedPcrs.begin(), kAttestedPcrs.end());
    r.check(quote->attest.quoted_pcrs == wanted, "quote.pcr_selection", "the quote does not cover the attested PCRs",
            "SHA-256 " + pcr_list(quote->attest.quoted_pcrs), "SHA-256 " + pcr_list(wanted));
    bool values_ok = quote->pcrs.size() == wanted.size();
    for (uint32_t p : wanted) {
      auto it = quote->pcrs.find(p);
      values_ok = values_ok && it != quote->pcrs.end() && it->second.size() == kPcrSize;
    }
    if (!values_ok) {
      r.fail("quote.pcr_values", "the reported PCR values are not exactly the quoted PCRs (32 bytes each)",
             pcr_list_of(quote->pcrs), pcr_list(wanted));
    } else {
      Bytes composite = pcr_composite_digest(quote->pcrs);
      pcrs_ok = r.check(ct_equal(composite, quote->attest.pcr_digest), "quote.pcr_values",
                        "the reported PCR values do not hash to the quote's pcrDigest", short_hex(composite),
                        short_hex(quote->attest.pcr_digest));
    }
    pcrs_ok = pcrs_ok && quote->attest.quoted_pcrs == wanted;
  } else {
    r.skip("quote.pcr_selection", "the quote did not parse");
    r.skip("quote.pcr_values", "the quote did not parse");
  }

  // The REK: its public area, Name, creation certificate, attributes and PCR policy.
  auto rek = parse_tpmt_public(as_bytes(pieces.rek->data()));
  Bytes rek_name;
  if (!rek) {
    r.fail("rek.name", "REK TPMT_PUBLIC: " + rek.error().message);
  } else {
    auto name = tpm_object_name(rek->marshalled);
    if (!name) {
      r.fail("rek.name", name.error().message);
    } else {
      rek_name = *name;
      r.check(ct_equal(*name, as_bytes(pieces.rek->signature())), "rek.name",
              "the TPMT_PUBLIC piece's Name does not match its public area", short_hex(as_bytes(pieces.rek->signature())),
              short_hex(*name));
    }
  }

  auto certify = parse_tpm2b_attest(as_bytes(pieces.certify->data()));
  auto certify_sig = parse_tpmt_signature(as_bytes(pieces.certify->signature()));
  if (!certify || !certify_sig) {
    r.fail("rek.creation_certified",
           "CertifyCreation: " + (!certify ? certify.error().message : certify_sig.error().message));
  } else if (certify->type != kTpmStAttestCreation) {
    r.fail("rek.creation_certified", "the TPM_CERTIFY_REK_CREATION piece is not a creation certification");
  } else if (!ak) {
    r.skip("rek.creation_certified", "the AK did not verify");
  } else {
    auto signed_ok = verify_tpm_signature(*ak, certify->marshalled, *certify_sig);
    if (!signed_ok) {
      r.fail("rek.creation_certified", "CertifyCreation signature: " + signed_ok.error().message);
    } else {
      r.check(!rek_name.empty() && ct_equal(certify->certified_name, rek_name), "rek.creation_certified",
              "the AK certified the creation of another object than this REK", short_hex(certify->certified_name),
              short_hex(rek_name));
    }
  }

  if (rek) {
    const uint32_t required = kTpmaObjectFixedTpm | kTpmaObjectFixedParent | kTpmaObjectSensitiveDataOrigin |
                              kTpmaObjectDecrypt | kTpmaObjectAdminWithPolicy;
    const uint32_t forbidden = kTpmaObjectUserWithAuth | kTpmaObjectSign | kTpmaObjectRestricted;
    std::vector<std::string> wrong;
    if (rek->type != kTpmAlgEcc || rek->ecc_curve != kTpmEccNistP256) wrong.push_back("not an ECC P-256 key");
    if (rek->name_alg != kTpmAlgSha256) wrong.push_back("nameAlg is not SHA-256");
    if ((rek->attributes & required) != required) {
      wrong.push_back("missing fixedTPM/fixedParent/sensitiveDataOrigin/decrypt/adminWithPolicy");
    }
    if (rek->attributes & kTpmaObjectUserWithAuth) wrong.push_back("userWithAuth is set (usable without the policy)");
    if (rek->attributes & (forbidden & ~kTpmaObjectUserWithAuth)) wrong.push_back("sign or restricted is set");
    if (rek->scheme != kTpmAlgEcdh && rek->scheme != kTpmAlgNull) wrong.push_back("scheme is neither ECDH nor NULL");
    std::string detail;
    for (const auto& w : wrong) detail += (detail.empty() ? "" : "; ") + w;
    r.check(wrong.empty(), "rek.attributes", detail, "attributes 0x" + to_hex(i2osp(rek->attributes, 4)),
            "fixedTPM|fixedParent|sensitiveDataOrigin|decrypt|adminWithPolicy, userWithAuth clear, ECC P-256 ECDH");
    if (quote && pcrs_ok) {
      auto policy_digest = policy_pcr_digest(quote->pcrs);
      r.check(policy_digest && ct_equal(*policy_digest, rek->auth_policy), "rek.policy",
              "the REK's authPolicy is not PolicyPCR over the quoted PCR values: the key would be usable in another "
              "state",
              short_hex(rek->auth_policy), policy_digest ? short_hex(*policy_digest) : "n/a");
    } else {
      r.skip("rek.policy", "the quoted PCR values did not verify");
    }
  } else {
    r.skip("rek.attributes", "the REK did not parse");
    r.skip("rek.policy", "the REK did not parse");
  }

  // The quote's binding to these pieces and its freshness.
  if (quote) {
    QuoteBindingInputs inputs{quote->issued_at, quote->challenge, as_bytes(pieces.ak->data()),
                              as_bytes(pieces.rek->signature()), as_bytes(pieces.certify->data()),
                              as_bytes(pieces.event_log->data())};
    auto expected = quote_qualifying_data(inputs);
    r.check(expected && ct_equal(*expected, quote->attest.extra_data), "quote.binding",
            "the quote's qualifying data does not commit to this evidence (a quote from another node, another key "
            "set or another time)",
            short_hex(quote->attest.extra_data), expected ? short_hex(*expected) : expected.error().message);
    const int64_t age = now - quote->issued_at;
    std::string seen = "issued_at " + std::to_string(quote->issued_at) + " (" + std::to_string(age) + " s old)";
    bool fresh = age <= policy.max_evidence_age.count() && -age <= policy.max_clock_skew.count();
    std::string detail = "the quote is " + std::string(age < 0 ? "from the future" : "too old");
    if (fresh && policy.challenge) {
      fresh = ct_equal(*policy.challenge, quote->challenge);
      detail = "the quote does not answer this verifier's challenge";
      seen += ", challenge " + short_hex(quote->challenge);
    }
    r.check(fresh, "quote.freshness", detail, seen,
            "at most " + std::to_string(policy.max_evidence_age.count()) + " s old" +
                (policy.challenge ? ", challenge " + short_hex(*policy.challenge) : std::string()));
  } else {
    r.skip("quote.binding", "the quote did not parse");
    r.skip("quote.freshness", "the quote did not parse");
  }

  // The event log: every quoted PCR replayed, secure boot on.
  auto log = parse_event_log(as_bytes(pieces.event_log->data()));
  if (!log) {
    r.fail("event_log.replay", "event log: " + log.error().message);
    r.skip("event_log.secure_boot", "the event log did not parse");
  } else {
    if (quote && pcrs_ok) {
      PcrValues replayed = replay_event_log(*log, kAttestedPcrs);
      std::vector<std::string> mismatched;
      for (uint32_t p : kAttestedPcrs) {
        if (replayed[p] != quote->pcrs[p]) mismatched.push_back("PCR " + std::to_string(p));
      }
      std::string detail;
      for (const auto& m : mismatched) detail += (detail.empty() ? "" : ", ") + m;
      r.check(mismatched.empty(), "event_log.replay", "the event log does not replay to the quoted " + detail,
              std::to_string(log->events.size()) + " events", "every quoted PCR reproduced");
    } else {
      r.skip("event_log.replay", "the quoted PCR values did not verify");
    }
    auto secure_boot = secure_boot_enabled(*log);
    r.check(secure_boot.value_or(false), "event_log.secure_boot",
            secure_boot ? "secure boot is disabled" : "the event log does not record the secure-boot state",
            secure_boot ? (*secure_boot ? "enabled" : "disabled") : "absent", "enabled");
  }

  // The image: one of the manifests from the transparency log.
  const ImageManifest* image = nullptr;
  if (quote && pcrs_ok) {
    for (const auto& m : policy.image_manifests) {
      bool match = !m.expected_pcrs.empty();
      for (const auto& [index, value] : m.expected_pcrs) {
        auto it = quote->pcrs.find(index);
        match = match && it != quote->pcrs.end() && it->second == value;
      }
      if (match) {
        image = &m;
        break;
      }
    }
    r.check(image != nullptr, "image.pcrs",
            policy.image_manifests.empty() ? "the policy holds no image manifest from the transparency log"
                                           : "the quoted PCRs match no image manifest from the transparency log",
            "PCR 0 " + short_hex(quote->pcrs[0]), std::to_string(policy.image_manifests.size()) + " manifests");
    if (image) {
      Bytes expected_pcr12 = pcr_extend(Bytes(kPcrSize, 0), image->model_digest);
      r.check(image->model_digest.size() == kPcrSize && quote->pcrs[kModelDigestPcr] == expected_pcr12,
              "image.model_digest", "PCR 12 does not hold the manifest's model digest",
              "PCR 12 " + short_hex(quote->pcrs[kModelDigestPcr]),
              "extend(0, model " + short_hex(image->model_digest) + ")");
      if (log) {
        const std::string want = "confsec.root=" + image->verity_root;
        bool found = false;
        std::string seen;
        for (const auto& line : kernel_cmdlines(*log)) {
          seen = line;
          // Whole-token match: "confsec.root=<hex>" bounded by spaces or the ends.
          for (size_t at = line.find(want); at != std::string::npos; at = line.find(want, at + 1)) {
            const bool starts = at == 0 || line[at - 1] == ' ';
            const size_t end = at + want.size();
            const bool ends = end == line.size() || line[end] == ' ';
            found = found || (starts && ends);
          }
        }
        r.check(!image->verity_root.empty() && found, "image.kernel_cmdline",
                "the measured kernel command line does not carry the manifest's dm-verity root",
                seen.empty() ? "no kernel_cmdline event" : seen, want);
      } else {
        r.skip("image.kernel_cmdline", "the event log did not parse");
      }
    } else {
      r.skip("image.model_digest", "no image manifest matched");
      r.skip("image.kernel_cmdline", "no image manifest matched");
    }
  } else {
    r.skip("image.pcrs", "the quoted PCR values did not verify");
  }

  report.checks = r.take();
  const bool all_passed = std::all_of(report.checks.begin(), report.checks.end(),
                                      [](const Check& c) { return c.status == CheckStatus::kPassed; });
  if (all_passed && rek && image && quote && tee && quote_signed) {
    auto point = ecc_public_point(*rek);
    if (point) {
      report.node = VerifiedNode{std::move(*point), tee->kind, image->id, image->model_digest, quote->pcrs,
                                 quote->issued_at};
    } else {
      report.checks.push_back({"rek.public_key", CheckStatus::kFailed, {}, {}, point.error().message});
    }
  }
  return report;
}

std::string format_report(const VerificationReport& report) {
  std::string out;
  for (const auto& c : report.checks) {
    const char* mark = c.status == CheckStatus::kPassed ? "✓" : c.status == CheckStatus::kFailed ? "✗" : "-";
    out += std::string(mark) + " " + c.name;
    if (c.status == CheckStatus::kPassed) {
      if (!c.seen.empty()) out += "  (" + c.seen + ")";
      out += "\n";
      continue;
    }
    out += "  " + (c.status == CheckStatus::kSkipped ? "skipped: " : std::string()) + c.detail + "\n";
    if (!c.seen.empty()) out += "    seen:     " + c.seen + "\n";
    if (!c.expected.empty()) out += "    expected: " + c.expected + "\n";
  }
  if (report.ok()) {
    out += "PASS: node evidence verified (" + report.node->tee + " TEE, image " + report.node->image_id + ")\n";
  } else {
    const Check* f = report.first_failure();
    out += "FAIL: " + (f ? f->name + ": " + f->detail : std::string("evidence not verified")) + "\n";
  }
  return out;
}

}  // namespace openpcc::attest

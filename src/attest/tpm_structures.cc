#include "attest/tpm_structures.h"

#include <tss2/tss2_mu.h>
#include <tss2/tss2_tpm2_types.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "common/byte_reader.h"
#include "crypto/ecdsa.h"
#include "crypto/rsa_verify.h"
#include "crypto/sha256.h"

namespace openpcc::attest {

namespace {

std::string alg_name(uint16_t alg) { return hex_id(alg); }

// Runs one libtss2-mu unmarshaller over the whole input; an error unless it succeeds and consumes every byte.
template <class T, class Fn>
Status unmarshal_whole(std::string_view what, ByteSpan in, Fn fn, T* out) {
  // libtss2-mu treats a null buffer (an empty span's data()) as a caller bug and logs it; it is just short input.
  if (in.empty()) return make_error(ErrorCode::kTruncated, std::string(what) + ": empty input");
  size_t offset = 0;
  const TSS2_RC rc = fn(in.data(), in.size(), &offset, out);
  if (rc == TSS2_MU_RC_INSUFFICIENT_BUFFER) {
    return make_error(ErrorCode::kTruncated, std::string(what) + ": input ends inside the structure");
  }
  if (rc != TSS2_RC_SUCCESS) {
    char code[16];
    std::snprintf(code, sizeof(code), "0x%06x", static_cast<unsigned>(rc));
    return make_error(ErrorCode::kDecode, std::string(what) + ": malformed (libtss2-mu rc " + code + ")");
  }
  if (offset != in.size()) {
    return make_error(ErrorCode::kDecode, std::string(what) + ": " + std::to_string(in.size() - offset) +
                                              " trailing bytes after the structure");
  }
  return {};
}

Bytes copy_buffer(const uint8_t* data, size_t size) { return Bytes(data, data + size); }

uint16_t scheme_hash_of(uint16_t scheme, const TPMU_ASYM_SCHEME& details) {
  // Every asymmetric scheme's details start with (or are) a TPMS_SCHEME_HASH; NULL has no details.
  return scheme == TPM2_ALG_NULL ? 0 : details.anySig.hashAlg;
}

}  // namespace

Result<TpmPublic> parse_tpmt_public(ByteSpan marshalled) {
  TPMT_PUBLIC pub{};
  if (auto st = unmarshal_whole("TPMT_PUBLIC", marshalled, Tss2_MU_TPMT_PUBLIC_Unmarshal, &pub); !st) {
    return std::unexpected(st.error());
  }
  TpmPublic out;
  out.type = pub.type;
  out.name_alg = pub.nameAlg;
  out.attributes = pub.objectAttributes;
  out.auth_policy = copy_buffer(pub.authPolicy.buffer, pub.authPolicy.size);
  switch (pub.type) {
    case TPM2_ALG_RSA: {
      const TPMS_RSA_PARMS& p = pub.parameters.rsaDetail;
      out.symmetric_alg = p.symmetric.algorithm;
      out.scheme = p.scheme.scheme;
      out.scheme_hash = scheme_hash_of(p.scheme.scheme, p.scheme.details);
      out.rsa_bits = p.keyBits;
      out.rsa_exponent = p.exponent;
      out.rsa_modulus = copy_buffer(pub.unique.rsa.buffer, pub.unique.rsa.size);
      break;
    }
    case TPM2_ALG_ECC: {
      const TPMS_ECC_PARMS& p = pub.parameters.eccDetail;
      out.symmetric_alg = p.symmetric.algorithm;
      out.scheme = p.scheme.scheme;
      out.scheme_hash = scheme_hash_of(p.scheme.scheme, p.scheme.details);
      out.ecc_curve = p.curveID;
      out.ecc_x = copy_buffer(pub.unique.ecc.x.buffer, pub.unique.ecc.x.size);
      out.ecc_y = copy_buffer(pub.unique.ecc.y.buffer, pub.unique.ecc.y.size);
      break;
    }
    default:
      return make_error(ErrorCode::kUnsupported,
                        "TPMT_PUBLIC: object type " + alg_name(pub.type) + " is not an RSA or ECC key");
  }
  out.marshalled.assign(marshalled.begin(), marshalled.end());
  return out;
}

Result<Bytes> tpm_object_name(ByteSpan marshalled_tpmt_public) {
  auto pub = parse_tpmt_public(marshalled_tpmt_public);
  if (!pub) return std::unexpected(wrap_error("object name", pub.error()));
  if (pub->name_alg != kTpmAlgSha256) {
    return make_error(ErrorCode::kUnsupported, "object name: nameAlg " + alg_name(pub->name_alg) + " is not SHA-256");
  }
  Bytes name;
  append_u16be(name, kTpmAlgSha256);
  append(name, crypto::sha256(marshalled_tpmt_public));
  return name;
}

Result<Bytes> ecc_public_point(const TpmPublic& key) {
  constexpr size_t kCoord = 32;
  if (key.type != kTpmAlgEcc || key.ecc_curve != kTpmEccNistP256) {
    return make_error(ErrorCode::kUnsupported, "ecc point: key is not an ECC NIST P-256 key");
  }
  if (key.ecc_x.size() > kCoord || key.ecc_y.size() > kCoord) {
    return make_error(ErrorCode::kDecode, "ecc point: coordinate longer than 32 bytes");
  }
  Bytes point(1 + 2 * kCoord, 0);
  point[0] = 0x04;
  std::copy(key.ecc_x.begin(), key.ecc_x.end(), point.begin() + 1 + (kCoord - key.ecc_x.size()));
  std::copy(key.ecc_y.begin(), key.ecc_y.end(), point.begin() + 1 + kCoord + (kCoord - key.ecc_y.size()));
  return point;
}

Result<TpmAttest> parse_tpms_attest(ByteSpan marshalled) {
  TPMS_ATTEST att{};
  if (auto st = unmarshal_whole("TPMS_ATTEST", marshalled, Tss2_MU_TPMS_ATTEST_Unmarshal, &att); !st) {
    return std::unexpected(st.error());
  }
  if (att.magic != kTpmGeneratedValue) {
    return make_error(ErrorCode::kDecode, "TPMS_ATTEST: magic is not TPM_GENERATED_VALUE (not produced by a TPM)");
  }
  TpmAttest out;
  out.magic = att.magic;
  out.type = att.type;
  out.qualified_signer = copy_buffer(att.qualifiedSigner.name, att.qualifiedSigner.size);
  out.extra_data = copy_buffer(att.extraData.buffer, att.extraData.size);
  out.clock = att.clockInfo.clock;
  out.reset_count = att.clockInfo.resetCount;
  out.restart_count = att.clockInfo.restartCount;
  out.safe = att.clockInfo.safe != 0;
  out.firmware_version = att.firmwareVersion;
  switch (att.type) {
    case TPM2_ST_ATTEST_QUOTE: {
      const TPML_PCR_SELECTION& sel = att.attested.quote.pcrSelect;
      if (sel.count != 1 || sel.pcrSelections[0].hash != TPM2_ALG_SHA256) {
        return make_error(ErrorCode::kUnsupported, "TPMS_ATTEST: quote must select exactly one bank, SHA-256");
      }
      const TPMS_PCR_SELECTION& bank = sel.pcrSelections[0];
      for (uint32_t byte = 0; byte < bank.sizeofSelect && byte < TPM2_PCR_SELECT_MAX; ++byte) {
        for (uint32_t bit = 0; bit < 8; ++bit) {
          if (bank.pcrSelect[byte] & (1u << bit)) out.quoted_pcrs.push_back(byte * 8 + bit);
        }
      }
      const TPM2B_DIGEST& d = att.attested.quote.pcrDigest;
      out.pcr_digest = copy_buffer(d.buffer, d.size);
      break;
    }
    case TPM2_ST_ATTEST_CREATION: {
      const TPMS_CREATION_INFO& c = att.attested.creation;
      out.certified_name = copy_buffer(c.objectName.name, c.objectName.size);
      out.creation_hash = copy_buffer(c.creationHash.buffer, c.creationHash.size);
      break;
    }
    default:
      return make_error(ErrorCode::kUnsupported,
                        "TPMS_ATTEST: type " + hex_id(att.type) + " is neither a quote nor a creation certification");
  }
  out.marshalled.assign(marshalled.begin(), marshalled.end());
  return out;
}

Result<TpmAttest> parse_tpm2b_attest(ByteSpan marshalled) {
  ByteReader r(marshalled);
  auto size = r.read_u16be("TPM2B_ATTEST size");
  if (!size) return std::unexpected(size.error());
  if (*size != r.remaining()) {
    return make_error(*size > r.remaining() ? ErrorCode::kTruncated : ErrorCode::kDecode,
                      "TPM2B_ATTEST: size field " + std::to_string(*size) + " but " +
                          std::to_string(r.remaining()) + " bytes follow");
  }
  return parse_tpms_attest(r.rest());
}

Result<TpmSignature> parse_tpmt_signature(ByteSpan marshalled) {
  TPMT_SIGNATURE sig{};
  if (auto st = unmarshal_whole("TPMT_SIGNATURE", marshalled, Tss2_MU_TPMT_SIGNATURE_Unmarshal, &sig); !st) {
    return std::unexpected(st.error());
  }
  TpmSignature out;
  out.sig_alg = sig.sigAlg;
  switch (sig.sigAlg) {
    case TPM2_ALG_RSASSA:
      out.hash_alg = sig.signature.rsassa.hash;
      out.rsa_signature = copy_buffer(sig.signature.rsassa.sig.buffer, sig.signature.rsassa.sig.size);
      break;
    case TPM2_ALG_RSAPSS:
      out.hash_alg = sig.signature.rsapss.hash;
      out.rsa_signature = copy_buffer(sig.signature.rsapss.sig.buffer, sig.signature.rsapss.sig.size);
      break;
    case TPM2_ALG_ECDSA:
      out.hash_alg = sig.signature.ecdsa.hash;
      out.ecdsa_r = copy_buffer(sig.signature.ecdsa.signatureR.buffer, sig.signature.ecdsa.signatureR.size);
      out.ecdsa_s = copy_buffer(sig.signature.ecdsa.signatureS.buffer, sig.signature.ecdsa.signatureS.size);
      break;
    default:
      return make_error(ErrorCode::kUnsupported,
                        "TPMT_SIGNATURE: algorithm " + alg_name(sig.sigAlg) + " is not RSASSA, RSAPSS or ECDSA");
  }
  out.marshalled.assign(marshalled.begin(), marshalled.end());
  return out;
}

Status verify_tpm_signature(const TpmPublic& key, ByteSpan signed_bytes, const TpmSignature& sig) {
  if (sig.hash_alg != kTpmAlgSha256) {
    return make_error(ErrorCode::kUnsupported, "tpm signature: hash " + alg_name(sig.hash_alg) + " is not SHA-256");
  }
  if ((key.attributes & kTpmaObjectSign) == 0) {
    return make_error(ErrorCode::kInvalidArgument, "tpm signature: key does not have the sign attribute");
  }
  if (key.scheme != kTpmAlgNull && (key.scheme != sig.sig_alg || key.scheme_hash != sig.hash_alg)) {
    return make_error(ErrorCode::kInvalidArgument, "tpm signature: signature scheme " + alg_name(sig.sig_alg) +
                                                       " does not match the key's scheme " + alg_name(key.scheme));
  }
  const auto digest = crypto::sha256(signed_bytes);
  switch (sig.sig_alg) {
    case kTpmAlgRsassa:
    case kTpmAlgRsapss: {
      if (key.type != kTpmAlgRsa) {
        return make_error(ErrorCode::kInvalidArgument, "tpm signature: RSA signature but the key is not RSA");
      }
      const uint32_t exponent = key.rsa_exponent == 0 ? 65537u : key.rsa_exponent;
      auto rsa = crypto::RsaVerifyingKey::from_components(key.rsa_modulus, i2osp(exponent, 4));
      if (!rsa) return std::unexpected(wrap_error("tpm signature", rsa.error()));
      Status st = sig.sig_alg == kTpmAlgRsassa
                      ? rsa->verify_pkcs1v15_digest(crypto::RsaHash::kSha256, digest, sig.rsa_signature)
                      : rsa->verify_pss_digest(crypto::RsaHash::kSha256, digest, sig.rsa_signature);
      if (!st) return std::unexpected(wrap_error("tpm signature", st.error()));
      return {};
    }
    case kTpmAlgEcdsa: {
      if (key.type != kTpmAlgEcc) {
        return make_error(ErrorCode::kInvalidArgument, "tpm signature: ECDSA signature but the key is not ECC");
      }
      if (key.ecc_curve != kTpmEccNistP256) {
        return make_error(ErrorCode::kUnsupported, "tpm signature: curve " + hex_id(key.ecc_curve) + " is not P-256");
      }
      auto ec = crypto::EcdsaPublicKey::from_coordinates(crypto::EcCurve::kP256, key.ecc_x, key.ecc_y);
      if (!ec) return std::unexpected(wrap_error("tpm signature", ec.error()));
      Status st = ec->verify_digest(digest, sig.ecdsa_r, sig.ecdsa_s);
      if (!st) return std::unexpected(wrap_error("tpm signature", st.error()));
      return {};
    }
    default:
      return make_error(ErrorCode::kUnsupported, "tpm signature: algorithm " + alg_name(sig.sig_alg));
  }
}

}  // namespace openpcc::attest

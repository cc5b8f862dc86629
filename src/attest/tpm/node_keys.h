// The keys a compute node makes in its TPM (all in the owner hierarchy, empty authValues, SHA-256 names):
//
//   storage primary   ECC P-256, restricted decrypt, AES-128-CFB: the parent of the REK. Primaries are derived from
//                     the hierarchy seed and the template, so re-creating it after a restart gives the same key.
//   REK               the request-encryption key: ECC P-256, scheme ECDH/SHA-256, fixedTPM | fixedParent |
//                     sensitiveDataOrigin | decrypt | adminWithPolicy, userWithAuth CLEAR, authPolicy =
//                     attest::policy_pcr_digest(golden PCRs). The TPM uses it (ECDH_ZGen, tpm_rek_key.h) only inside
//                     a policy session whose PolicyPCR matched those PCR values.
//   AK                the attestation key: a restricted signing primary, RSA-2048 RSASSA-SHA256 (as cloud vTPMs have)
//                     or ECC P-256 ECDSA-SHA256. Signs quotes and creation certifications (attestation.h).
//
//   auto srk = create_storage_primary(tpm);
//   auto rek = create_rek(tpm, *srk, golden);   // rek->key.public_area(), rek->key.name(), rek->creation_*
//   auto ak  = create_ak(tpm, AkAlgorithm::kRsa2048);
#pragma once

#include "attest/pcr.h"
#include "attest/tpm/tpm_device.h"
#include "attest/tpm/tpm_key.h"
#include "common/bytes.h"
#include "common/error.h"

namespace openpcc::tpm {

enum class AkAlgorithm {
  kRsa2048,   // RSASSA-PKCS1-v1_5 with SHA-256
  kEccP256,   // ECDSA with SHA-256
};

// TPM2_CreatePrimary in the owner hierarchy with the storage template above.
Result<TpmKey> create_storage_primary(const TpmDevice& tpm);

struct RekCreation {
  TpmKey key;                // loaded (transient) under the parent
  Bytes creation_data;       // marshalled TPM2B_CREATION_DATA (records the golden PCR selection and their digest)
  Bytes creation_hash;       // SHA-256 of the TPMS_CREATION_DATA: what certify_creation attests (32 bytes)
  Bytes creation_ticket;     // marshalled TPMT_TK_CREATION, proof for certify_creation that the TPM made the key
};

// TPM2_Create + TPM2_Load under `parent` (a storage key made through the same device). `golden` are the SHA-256
// PCR values the key is bound to (normally the attested PCRs read at boot); kInvalidArgument if empty, a value is
// not 32 bytes or an index is above 23. The current PCRs need not equal `golden`: the binding is checked on use.
Result<RekCreation> create_rek(const TpmDevice& tpm, const TpmKey& parent, const attest::PcrValues& golden);

// TPM2_CreatePrimary in the owner hierarchy with the AK template for `algorithm`.
Result<TpmKey> create_ak(const TpmDevice& tpm, AkAlgorithm algorithm);

}  // namespace openpcc::tpm

#include "attest/tpm/node_keys.h"

#include <cstring>

#include "attest/tpm/esys_internal.h"

namespace openpcc::tpm {
namespace {

using internal::DeviceCore;
using internal::EsysPtr;
using internal::tss_error;

constexpr TPMA_OBJECT kStorageAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                           TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
                                           TPMA_OBJECT_NODA | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
// userWithAuth CLEAR: the only way to use the key is a policy session, and the policy is PolicyPCR.
constexpr TPMA_OBJECT kRekAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                       TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_DECRYPT |
                                       TPMA_OBJECT_ADMINWITHPOLICY;
constexpr TPMA_OBJECT kAkAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                      TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
                                      TPMA_OBJECT_NODA | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT;

TPM2B_PUBLIC ecc_template(TPMA_OBJECT attributes) {
  TPM2B_PUBLIC t{};
  TPMT_PUBLIC& p = t.publicArea;
  p.type = TPM2_ALG_ECC;
  p.nameAlg = TPM2_ALG_SHA256;
  p.objectAttributes = attributes;
  p.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
  p.parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
  p.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
  p.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
  return t;
}

TPM2B_PUBLIC storage_template() {
  TPM2B_PUBLIC t = ecc_template(kStorageAttributes);
  TPMS_ECC_PARMS& ecc = t.publicArea.parameters.eccDetail;
  ecc.symmetric.algorithm = TPM2_ALG_AES;
  ecc.symmetric.keyBits.aes = 128;
  ecc.symmetric.mode.aes = TPM2_ALG_CFB;
  // As in the TCG storage-key templates: a 32-byte zero unique field per coordinate.
  t.publicArea.unique.ecc.x.size = 32;
  t.publicArea.unique.ecc.y.size = 32;
  return t;
}

TPM2B_PUBLIC rek_template(const TPM2B_DIGEST& auth_policy) {
  TPM2B_PUBLIC t = ecc_template(kRekAttributes);
  t.publicArea.authPolicy = auth_policy;
  t.publicArea.parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDH;
  t.publicArea.parameters.eccDetail.scheme.details.ecdh.hashAlg = TPM2_ALG_SHA256;
  return t;
}

TPM2B_PUBLIC ak_template(AkAlgorithm algorithm) {
  if (algorithm == AkAlgorithm::kEccP256) {
    TPM2B_PUBLIC t = ecc_template(kAkAttributes);
    t.publicArea.parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
    t.publicArea.parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
    return t;
  }
  TPM2B_PUBLIC t{};
  TPMT_PUBLIC& p = t.publicArea;
  p.type = TPM2_ALG_RSA;
  p.nameAlg = TPM2_ALG_SHA256;
  p.objectAttributes = kAkAttributes;
  p.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
  p.parameters.rsaDetail.scheme.scheme = TPM2_ALG_RSASSA;
  p.parameters.rsaDetail.scheme.details.rsassa.hashAlg = TPM2_ALG_SHA256;
  p.parameters.rsaDetail.keyBits = 2048;
  p.parameters.rsaDetail.exponent = 0;  // 65537
  return t;
}

Result<TpmKey> create_owner_primary(const TpmDevice& tpm, const TPM2B_PUBLIC& in_public, std::string_view what) {
  const std::shared_ptr<DeviceCore>& core = internal::DeviceAccess::core(tpm);
  TPM2B_SENSITIVE_CREATE sensitive{};
  TPM2B_DATA outside_info{};
  TPML_PCR_SELECTION creation_pcrs{};
  std::lock_guard lock(core->mutex);
  ESYS_TR handle = ESYS_TR_NONE;
  TPM2B_PUBLIC* raw_public = nullptr;
  TSS2_RC rc = Esys_CreatePrimary(core->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                                  &sensitive, &in_public, &outside_info, &creation_pcrs, &handle, &raw_public,
                                  nullptr, nullptr, nullptr);
  EsysPtr<TPM2B_PUBLIC> out_public(raw_public);
  if (rc != TSS2_RC_SUCCESS) return tss_error("Esys_CreatePrimary(" + std::string(what) + ")", rc);
  return internal::make_transient_key(core, handle, out_public->publicArea);
}

template <class T>
Result<Bytes> marshal_with(TSS2_RC (*marshal)(const T*, uint8_t*, size_t, size_t*), const T& value,
                           std::string_view what) {
  Bytes out(sizeof(T) + 2);
  size_t offset = 0;
  TSS2_RC rc = marshal(&value, out.data(), out.size(), &offset);
  if (rc != TSS2_RC_SUCCESS) return tss_error("marshal " + std::string(what), rc);
  out.resize(offset);
  return out;
}

}  // namespace

Result<TpmKey> create_storage_primary(const TpmDevice& tpm) {
  return create_owner_primary(tpm, storage_template(), "storage primary");
}

Result<TpmKey> create_ak(const TpmDevice& tpm, AkAlgorithm algorithm) {
  return create_owner_primary(tpm, ak_template(algorithm),
                              algorithm == AkAlgorithm::kRsa2048 ? "AK RSA-2048" : "AK ECC P-256");
}

Result<RekCreation> create_rek(const TpmDevice& tpm, const TpmKey& parent, const attest::PcrValues& golden) {
  auto policy = attest::policy_pcr_digest(golden);
  if (!policy) return std::unexpected(wrap_error("tpm: REK golden PCRs", policy.error()));
  auto selection = internal::golden_pcr_selection(golden);
  if (!selection) return std::unexpected(selection.error());
  auto auth_policy = internal::to_tpm2b_digest(*policy, "REK policy");
  if (!auth_policy) return std::unexpected(auth_policy.error());
  const TPM2B_PUBLIC in_public = rek_template(*auth_policy);

  const std::shared_ptr<DeviceCore>& core = internal::DeviceAccess::core(tpm);
  auto parent_handle = internal::key_handle(*core, parent, "parent");
  if (!parent_handle) return std::unexpected(parent_handle.error());

  TPM2B_SENSITIVE_CREATE sensitive{};
  TPM2B_DATA outside_info{};
  std::lock_guard lock(core->mutex);
  TPM2B_PRIVATE* raw_private = nullptr;
  TPM2B_PUBLIC* raw_public = nullptr;
  TPM2B_CREATION_DATA* raw_creation_data = nullptr;
  TPM2B_DIGEST* raw_creation_hash = nullptr;
  TPMT_TK_CREATION* raw_ticket = nullptr;
  // creationPCR = the golden selection: the creation data (and so the certified creation hash) records the PCR
  // digest at the moment the key was made.
  TSS2_RC rc = Esys_Create(core->esys, *parent_handle, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sensitive,
                           &in_public, &outside_info, &*selection, &raw_private, &raw_public, &raw_creation_data,
                           &raw_creation_hash, &raw_ticket);
  EsysPtr<TPM2B_PRIVATE> out_private(raw_private);
  EsysPtr<TPM2B_PUBLIC> out_public(raw_public);
  EsysPtr<TPM2B_CREATION_DATA> creation_data(raw_creation_data);
  EsysPtr<TPM2B_DIGEST> creation_hash(raw_creation_hash);
  EsysPtr<TPMT_TK_CREATION> ticket(raw_ticket);
  if (rc != TSS2_RC_SUCCESS) return tss_error("Esys_Create(REK)", rc);

  ESYS_TR handle = ESYS_TR_NONE;
  rc = Esys_Load(core->esys, *parent_handle, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, out_private.get(),
                 out_public.get(), &handle);
  if (rc != TSS2_RC_SUCCESS) return tss_error("Esys_Load(REK)", rc);
  auto key = internal::make_transient_key(core, handle, out_public->publicArea);
  if (!key) return std::unexpected(key.error());

  auto creation_data_bytes =
      marshal_with(Tss2_MU_TPM2B_CREATION_DATA_Marshal, *creation_data, "TPM2B_CREATION_DATA");
  if (!creation_data_bytes) return std::unexpected(creation_data_bytes.error());
  auto ticket_bytes = marshal_with(Tss2_MU_TPMT_TK_CREATION_Marshal, *ticket, "TPMT_TK_CREATION");
  if (!ticket_bytes) return std::unexpected(ticket_bytes.error());
  return RekCreation{std::move(*key), std::move(*creation_data_bytes),
                     Bytes(creation_hash->buffer, creation_hash->buffer + creation_hash->size),
                     std::move(*ticket_bytes)};
}

}  // namespace openpcc::tpm

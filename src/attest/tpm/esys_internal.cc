#include "attest/tpm/esys_internal.h"

#include <tss2/tss2_rc.h>

#include <cstdio>
#include <cstring>
#include <string>

namespace openpcc::tpm::internal {

LoadedObject::~LoadedObject() {
  if (!core || tr == ESYS_TR_NONE) return;
  std::lock_guard lock(core->mutex);
  if (persistent) {
    Esys_TR_Close(core->esys, &tr);
  } else {
    Esys_FlushContext(core->esys, tr);
  }
}

Result<ESYS_TR> key_handle(const DeviceCore& core, const TpmKey& key, std::string_view role) {
  const LoadedObject* object = KeyAccess::object(key);
  if (object == nullptr) return make_error(ErrorCode::kInvalidArgument, "tpm: the " + std::string(role) + " key was moved from");
  if (object->core.get() != &core) {
    return make_error(ErrorCode::kInvalidArgument,
                      "tpm: the " + std::string(role) + " key belongs to another TPM connection");
  }
  return object->tr;
}

Result<TSS2_SYS_CONTEXT*> sys_context(DeviceCore& core) {
  TSS2_SYS_CONTEXT* sys = nullptr;
  TSS2_RC rc = Esys_GetSysContext(core.esys, &sys);
  if (rc != TSS2_RC_SUCCESS || sys == nullptr) return tss_error("Esys_GetSysContext", rc);
  return sys;
}

Result<SessionHandle> start_session(DeviceCore& core, TPM2_SE type) {
  TPMT_SYM_DEF symmetric{};
  symmetric.algorithm = TPM2_ALG_NULL;
  ESYS_TR session = ESYS_TR_NONE;
  TSS2_RC rc = Esys_StartAuthSession(core.esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                     nullptr, type, &symmetric, TPM2_ALG_SHA256, &session);
  if (rc != TSS2_RC_SUCCESS) return tss_error("Esys_StartAuthSession", rc);
  return SessionHandle(core, session);
}

std::unexpected<Error> tss_error(std::string_view what, TSS2_RC rc, ErrorCode tpm_code) {
  ErrorCode code = (rc & TSS2_RC_LAYER_MASK) == TSS2_TCTI_RC_LAYER ? ErrorCode::kUnavailable : tpm_code;
  char hex[16];
  std::snprintf(hex, sizeof hex, "0x%x", rc);
  return make_error(code, "tpm: " + std::string(what) + ": " + std::string(Tss2_RC_Decode(rc)) + " (" + hex + ")");
}

TSS2_RC tpm_rc_base(TSS2_RC rc) {
  if ((rc & TSS2_RC_LAYER_MASK) != TSS2_TPM_RC_LAYER) return rc;
  if ((rc & TPM2_RC_FMT1) != 0) return rc & (TPM2_RC_FMT1 | 0x3F);  // drop the P/N bits (which handle/param)
  return rc;
}

Result<TPML_PCR_SELECTION> sha256_pcr_selection(std::span<const uint32_t> pcrs) {
  TPML_PCR_SELECTION selection{};
  selection.count = 1;
  selection.pcrSelections[0].hash = TPM2_ALG_SHA256;
  selection.pcrSelections[0].sizeofSelect = 3;
  for (uint32_t pcr : pcrs) {
    if (pcr >= kPcrCount) {
      return make_error(ErrorCode::kInvalidArgument,
                        "tpm: PCR " + std::to_string(pcr) + " out of range (0.." + std::to_string(kPcrCount - 1) + ")");
    }
    selection.pcrSelections[0].pcrSelect[pcr / 8] |= static_cast<uint8_t>(1u << (pcr % 8));
  }
  return selection;
}

Result<TPML_PCR_SELECTION> golden_pcr_selection(const PcrValues& values) {
  if (values.empty()) return make_error(ErrorCode::kInvalidArgument, "tpm: no PCR values given");
  std::vector<uint32_t> indices;
  for (const auto& [pcr, value] : values) {
    if (value.size() != TPM2_SHA256_DIGEST_SIZE) {
      return make_error(ErrorCode::kInvalidArgument, "tpm: PCR " + std::to_string(pcr) + " value has " +
                                                         std::to_string(value.size()) + " bytes, want 32 (SHA-256)");
    }
    indices.push_back(pcr);
  }
  return sha256_pcr_selection(indices);
}

Result<TPM2B_DIGEST> to_tpm2b_digest(ByteSpan bytes, std::string_view what) {
  TPM2B_DIGEST out{};
  if (bytes.size() > sizeof out.buffer) {
    return make_error(ErrorCode::kInvalidArgument, "tpm: " + std::string(what) + " longer than " +
                                                       std::to_string(sizeof out.buffer) + " bytes");
  }
  out.size = static_cast<UINT16>(bytes.size());
  if (!bytes.empty()) std::memcpy(out.buffer, bytes.data(), bytes.size());
  return out;
}

Result<TPM2B_DATA> to_tpm2b_data(ByteSpan bytes, std::string_view what) {
  TPM2B_DATA out{};
  if (bytes.size() > sizeof out.buffer) {
    return make_error(ErrorCode::kInvalidArgument, "tpm: " + std::string(what) + " longer than " +
                                                       std::to_string(sizeof out.buffer) + " bytes");
  }
  out.size = static_cast<UINT16>(bytes.size());
  if (!bytes.empty()) std::memcpy(out.buffer, bytes.data(), bytes.size());
  return out;
}

Result<Bytes> marshal_public(const TPMT_PUBLIC& public_area) {
  Bytes out(sizeof(TPMT_PUBLIC));
  size_t offset = 0;
  TSS2_RC rc = Tss2_MU_TPMT_PUBLIC_Marshal(&public_area, out.data(), out.size(), &offset);
  if (rc != TSS2_RC_SUCCESS) return tss_error("marshal TPMT_PUBLIC", rc);
  out.resize(offset);
  return out;
}

Result<Bytes> marshal_signature(const TPMT_SIGNATURE& signature) {
  Bytes out(sizeof(TPMT_SIGNATURE));
  size_t offset = 0;
  TSS2_RC rc = Tss2_MU_TPMT_SIGNATURE_Marshal(&signature, out.data(), out.size(), &offset);
  if (rc != TSS2_RC_SUCCESS) return tss_error("marshal TPMT_SIGNATURE", rc);
  out.resize(offset);
  return out;
}

Result<TpmKey> make_transient_key(const std::shared_ptr<DeviceCore>& core, ESYS_TR tr,
                                  const TPMT_PUBLIC& public_area) {
  // Own the handle first, so that it is flushed whatever fails below.
  auto object = std::make_unique<LoadedObject>(core, tr, /*persistent=*/false);
  auto marshalled = marshal_public(public_area);
  if (!marshalled) return std::unexpected(marshalled.error());
  TPM2B_NAME* raw_name = nullptr;
  TSS2_RC rc = Esys_TR_GetName(core->esys, tr, &raw_name);
  EsysPtr<TPM2B_NAME> name(raw_name);
  if (rc != TSS2_RC_SUCCESS) return tss_error("Esys_TR_GetName", rc);
  return KeyAccess::make(std::move(object), std::move(*marshalled), Bytes(name->name, name->name + name->size),
                         std::nullopt);
}

}  // namespace openpcc::tpm::internal

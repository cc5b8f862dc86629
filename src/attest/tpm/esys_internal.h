// Internal to openpcc_tpm (not installed API): what the .cc files share about ESAPI — the device core behind
// TpmDevice, loaded objects behind TpmKey, RAII for ESAPI outputs and sessions, error translation, and conversions
// between our types and TPM structures.
#pragma once

#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_sys.h>
#include <tss2/tss2_tpm2_types.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string_view>

#include "attest/tpm/tcti.h"
#include "attest/tpm/tpm_device.h"
#include "attest/tpm/tpm_key.h"
#include "common/bytes.h"
#include "common/error.h"

namespace openpcc::tpm::internal {

// One TCTI + ESYS_CONTEXT. Every ESAPI call on `esys` holds `mutex`. It is recursive because RAII handles (sessions,
// objects) release themselves with an ESAPI call from destructors that may run while an operation holds the lock.
struct DeviceCore {
  DeviceCore(Tcti t, ESYS_CONTEXT* e) : tcti(std::move(t)), esys(e) {}
  DeviceCore(const DeviceCore&) = delete;
  DeviceCore& operator=(const DeviceCore&) = delete;
  ~DeviceCore() {
    if (esys != nullptr) Esys_Finalize(&esys);  // before the TCTI it uses (members are destroyed after this body)
  }

  std::recursive_mutex mutex;
  Tcti tcti;
  ESYS_CONTEXT* esys = nullptr;
};

struct DeviceAccess {
  static const std::shared_ptr<DeviceCore>& core(const TpmDevice& device) { return device.core_; }
};

// An ESAPI object handle (ESYS_TR) of a key. Transient: TPM2_FlushContext on destruction. Persistent: Esys_TR_Close
// (the key stays in the TPM).
struct LoadedObject {
  LoadedObject(std::shared_ptr<DeviceCore> c, ESYS_TR h, bool p) : core(std::move(c)), tr(h), persistent(p) {}
  LoadedObject(const LoadedObject&) = delete;
  LoadedObject& operator=(const LoadedObject&) = delete;
  ~LoadedObject();

  std::shared_ptr<DeviceCore> core;
  ESYS_TR tr;
  bool persistent;
};

struct KeyAccess {
  static TpmKey make(std::unique_ptr<LoadedObject> object, Bytes public_area, Bytes name,
                     std::optional<uint32_t> persistent_handle) {
    return TpmKey(std::move(object), std::move(public_area), std::move(name), persistent_handle);
  }
  static const LoadedObject* object(const TpmKey& key) { return key.object_.get(); }  // null once moved from
};

// The key's handle, after checking that it belongs to `core` (kInvalidArgument otherwise: an ESYS_TR means nothing
// in another context).
Result<ESYS_TR> key_handle(const DeviceCore& core, const TpmKey& key, std::string_view role);

// Frees ESAPI-allocated outputs (Esys_Free).
struct EsysFree {
  void operator()(void* p) const { Esys_Free(p); }
};
template <class T>
using EsysPtr = std::unique_ptr<T, EsysFree>;

// An ESAPI session handle, flushed on destruction. Use only while holding the core's mutex.
class SessionHandle {
 public:
  SessionHandle(DeviceCore& core, ESYS_TR tr) : core_(&core), tr_(tr) {}
  SessionHandle(SessionHandle&& other) noexcept : core_(other.core_), tr_(other.tr_) { other.tr_ = ESYS_TR_NONE; }
  SessionHandle& operator=(SessionHandle&&) = delete;
  SessionHandle(const SessionHandle&) = delete;
  ~SessionHandle() {
    if (tr_ != ESYS_TR_NONE) Esys_FlushContext(core_->esys, tr_);
  }
  ESYS_TR get() const { return tr_; }

 private:
  DeviceCore* core_;
  ESYS_TR tr_;
};

// The SAPI context inside the ESAPI context, for the hot path where ESAPI's per-command session bookkeeping costs
// more than the TPM: tpm2-tss 3.x builds a fresh OpenSSL library context for every hash, HMAC and nonce it computes
// (milliseconds of CPU per policy-session command). Use only while holding the mutex, between ESAPI commands.
Result<TSS2_SYS_CONTEXT*> sys_context(DeviceCore& core);

// A session started through SAPI (a raw TPM handle, unknown to ESAPI): TPM2_FlushContext on destruction unless the
// TPM ended it. Use only while holding the core's mutex.
class SysSessionHandle {
 public:
  SysSessionHandle(TSS2_SYS_CONTEXT* sys, TPMI_SH_AUTH_SESSION handle) : sys_(sys), handle_(handle) {}
  SysSessionHandle(const SysSessionHandle&) = delete;
  SysSessionHandle& operator=(const SysSessionHandle&) = delete;
  ~SysSessionHandle() {
    if (handle_ != 0) Tss2_Sys_FlushContext(sys_, handle_);
  }
  void ended_by_tpm() { handle_ = 0; }

 private:
  TSS2_SYS_CONTEXT* sys_;
  TPMI_SH_AUTH_SESSION handle_;
};

// An unsalted, unbound session of `type` (TPM2_SE_POLICY or TPM2_SE_TRIAL) with SHA-256. Caller holds the mutex.
Result<SessionHandle> start_session(DeviceCore& core, TPM2_SE type);

// "tpm: <what>: <Tss2_RC_Decode text> (0x...)" with a code chosen from the RC's layer: TCTI errors are
// kUnavailable, everything else `tpm_code`.
std::unexpected<Error> tss_error(std::string_view what, TSS2_RC rc, ErrorCode tpm_code = ErrorCode::kInternal);

// A TPM response code without its handle/session/parameter number (format-1 codes), so it can be compared with the
// TPM2_RC_* constants. Non-TPM layers are returned unchanged.
TSS2_RC tpm_rc_base(TSS2_RC rc);

// PCR indices (< kPcrCount; duplicates merged) → a TPML_PCR_SELECTION of the SHA-256 bank with sizeofSelect 3.
Result<TPML_PCR_SELECTION> sha256_pcr_selection(std::span<const uint32_t> pcrs);
// The same for the indices of a PcrValues map, checking every value is 32 bytes and the map is not empty.
Result<TPML_PCR_SELECTION> golden_pcr_selection(const PcrValues& values);

// Copies into TPM2B buffers; kInvalidArgument if too long.
Result<TPM2B_DIGEST> to_tpm2b_digest(ByteSpan bytes, std::string_view what);
Result<TPM2B_DATA> to_tpm2b_data(ByteSpan bytes, std::string_view what);

// Marshals with Tss2_MU; these cannot fail for structures the TPM gave us, but report kInternal if they do.
Result<Bytes> marshal_public(const TPMT_PUBLIC& public_area);
Result<Bytes> marshal_signature(const TPMT_SIGNATURE& signature);

// TpmKey for a freshly loaded transient object: reads its Name from ESAPI.
Result<TpmKey> make_transient_key(const std::shared_ptr<DeviceCore>& core, ESYS_TR tr, const TPMT_PUBLIC& public_area);

}  // namespace openpcc::tpm::internal

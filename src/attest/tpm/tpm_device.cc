#include "attest/tpm/tpm_device.h"

#include <set>
#include <string>

#include "attest/tpm/esys_internal.h"

namespace openpcc::tpm {

using internal::DeviceCore;
using internal::EsysPtr;
using internal::tss_error;

TpmDevice::TpmDevice(std::shared_ptr<DeviceCore> core) : core_(std::move(core)) {}
TpmDevice::TpmDevice(TpmDevice&&) noexcept = default;
TpmDevice& TpmDevice::operator=(TpmDevice&&) noexcept = default;
TpmDevice::~TpmDevice() = default;

Result<TpmDevice> TpmDevice::open(const TctiConfig& config) {
  auto tcti = Tcti::open(config);
  if (!tcti) return std::unexpected(tcti.error());
  ESYS_CONTEXT* esys = nullptr;
  TSS2_RC rc = Esys_Initialize(&esys, tcti->get(), nullptr);
  if (rc != TSS2_RC_SUCCESS) {
    return tss_error("Esys_Initialize on " + config.to_string(), rc, ErrorCode::kUnavailable);
  }
  return TpmDevice(std::make_shared<DeviceCore>(std::move(*tcti), esys));
}

Status TpmDevice::startup() const {
  std::lock_guard lock(core_->mutex);
  TSS2_RC rc = Esys_Startup(core_->esys, TPM2_SU_CLEAR);
  if (rc == TSS2_RC_SUCCESS || internal::tpm_rc_base(rc) == TPM2_RC_INITIALIZE) return {};
  return tss_error("Esys_Startup(CLEAR)", rc);
}

Status TpmDevice::pcr_extend(uint32_t pcr, ByteSpan sha256_digest) const {
  if (pcr >= kPcrCount) {
    return make_error(ErrorCode::kInvalidArgument, "tpm: PCR " + std::to_string(pcr) + " out of range");
  }
  if (sha256_digest.size() != TPM2_SHA256_DIGEST_SIZE) {
    return make_error(ErrorCode::kInvalidArgument, "tpm: PCR extend digest has " +
                                                       std::to_string(sha256_digest.size()) + " bytes, want 32");
  }
  TPML_DIGEST_VALUES digests{};
  digests.count = 1;
  digests.digests[0].hashAlg = TPM2_ALG_SHA256;
  std::copy(sha256_digest.begin(), sha256_digest.end(), digests.digests[0].digest.sha256);
  std::lock_guard lock(core_->mutex);
  TSS2_RC rc = Esys_PCR_Extend(core_->esys, ESYS_TR_PCR0 + pcr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                               &digests);
  if (rc != TSS2_RC_SUCCESS) return tss_error("Esys_PCR_Extend(PCR " + std::to_string(pcr) + ")", rc);
  return {};
}

Result<PcrValues> TpmDevice::pcr_read(std::span<const uint32_t> pcrs) const {
  std::set<uint32_t> remaining(pcrs.begin(), pcrs.end());
  PcrValues values;
  std::lock_guard lock(core_->mutex);
  while (!remaining.empty()) {
    std::vector<uint32_t> ask(remaining.begin(), remaining.end());
    auto selection = internal::sha256_pcr_selection(ask);
    if (!selection) return std::unexpected(selection.error());

    TPML_PCR_SELECTION* raw_selection_out = nullptr;
    TPML_DIGEST* raw_digests = nullptr;
    TSS2_RC rc = Esys_PCR_Read(core_->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &*selection, nullptr,
                               &raw_selection_out, &raw_digests);
    EsysPtr<TPML_PCR_SELECTION> selection_out(raw_selection_out);
    EsysPtr<TPML_DIGEST> digests(raw_digests);
    if (rc != TSS2_RC_SUCCESS) return tss_error("Esys_PCR_Read", rc);

    // The TPM answers with the PCRs it read (a prefix of the request) and their digests in ascending order.
    size_t next_digest = 0;
    size_t got = 0;
    for (uint32_t i = 0; i < selection_out->count; ++i) {
      const TPMS_PCR_SELECTION& bank = selection_out->pcrSelections[i];
      if (bank.hash != TPM2_ALG_SHA256) continue;
      for (uint32_t pcr = 0; pcr < 8u * bank.sizeofSelect && pcr / 8 < sizeof bank.pcrSelect; ++pcr) {
        if ((bank.pcrSelect[pcr / 8] & (1u << (pcr % 8))) == 0) continue;
        if (next_digest >= digests->count) {
          return make_error(ErrorCode::kInternal, "tpm: PCR_Read returned fewer digests than PCRs selected");
        }
        const TPM2B_DIGEST& d = digests->digests[next_digest++];
        if (d.size != TPM2_SHA256_DIGEST_SIZE) {
          return make_error(ErrorCode::kInternal, "tpm: PCR_Read returned a " + std::to_string(d.size) +
                                                      "-byte SHA-256 digest");
        }
        if (remaining.erase(pcr) == 1) {
          values[pcr] = Bytes(d.buffer, d.buffer + d.size);
          ++got;
        }
      }
    }
    if (got == 0) {
      return make_error(ErrorCode::kUnsupported, "tpm: the TPM does not return PCR " +
                                                     std::to_string(*remaining.begin()) + " of the SHA-256 bank");
    }
  }
  return values;
}

}  // namespace openpcc::tpm

// A connection to one TPM 2.0 through tpm2-tss's ESAPI: the TCTI plus an ESYS_CONTEXT, both released on
// destruction.
//
//   auto tpm = TpmDevice::open(*TctiConfig::parse("device:/dev/tpmrm0"));
//   tpm->startup();                                     // harmless if firmware already did it
//   tpm->pcr_extend(12, model_digest);
//   auto pcrs = tpm->pcr_read(attest::kAttestedPcrs);   // SHA-256 bank
//
// ESAPI contexts are not thread-safe; TpmDevice serializes every TPM command behind one mutex, so one device may be
// shared by threads (commands then queue; a TPM executes one command at a time anyway). Keys (tpm_key.h) keep the
// connection alive: a TpmDevice may be destroyed while keys made through it are still in use.
//
// Errors: kUnavailable when the TPM cannot be reached, kInvalidArgument for bad inputs caught before the TPM sees
// them, kInternal (or something more precise, see each function) for TPM errors. Messages carry Tss2_RC_Decode text.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "attest/pcr.h"
#include "attest/tpm/tcti.h"
#include "common/bytes.h"
#include "common/error.h"

namespace openpcc::tpm {

// PCR index → value in the SHA-256 bank (32 bytes each).
using attest::PcrValues;

// PCR indices this layer accepts: 0..23 (a PC Client TPM has 24 PCRs).
inline constexpr uint32_t kPcrCount = attest::kMaxPcrIndex + 1;

namespace internal {
struct DeviceCore;
struct DeviceAccess;
}  // namespace internal

class TpmDevice {
 public:
  // Connects (Tss2_TctiLdr_Initialize + Esys_Initialize). Does not send TPM2_Startup: see startup().
  static Result<TpmDevice> open(const TctiConfig& config);

  TpmDevice(TpmDevice&&) noexcept;
  TpmDevice& operator=(TpmDevice&&) noexcept;
  ~TpmDevice();

  // TPM2_Startup(TPM_SU_CLEAR). A TPM that is already started (TPM_RC_INITIALIZE: firmware or the kernel did it,
  // or swtpm's startup-clear flag) counts as success.
  Status startup() const;

  // TPM2_PCR_Extend of the SHA-256 bank: PCR[pcr] = SHA-256(PCR[pcr] ‖ digest). digest must be 32 bytes.
  Status pcr_extend(uint32_t pcr, ByteSpan sha256_digest) const;

  // TPM2_PCR_Read of the SHA-256 bank. Asks again for whatever the TPM left out (it returns at most 8 digests per
  // call); kUnsupported if the TPM does not implement a requested PCR. Duplicates in `pcrs` are fine.
  Result<PcrValues> pcr_read(std::span<const uint32_t> pcrs) const;

 private:
  friend struct internal::DeviceAccess;
  explicit TpmDevice(std::shared_ptr<internal::DeviceCore> core);

  std::shared_ptr<internal::DeviceCore> core_;
};

}  // namespace openpcc::tpm

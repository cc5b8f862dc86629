// A key loaded in the TPM: its ESAPI handle plus its public area and Name. Transient keys are flushed from the TPM
// (TPM2_FlushContext) when the TpmKey is destroyed; persistent keys stay in the TPM and only the ESAPI handle is
// released. Move-only. Keeps its TPM connection alive.
//
// Made by node_keys.h (create_*) and persistence.h (make_persistent / open_persistent).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "common/bytes.h"

namespace openpcc::tpm {

namespace internal {
struct LoadedObject;
struct KeyAccess;
}  // namespace internal

class TpmKey {
 public:
  TpmKey(TpmKey&&) noexcept;
  TpmKey& operator=(TpmKey&&) noexcept;
  ~TpmKey();

  // The marshalled TPMT_PUBLIC (what the TPM hashes into the Name; attest::parse_tpmt_public reads it).
  const Bytes& public_area() const { return public_area_; }
  // nameAlg (u16 BE) ‖ H(public_area): 34 bytes for SHA-256 keys.
  const Bytes& name() const { return name_; }
  // The TPM handle (0x81xxxxxx) of a persistent key; nullopt for a transient one.
  std::optional<uint32_t> persistent_handle() const { return persistent_handle_; }

 private:
  friend struct internal::KeyAccess;
  TpmKey(std::unique_ptr<internal::LoadedObject> object, Bytes public_area, Bytes name,
         std::optional<uint32_t> persistent_handle);

  std::unique_ptr<internal::LoadedObject> object_;
  Bytes public_area_;
  Bytes name_;
  std::optional<uint32_t> persistent_handle_;
};

}  // namespace openpcc::tpm

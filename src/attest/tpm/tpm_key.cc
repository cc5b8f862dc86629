#include "attest/tpm/tpm_key.h"

#include "attest/tpm/esys_internal.h"

namespace openpcc::tpm {

TpmKey::TpmKey(std::unique_ptr<internal::LoadedObject> object, Bytes public_area, Bytes name,
               std::optional<uint32_t> persistent_handle)
    : object_(std::move(object)),
      public_area_(std::move(public_area)),
      name_(std::move(name)),
      persistent_handle_(persistent_handle) {}

TpmKey::TpmKey(TpmKey&&) noexcept = default;
TpmKey& TpmKey::operator=(TpmKey&&) noexcept = default;
TpmKey::~TpmKey() = default;

}  // namespace openpcc::tpm

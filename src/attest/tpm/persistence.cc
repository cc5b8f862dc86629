#include "attest/tpm/persistence.h"

#include <cstdio>

#include "attest/tpm/esys_internal.h"

namespace openpcc::tpm {
namespace {

using internal::DeviceCore;
using internal::EsysPtr;
using internal::tss_error;

std::string handle_text(uint32_t handle) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%08x", handle);
  return text;
}

Status check_range(uint32_t handle) {
  if (handle < kFirstOwnerPersistentHandle || handle > kLastOwnerPersistentHandle) {
    return make_error(ErrorCode::kInvalidArgument,
                      "tpm: " + handle_text(handle) + " is not an owner persistent handle (0x81000000..0x817fffff)");
  }
  return {};
}

// An ESAPI handle for the persistent object at `handle`, or nullopt if the slot is empty. Caller holds the mutex.
Result<std::optional<ESYS_TR>> find_persistent(DeviceCore& core, uint32_t handle) {
  ESYS_TR tr = ESYS_TR_NONE;
  TSS2_RC rc = Esys_TR_FromTPMPublic(core.esys, handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &tr);
  if (rc == TSS2_RC_SUCCESS) return std::optional<ESYS_TR>(tr);
  if (internal::tpm_rc_base(rc) == TPM2_RC_HANDLE) return std::optional<ESYS_TR>();
  return tss_error("Esys_TR_FromTPMPublic(" + handle_text(handle) + ")", rc);
}

}  // namespace

Result<TpmKey> make_persistent(const TpmDevice& tpm, const TpmKey& key, uint32_t persistent_handle) {
  if (auto s = check_range(persistent_handle); !s) return std::unexpected(s.error());
  if (key.persistent_handle()) return make_error(ErrorCode::kInvalidArgument, "tpm: the key is already persistent");
  const std::shared_ptr<DeviceCore>& core = internal::DeviceAccess::core(tpm);
  auto handle = internal::key_handle(*core, key, "persisted");
  if (!handle) return std::unexpected(handle.error());

  std::lock_guard lock(core->mutex);
  ESYS_TR persistent = ESYS_TR_NONE;
  TSS2_RC rc = Esys_EvictControl(core->esys, ESYS_TR_RH_OWNER, *handle, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                 ESYS_TR_NONE, persistent_handle, &persistent);
  if (rc != TSS2_RC_SUCCESS) {
    if (internal::tpm_rc_base(rc) == TPM2_RC_NV_DEFINED) {
      return make_error(ErrorCode::kConflict, "tpm: persistent handle " + handle_text(persistent_handle) +
                                                  " is already in use (evict_persistent it first)");
    }
    return tss_error("Esys_EvictControl(persist at " + handle_text(persistent_handle) + ")", rc);
  }
  auto object = std::make_unique<internal::LoadedObject>(core, persistent, /*persistent=*/true);
  return internal::KeyAccess::make(std::move(object), key.public_area(),
                                   key.name(), persistent_handle);
}

Result<TpmKey> open_persistent(const TpmDevice& tpm, uint32_t persistent_handle) {
  if (auto s = check_range(persistent_handle); !s) return std::unexpected(s.error());
  const std::shared_ptr<DeviceCore>& core = internal::DeviceAccess::core(tpm);
  std::lock_guard lock(core->mutex);
  auto found = find_persistent(*core, persistent_handle);
  if (!found) return std::unexpected(found.error());
  if (!*found) {
    return make_error(ErrorCode::kNotFound, "tpm: no key at persistent handle " + handle_text(persistent_handle));
  }
  auto object = std::make_unique<internal::LoadedObject>(core, **found, /*persistent=*/true);

  TPM2B_PUBLIC* raw_public = nullptr;
  TPM2B_NAME* raw_name = nullptr;
  TSS2_RC rc = Esys_ReadPublic(core->esys, object->tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &raw_public,
                               &raw_name, nullptr);
  EsysPtr<TPM2B_PUBLIC> out_public(raw_public);
  EsysPtr<TPM2B_NAME> name(raw_name);
  if (rc != TSS2_RC_SUCCESS) return tss_error("Esys_ReadPublic(" + handle_text(persistent_handle) + ")", rc);
  auto public_area = internal::marshal_public(out_public->publicArea);
  if (!public_area) return std::unexpected(public_area.error());
  return internal::KeyAccess::make(std::move(object), std::move(*public_area),
                                   Bytes(name->name, name->name + name->size), persistent_handle);
}

Result<bool> evict_persistent(const TpmDevice& tpm, uint32_t persistent_handle) {
  if (auto s = check_range(persistent_handle); !s) return std::unexpected(s.error());
  const std::shared_ptr<DeviceCore>& core = internal::DeviceAccess::core(tpm);
  std::lock_guard lock(core->mutex);
  auto found = find_persistent(*core, persistent_handle);
  if (!found) return std::unexpected(found.error());
  if (!*found) return false;
  // ESAPI keeps the handle's metadata after evicting a persistent object; the LoadedObject closes it.
  internal::LoadedObject object(core, **found, /*persistent=*/true);
  ESYS_TR none = ESYS_TR_NONE;
  TSS2_RC rc = Esys_EvictControl(core->esys, ESYS_TR_RH_OWNER, object.tr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                 ESYS_TR_NONE, persistent_handle, &none);
  if (rc != TSS2_RC_SUCCESS) return tss_error("Esys_EvictControl(evict " + handle_text(persistent_handle) + ")", rc);
  return true;
}

}  // namespace openpcc::tpm

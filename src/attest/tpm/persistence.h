// Persistent keys (TPM2_EvictControl in the owner hierarchy), so that a node process can restart without making
// new keys:
//
//   evict_persistent(tpm, kRekHandle);                        // boot is idempotent: clear the slot if it is taken
//   auto rek = make_persistent(tpm, transient_rek, kRekHandle);
//   ... after a restart:
//   auto rek = open_persistent(tpm, kRekHandle);              // same public area and Name
#pragma once

#include <cstdint>

#include "attest/tpm/tpm_device.h"
#include "attest/tpm/tpm_key.h"
#include "common/error.h"

namespace openpcc::tpm {

// The owner hierarchy's persistent handle range (TPM 2.0 Part 2, TPM_HT_PERSISTENT; PC Client reserves the rest).
inline constexpr uint32_t kFirstOwnerPersistentHandle = 0x81000000;
inline constexpr uint32_t kLastOwnerPersistentHandle = 0x817FFFFF;

// Copies the transient `key` to `persistent_handle` and returns the persistent key (`key` stays loaded until it is
// destroyed). kConflict if the handle is taken, kInvalidArgument for a handle outside the owner range or a key that
// is already persistent.
Result<TpmKey> make_persistent(const TpmDevice& tpm, const TpmKey& key, uint32_t persistent_handle);

// The key at `persistent_handle`; kNotFound if there is none.
Result<TpmKey> open_persistent(const TpmDevice& tpm, uint32_t persistent_handle);

// Removes the key at `persistent_handle` from the TPM. true if there was one, false if the slot was empty.
// Any TpmKey still referring to it becomes unusable.
Result<bool> evict_persistent(const TpmDevice& tpm, uint32_t persistent_handle);

}  // namespace openpcc::tpm

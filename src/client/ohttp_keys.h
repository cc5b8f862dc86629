// The gateway's OHTTP key configurations as a client holds them: the configs (RFC 9458 §3) together with the
// rotation periods they were published with (transparency/predicates.h), so the client can pick the key the
// gateway expects now.
//
//   auto keys = client::verified_ohttp_keys(config, trust);          // remote_config.h: from a signed bundle
//   auto key = client::select_key_config(*keys, now);                // the config to encapsulate to
#pragma once

#include <vector>

#include "common/error.h"
#include "transparency/predicates.h"
#include "wire/ohttp_key_config.h"

namespace openpcc::client {

struct OhttpKeys {
  std::vector<wire::ohttp::KeyConfig> configs;
  std::vector<transparency::KeyRotationPeriod> periods;
};

// The config a client should use at `now`: among the periods active at `now` (active_from < now ≤ active_until),
// the one with the latest active_from whose key_id has a config (as the reference client picks). kUnavailable
// "no active OHTTP keys" when there is none.
Result<wire::ohttp::KeyConfig> select_key_config(const OhttpKeys& keys, transparency::Timestamp now);

}  // namespace openpcc::client

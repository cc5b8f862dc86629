#include "client/ohttp_keys.h"

#include <algorithm>

namespace openpcc::client {

Result<wire::ohttp::KeyConfig> select_key_config(const OhttpKeys& keys, transparency::Timestamp now) {
  // active_key_ids orders the ids by active_from, latest first.
  for (uint8_t id : transparency::active_key_ids(keys.periods, now)) {
    auto it = std::find_if(keys.configs.begin(), keys.configs.end(),
                           [id](const wire::ohttp::KeyConfig& c) { return c.key_id == id; });
    if (it != keys.configs.end()) return *it;
  }
  return make_error(ErrorCode::kUnavailable, "no active OHTTP keys");
}

}  // namespace openpcc::client

#include "client/wallet/privacy_delay.h"

#include "common/random.h"

namespace openpcc::wallet {

std::chrono::milliseconds random_delay(std::chrono::milliseconds max) {
  if (max.count() <= 0) return std::chrono::milliseconds(0);
  return std::chrono::milliseconds(static_cast<int64_t>(random_uniform(static_cast<uint64_t>(max.count()))));
}

}  // namespace openpcc::wallet

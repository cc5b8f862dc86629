#include "client/wallet/wallet_config.h"

#include <algorithm>
#include <string>

#include "currency/value.h"

namespace openpcc::wallet {
namespace {

std::unexpected<Error> invalid(std::string message) {
  return make_error(ErrorCode::kInvalidArgument, "wallet config: " + std::move(message));
}

constexpr size_t kMaxPrefetchCredits = 64;

}  // namespace

Status validate(const WalletConfig& config) {
  auto prefetch = currency::Value::from_amount(config.prefetch_amount);
  if (config.prefetch_amount <= 0 || !prefetch) {
    return invalid("prefetch_amount " + std::to_string(config.prefetch_amount) +
                   " is not a positive, exactly representable amount");
  }
  auto source = currency::Value::from_amount(config.source_amount);
  if (config.source_amount <= 0 || !source) {
    return invalid("source_amount " + std::to_string(config.source_amount) +
                   " is not a positive, exactly representable amount");
  }
  if (config.source_amount < config.prefetch_amount) {
    return invalid("source_amount " + std::to_string(config.source_amount) + " is below prefetch_amount " +
                   std::to_string(config.prefetch_amount));
  }
  if (config.prefetch_credits > kMaxPrefetchCredits) {
    return invalid("prefetch_credits above " + std::to_string(kMaxPrefetchCredits));
  }
  if (config.max_parallel < 1 || config.max_parallel > 16) return invalid("max_parallel must be 1..16");
  if (config.max_delay.count() < 0 || config.max_delay > std::chrono::minutes(10)) {
    return invalid("max_delay must be 0..10 minutes");
  }
  if (config.state_file.empty() || config.state_file.filename().empty()) return invalid("state_file is required");
  if (config.close_timeout.count() <= 0) return invalid("close_timeout must be positive");
  if (config.payment_timeout.count() <= 0) return invalid("payment_timeout must be positive");
  if (config.expiry_margin < std::chrono::minutes(1) || config.expiry_margin > std::chrono::minutes(50)) {
    return invalid("expiry_margin must be 1..50 minutes");
  }
  if (config.min_backoff.count() <= 0 || config.max_backoff < config.min_backoff) {
    return invalid("backoff: need 0 < min_backoff <= max_backoff");
  }
  return {};
}

size_t prefetch_target(const WalletConfig& config) {
  if (config.prefetch_credits > 0) return config.prefetch_credits;
  const int64_t per_source = config.prefetch_amount > 0 ? config.source_amount / config.prefetch_amount : 1;
  return static_cast<size_t>(std::clamp<int64_t>(per_source, 1, static_cast<int64_t>(kMaxPrefetchCredits)));
}

}  // namespace openpcc::wallet

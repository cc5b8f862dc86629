#include "services/blindbank/blindbank_http.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "currency/nonce.h"
#include "openpcc/anonpay_banking.pb.h"
#include "services/blindbank/blindbank_api.h"
#include "services/common/proto_http.h"

namespace openpcc::blindbank {
namespace {

using Clock = std::chrono::steady_clock;

struct Context {
  BlindBank& bank;
  net::BlockingPool& pool;
  size_t max_body_bytes;
  size_t max_withdraw_body_bytes;
  std::function<int64_t()> clock;
};

double elapsed_ms(Clock::time_point since) {
  return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
}

void log_outcome(std::string_view op, int status, const Error* error, Clock::time_point started) {
  std::string outcome = error ? std::string(to_string(error->code)) : std::string("ok");
  std::replace(outcome.begin(), outcome.end(), ' ', '_');
  const double ms = elapsed_ms(started);
  if (error == nullptr) {
    spdlog::info("blindbank: op={} outcome={} status={} ms={:.1f}", op, outcome, status, ms);
  } else if (status >= 500) {
    // Bank and storage messages never carry tokens, credits or signatures (blindbank.h), so they may be logged.
    spdlog::warn("blindbank: op={} outcome={} status={} ms={:.1f} error=\"{}\"", op, outcome, status,
                 ms, error->message);
  } else {
    spdlog::info("blindbank: op={} outcome={} status={} ms={:.1f}", op, outcome, status, ms);
    spdlog::debug("blindbank: op={} rejected: {}", op, error->message);
  }
}

// Balances belong to accounts: debug level only.
void log_amounts(std::string_view op, const pb::DepositResponse& r) {
  spdlog::debug("blindbank: op={} balance={}", op, r.balance());
}
void log_amounts(std::string_view op, const pb::BatchWithdrawResponse& r) {
  spdlog::debug("blindbank: op={} balance={} signatures={}", op, r.balance(), r.blind_signatures_size());
}
void log_amounts(std::string_view op, const pb::WithdrawFullUnblindedResponse&) {
  spdlog::debug("blindbank: op={} issued an unblinded credit", op);
}
void log_amounts(std::string_view, const pb::ExchangeResponse&) {}
void log_amounts(std::string_view op, const pb::BalanceResponse& r) {
  spdlog::debug("blindbank: op={} balance={}", op, r.balance());
}

template <class Request, class Response>
net::Task<Status> handle(std::shared_ptr<const Context> ctx, std::string_view op, bool withdraw,
                         net::ServerRequest& req, net::ServerResponse& res) {
  const Clock::time_point started = Clock::now();
  Request request;
  const size_t limit = withdraw ? ctx->max_withdraw_body_bytes : ctx->max_body_bytes;
  Status read = co_await services::read_proto(req, request, limit);
  if (!read) {
    const int status = blindbank_http_status(read.error().code);
    log_outcome(op, status, &read.error(), started);
    co_return co_await services::send_error(res, read.error(), status);
  }
  const int64_t now = ctx->clock();
  BlindBank& bank = ctx->bank;
  Result<Response> out = co_await ctx->pool.run([&bank, &request, now]() { return serve(bank, request, now); });
  if (!out) {
    const int status = blindbank_http_status(out.error().code);
    log_outcome(op, status, &out.error(), started);
    co_return co_await services::send_error(res, out.error(), status);
  }
  log_amounts(op, *out);
  log_outcome(op, 200, nullptr, started);
  co_return co_await services::send_proto(res, 200, *out);
}

net::Task<Status> health(net::ServerRequest&, net::ServerResponse& res) {
  net::Headers headers;
  headers.set("Content-Type", "application/json");
  headers.set("Cache-Control", "no-store");
  co_return co_await res.send(200, std::move(headers), std::string_view("{\"status\":\"OK\"}"));
}

}  // namespace

size_t default_withdraw_body_limit(const crypto::RsaPublicKey& key) {
  // Per entry: the blinded message, a 2-byte value in its Currency message, and protobuf tags and lengths (< 16).
  return kMaxBatchSize * (key.modulus_size() + 32) + 1024;
}

size_t max_request_body(const BlindBank& bank, const ServiceOptions& options) {
  const size_t withdraw = options.max_withdraw_body_bytes != 0 ? options.max_withdraw_body_bytes
                                                               : default_withdraw_body_limit(bank.public_key());
  return std::max(options.max_body_bytes, withdraw);
}

int blindbank_http_status(ErrorCode code) {
  // The reference's bank answers insufficient balance as an input error.
  if (code == ErrorCode::kInsufficientBalance) return 400;
  return services::http_status_for(code);
}

net::Handler make_blindbank_handler(BlindBank& bank, net::BlockingPool& pool, ServiceOptions options) {
  auto ctx = std::make_shared<const Context>(Context{
      bank, pool, options.max_body_bytes,
      options.max_withdraw_body_bytes != 0 ? options.max_withdraw_body_bytes
                                           : default_withdraw_body_limit(bank.public_key()),
      options.clock ? std::move(options.clock) : std::function<int64_t()>([] { return currency::unix_now(); })});

  services::Routes routes;
  routes.add("POST", "/deposit", [ctx](net::ServerRequest& req, net::ServerResponse& res) {
    return handle<pb::DepositRequest, pb::DepositResponse>(ctx, "deposit", false, req, res);
  });
  routes.add("POST", "/withdraw", [ctx](net::ServerRequest& req, net::ServerResponse& res) {
    return handle<pb::BatchWithdrawRequest, pb::BatchWithdrawResponse>(ctx, "withdraw", true, req, res);
  });
  routes.add("POST", "/withdraw-full", [ctx](net::ServerRequest& req, net::ServerResponse& res) {
    return handle<pb::WithdrawFullUnblindedRequest, pb::WithdrawFullUnblindedResponse>(ctx, "withdraw_full", false,
                                                                                       req, res);
  });
  routes.add("POST", "/exchange", [ctx](net::ServerRequest& req, net::ServerResponse& res) {
    return handle<pb::ExchangeRequest, pb::ExchangeResponse>(ctx, "exchange", false, req, res);
  });
  routes.add("POST", "/balance", [ctx](net::ServerRequest& req, net::ServerResponse& res) {
    return handle<pb::BalanceRequest, pb::BalanceResponse>(ctx, "balance", false, req, res);
  });
  routes.add("GET", "/_health", health);
  return routes.handler();
}

}  // namespace openpcc::blindbank

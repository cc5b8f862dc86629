#include "services/authbank/authbank_http.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>
#include <string>
#include <utility>

#include "currency/badge.h"
#include "openpcc/httpfmt.pb.h"

namespace openpcc::authbank {
namespace {

struct Context {
  AuthBank& bank;
  net::BlockingPool& pool;
  HttpOptions options;
};

std::optional<std::string_view> header_key(const net::ServerRequest& request) {
  return request.headers().get(kApiKeyHeader);
}

std::string account_text(const CallInfo& info) {
  return info.account_id ? std::to_string(*info.account_id) : std::string("-");
}

// One log line per request: operation, account, outcome. Error messages of this service never carry secrets;
// server-side failures are logged in full (the client only sees "internal error").
void log_failure(std::string_view op, const CallInfo& info, const Error& error) {
  const int status = services::http_status_for(error.code);
  if (status >= 500) {
    spdlog::error("authbank: {} account={} failed: {}", op, account_text(info), error.to_string());
  } else {
    spdlog::info("authbank: {} account={} refused ({}): {}", op, account_text(info), status, error.message);
  }
}

pb::AuthWithdrawalResponse to_response(const WithdrawalAnswer& answer) {
  pb::AuthWithdrawalResponse out;
  out.set_blind_signature(std::string(answer.blind_signature.begin(), answer.blind_signature.end()));
  if (answer.badge) {
    auto serialized = answer.badge->serialize();
    if (serialized) out.mutable_badge()->ParseFromArray(serialized->data(), static_cast<int>(serialized->size()));
  }
  return out;
}

net::Task<Status> send_rate_limited(net::ServerResponse& response, const Error& error,
                                    std::chrono::steady_clock::duration wait) {
  const auto seconds = std::chrono::ceil<std::chrono::seconds>(wait).count();
  pb::Error body;
  body.set_message(error.message);
  const std::string bytes = body.SerializeAsString();
  net::Headers headers;
  headers.set("Content-Type", services::kProtoMediaType);
  headers.set("Retry-After", std::to_string(seconds < 1 ? 1 : seconds));
  co_return co_await response.send(429, std::move(headers), std::string_view(bytes));
}

net::Task<Status> handle_config(std::shared_ptr<Context> ctx, net::ServerRequest& request,
                                net::ServerResponse& response) {
  CallInfo info;
  auto key = resolve_api_key(header_key(request), std::nullopt);
  if (!key) {
    log_failure("config", info, key.error());
    co_return co_await services::send_error(response, key.error());
  }
  auto answer = co_await ctx->pool.run([&] { return ctx->bank.config(*key, &info); });
  if (!answer) {
    log_failure("config", info, answer.error());
    co_return co_await services::send_error(response, answer.error());
  }
  spdlog::debug("authbank: config account={} ok", account_text(info));
  co_return co_await services::send_proto(response, 200, answer->response);
}

net::Task<Status> handle_withdraw(std::shared_ptr<Context> ctx, net::ServerRequest& request,
                                  net::ServerResponse& response) {
  CallInfo info;
  pb::AuthWithdrawalRequest message;
  if (auto ok = co_await services::read_proto(request, message, ctx->options.max_body_bytes); !ok) {
    log_failure("withdraw", info, ok.error());
    co_return co_await services::send_error(response, ok.error());
  }
  auto decoded = decode_withdrawal_request(message, header_key(request));
  if (!decoded) {
    log_failure("withdraw", info, decoded.error());
    co_return co_await services::send_error(response, decoded.error());
  }
  auto answer = co_await ctx->pool.run([&] { return ctx->bank.withdraw(*decoded, &info); });
  if (!answer) {
    log_failure("withdraw", info, answer.error());
    co_return co_await services::send_error(response, answer.error());
  }
  spdlog::info("authbank: withdraw account={} amount={} {}", account_text(info), decoded->value.amount(),
               answer->replayed ? "replayed (no debit)" : "ok");
  co_return co_await services::send_proto(response, 200, to_response(*answer));
}

net::Task<Status> handle_attestation(std::shared_ptr<Context> ctx, net::ServerRequest& request,
                                     net::ServerResponse& response) {
  CallInfo info;
  pb::AuthWithdrawalRequest message;
  if (auto ok = co_await services::read_proto(request, message, ctx->options.max_body_bytes); !ok) {
    log_failure("attestation", info, ok.error());
    co_return co_await services::send_error(response, ok.error());
  }
  auto decoded = decode_attestation_request(message, header_key(request));
  if (!decoded) {
    log_failure("attestation", info, decoded.error());
    co_return co_await services::send_error(response, decoded.error());
  }
  auto answer = co_await ctx->pool.run([&] { return ctx->bank.attestation_token(*decoded, &info); });
  if (!answer) {
    log_failure("attestation", info, answer.error());
    // Body-size errors were answered above, so kLimitExceeded here is the rate limit.
    if (answer.error().code == ErrorCode::kLimitExceeded) {
      co_return co_await send_rate_limited(response, answer.error(), info.retry_after);
    }
    co_return co_await services::send_error(response, answer.error());
  }
  spdlog::debug("authbank: attestation account={} ok", account_text(info));
  co_return co_await services::send_proto(response, 200, to_response(*answer));
}

net::Task<Status> handle_refund(std::shared_ptr<Context> ctx, net::ServerRequest& request,
                                net::ServerResponse& response) {
  CallInfo info;
  pb::AuthRefundRequest message;
  if (auto ok = co_await services::read_proto(request, message, ctx->options.max_body_bytes); !ok) {
    log_failure("refund", info, ok.error());
    co_return co_await services::send_error(response, ok.error());
  }
  auto decoded = decode_refund_request(message, header_key(request));
  if (!decoded) {
    log_failure("refund", info, decoded.error());
    co_return co_await services::send_error(response, decoded.error());
  }
  auto answer = co_await ctx->pool.run([&] { return ctx->bank.refund(*decoded, &info); });
  if (!answer) {
    log_failure("refund", info, answer.error());
    co_return co_await services::send_error(response, answer.error());
  }
  spdlog::info("authbank: refund account={} amount={} {}", account_text(info), decoded->credit.value.amount(),
               answer->replayed ? "replayed (no credit)" : "ok");
  net::Headers headers;
  headers.set("Content-Type", services::kProtoMediaType);
  headers.set("Cache-Control", "no-store");
  co_return co_await response.send(200, std::move(headers), std::string_view());
}

net::Task<Status> handle_health(net::ServerRequest&, net::ServerResponse& response) {
  net::Headers headers;
  headers.set("Content-Type", "application/json");
  headers.set("Cache-Control", "no-store");
  co_return co_await response.send(200, std::move(headers), std::string_view(R"({"status":"OK"})"));
}

}  // namespace

services::Routes make_routes(AuthBank& bank, net::BlockingPool& pool, HttpOptions options) {
  auto ctx = std::make_shared<Context>(Context{bank, pool, options});
  services::Routes routes;
  routes.add("GET", "/api/config", [ctx](net::ServerRequest& req, net::ServerResponse& res) {
    return handle_config(ctx, req, res);
  });
  routes.add("POST", "/api/auth", [ctx](net::ServerRequest& req, net::ServerResponse& res) {
    return handle_withdraw(ctx, req, res);
  });
  routes.add("POST", "/api/attestationRequest", [ctx](net::ServerRequest& req, net::ServerResponse& res) {
    return handle_attestation(ctx, req, res);
  });
  routes.add("POST", "/api/refund", [ctx](net::ServerRequest& req, net::ServerResponse& res) {
    return handle_refund(ctx, req, res);
  });
  routes.add("GET", "/_health", handle_health);
  return routes;
}

}  // namespace openpcc::authbank

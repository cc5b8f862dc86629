#include "client/client.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <utility>

#include <nlohmann/json.hpp>

#include "client/ohttp_transport.h"
#include "client/remote_config.h"
#include "client/sealed_request.h"
#include "common/json_parse.h"
#include "currency/credit.h"
#include "services/authbank/authbank_client.h"
#include "services/blindbank/blindbank_client.h"
#include "services/common/proto_http.h"

namespace openpcc::client {
namespace {

// Error bodies (router errors, inner error answers) are short; more is not read.
constexpr size_t kMaxErrorBody = 64 * 1024;
constexpr size_t kMaxShownMessage = 300;

std::string printable(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, kMaxShownMessage)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u >= 0x20 && u != 0x7f) || c == '\t' ? c : '?';
  }
  if (text.size() > kMaxShownMessage) out += "…";
  return out;
}

// "the node answered 400 (ErrModelNotInBadge): model x is not in the badge" from a node's JSON error body, or its
// text.
std::string inner_error_message(int status, ByteSpan body) {
  std::string message = "the node answered " + std::to_string(status);
  auto parsed = parse_json(body);
  const nlohmann::json json = parsed ? std::move(*parsed) : nlohmann::json();
  if (json.is_object()) {
    std::string detail;
    if (auto c = json.find("code"); c != json.end() && c->is_string()) message += " (" + c->get<std::string>() + ")";
    for (const char* key : {"message", "error"}) {
      if (auto m = json.find(key); m != json.end()) {
        if (m->is_string()) {
          detail = m->get<std::string>();
        } else if (m->is_object() && m->contains("message") && (*m)["message"].is_string()) {
          detail = (*m)["message"].get<std::string>();  // OpenAI's {"error": {"message": …}}
        }
        if (!detail.empty()) break;
      }
    }
    if (!detail.empty()) message += ": " + printable(detail);
  } else if (!body.empty()) {
    message += ": " + printable(std::string_view(reinterpret_cast<const char*>(body.data()), body.size()));
  }
  return message;
}

net::Headers to_headers(const wire::bhttp::Fields& fields) {
  net::Headers out;
  for (const auto& f : fields) out.add(f.name, f.value);
  return out;
}

// Reads up to kMaxErrorBody of a router error answer.
net::Task<Bytes> read_error_body(RouterStream& stream) {
  Bytes body;
  while (body.size() < kMaxErrorBody) {
    auto chunk = co_await stream.read_chunk();
    if (!chunk || !*chunk) break;
    body.insert(body.end(), (*chunk)->begin(), (*chunk)->end());
  }
  co_return body;
}

// The OHTTP transport's streamed answer as a RouterStream.
class OhttpRouterStream final : public RouterStream {
 public:
  explicit OhttpRouterStream(std::unique_ptr<OhttpResponseStream> stream) : stream_(std::move(stream)) {}
  int status() const override { return stream_->status(); }
  const net::Headers& headers() const override { return stream_->headers(); }
  net::Task<Result<std::optional<Bytes>>> read_chunk() override { return stream_->read_chunk(); }
  const net::Headers& trailers() const override { return stream_->trailers(); }

 private:
  std::unique_ptr<OhttpResponseStream> stream_;
};

transparency::Timestamp system_now() {
  return std::chrono::time_point_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now());
}

// The OHTTP key the gateway expects now, from the AuthBank's verified bundle; on refresh the AuthBank's config is
// read and verified again (the gateway rotated its keys).
class AuthBankKeys {
 public:
  AuthBankKeys(std::shared_ptr<authbank::AuthBankClient> bank, std::shared_ptr<const TrustPolicy> policy,
               OhttpKeys keys)
      : bank_(std::move(bank)), policy_(std::move(policy)), keys_(std::move(keys)) {}

  net::Task<Result<wire::ohttp::KeyConfig>> get(bool refresh) {
    if (refresh) {
      auto config = co_await bank_->config();
      if (!config) co_return std::unexpected(step_error(Step::kAuth, wrap_error("AuthBank config", config.error())));
      auto keys = verified_ohttp_keys(*config, *policy_->transparency);
      if (!keys) co_return std::unexpected(step_error(Step::kAuth, keys.error()));
      std::lock_guard lock(mu_);
      keys_ = std::move(*keys);
    }
    std::lock_guard lock(mu_);
    auto selected = select_key_config(keys_, system_now());
    if (!selected) co_return std::unexpected(step_error(Step::kAuth, selected.error()));
    co_return std::move(*selected);
  }

 private:
  std::shared_ptr<authbank::AuthBankClient> bank_;
  std::shared_ptr<const TrustPolicy> policy_;
  std::mutex mu_;
  OhttpKeys keys_;
};

Error config_error(Error e) { return step_error(Step::kConfig, std::move(e)); }
Error auth_error(std::string_view context, Error e) { return step_error(Step::kAuth, wrap_error(context, std::move(e))); }

}  // namespace

// ---- Response ------------------------------------------------------------------------------------------------------

struct Response::Parts {
  std::unique_ptr<RouterStream> stream;
  InnerResponseReader reader;
  wallet::Payment payment;
  std::shared_ptr<const VerifiedNode> node;
};

Response::Response(Parts parts)
    : stream_(std::move(parts.stream)),
      reader_(std::move(parts.reader)),
      payment_(std::move(parts.payment)),
      node_(std::move(parts.node)) {
  credit_value_ = payment_->credit().value.amount();
}

Response::~Response() = default;

net::Task<void> Response::settle(bool stream_completed) {
  if (!payment_) co_return;
  wallet::Payment payment = std::move(*payment_);
  payment_.reset();
  if (!stream_completed) {
    refund_ = 0;
    if (auto ok = co_await payment.cancel(); !ok) spdlog::warn("client: cancelling the payment: {}", ok.error().message);
    co_return;
  }
  std::optional<currency::Credit> refund;
  if (auto header = stream_->trailers().get(currency::kRefundHeader)) {
    auto credit = currency::Credit::from_header(*header);
    if (credit) {
      refund = std::move(*credit);
    } else {
      spdlog::warn("client: the router's X-Refund trailer does not parse: {}", credit.error().message);
    }
  }
  refund_ = refund ? refund->value.amount() : 0;
  auto ok = co_await payment.success(std::move(refund));
  if (!ok) {
    spdlog::warn("client: settling the payment: {}", ok.error().message);
    if (ok.error().code == ErrorCode::kInvalidArgument || ok.error().code == ErrorCode::kAuthenticationFailed) {
      refund_ = 0;  // the wallet refused the refund credit
    }
  }
}

Status Response::fail(Error error) {
  if (!error_) error_ = std::move(error);
  return std::unexpected(*error_);
}

net::Task<Status> Response::pump() {
  if (error_) co_return std::unexpected(*error_);
  // Until there is something to hand out: the head first, then body bytes.
  while (!stream_ended_ && !(reader_->head() && (status_ == 0 || reader_->has_body()))) {
    auto chunk = co_await stream_->read_chunk();
    if (!chunk) {
      co_await settle(false);
      co_return fail(step_error(Step::kRouting, wrap_error("the answer's stream broke", chunk.error())));
    }
    if (!*chunk) {
      stream_ended_ = true;
      Status done = reader_->finish();
      co_await settle(true);
      if (!done) co_return fail(step_error(Step::kNode, wrap_error("the node's answer", done.error())));
      break;
    }
    if (auto ok = reader_->feed(**chunk); !ok) {
      co_await settle(false);
      co_return fail(step_error(Step::kNode, wrap_error("the node's answer", ok.error())));
    }
  }
  if (status_ == 0 && reader_->head()) {
    status_ = reader_->head()->status;
    headers_ = to_headers(reader_->head()->headers);
  }
  co_return Status{};
}

net::Task<Result<std::optional<Bytes>>> Response::read_chunk() {
  if (error_) co_return std::unexpected(*error_);
  if (ended_) co_return std::nullopt;
  if (auto ok = co_await pump(); !ok) co_return std::unexpected(ok.error());
  if (reader_->has_body()) co_return reader_->take_body();
  ended_ = true;
  co_return std::nullopt;
}

net::Task<Result<Bytes>> Response::read_all(size_t max_bytes) {
  Bytes all;
  for (;;) {
    auto piece = co_await read_chunk();
    if (!piece) co_return std::unexpected(std::move(piece.error()));
    if (!*piece) break;
    if (all.size() + (*piece)->size() > max_bytes) {
      co_return make_step_error(Step::kNode, ErrorCode::kLimitExceeded,
                                "the answer exceeds " + std::to_string(max_bytes) + " bytes");
    }
    all.insert(all.end(), (*piece)->begin(), (*piece)->end());
  }
  co_return all;
}

net::Task<Status> Response::finish() {
  for (;;) {
    auto piece = co_await read_chunk();
    if (!piece) co_return std::unexpected(std::move(piece.error()));
    if (!*piece) co_return Status{};
  }
}

// ---- Client --------------------------------------------------------------------------------------------------------

Client::Client(ClientConfig config, ClientParts parts) : config_(std::move(config)), parts_(std::move(parts)) {
  NodeFinderOptions options;
  options.cache_ttl = config_.node_cache_ttl;
  finder_ = std::make_unique<NodeFinder>(parts_.router, parts_.attestation_tokens, parts_.trust_policy, options);
}

Client::~Client() = default;

Result<std::unique_ptr<Client>> Client::create(ClientConfig config, ClientParts parts) {
  if (!parts.router || !parts.router_streaming || !parts.attestation_tokens || !parts.trust_policy || !parts.wallet) {
    return make_step_error(Step::kConfig, ErrorCode::kInvalidArgument, "every client part is required");
  }
  if (config.max_candidates < 1 || config.max_candidates > kMaxCandidatesLimit) {
    return make_step_error(Step::kConfig, ErrorCode::kInvalidArgument, "max_candidates must be 1..16");
  }
  return std::unique_ptr<Client>(new Client(std::move(config), std::move(parts)));
}

Result<std::unique_ptr<Client>> Client::create(net::Runtime& runtime, ClientConfig config) {
  if (auto ok = validate(config); !ok) return std::unexpected(config_error(ok.error()));
  auto loaded = load_trust_policy(config.trust_policy);
  if (!loaded) return std::unexpected(config_error(wrap_error("trust policy", loaded.error())));
  if (!loaded->transparency) {
    return make_step_error(Step::kConfig, ErrorCode::kInvalidArgument,
                           "trust policy " + config.trust_policy.string() +
                               " has no \"transparency\" section; it verifies the AuthBank's signed keys");
  }
  auto policy = std::make_shared<const TrustPolicy>(std::move(*loaded));

  // The AuthBank: identified, TLS (a dev stack's self-signed certificate through ca_file).
  net::ClientOptions tls_options;
  tls_options.ca_file = config.ca_file.string();
  auto tls = net::Client::create(tls_options);
  if (!tls) return std::unexpected(config_error(wrap_error("ca_file", tls.error())));
  const services::HttpTransport direct = services::direct_transport(*tls);
  auto bank = std::make_shared<authbank::AuthBankClient>(direct, config.authbank_url, config.api_key);
  auto remote = runtime.block_on([&]() -> net::Task<Result<pb::AuthConfigResponse>> { co_return co_await bank->config(); });
  if (!remote) return std::unexpected(auth_error("AuthBank config", remote.error()));
  auto currency_key = verified_currency_key(*remote, *policy->transparency);
  if (!currency_key) return std::unexpected(step_error(Step::kAuth, currency_key.error()));
  auto ohttp_keys = verified_ohttp_keys(*remote, *policy->transparency);
  if (!ohttp_keys) return std::unexpected(step_error(Step::kAuth, ohttp_keys.error()));
  if (auto now_key = select_key_config(*ohttp_keys, system_now()); !now_key) {
    return std::unexpected(step_error(Step::kAuth, now_key.error()));
  }
  std::string relay_url = config.relay_url;
  if (relay_url.empty()) {
    if (remote->relays_size() == 0 || remote->relays(0).url().empty()) {
      return make_step_error(Step::kAuth, ErrorCode::kNotFound,
                             "the AuthBank's config names no relay (set relay_url in the client config)");
    }
    relay_url = remote->relays(0).url();
  }

  // The relay: anonymous; its answers stream for as long as a node generates.
  net::ClientOptions relay_options;
  relay_options.read_timeout = config.request_timeout;
  // Unbounded: a long generation streams for as long as the node produces it (request_timeout bounds each read).
  relay_options.max_response_body_bytes = std::nullopt;
  auto relay_client = net::Client::create(relay_options);
  if (!relay_client) return std::unexpected(config_error(wrap_error("relay client", relay_client.error())));
  auto keys = std::make_shared<AuthBankKeys>(bank, policy, std::move(*ohttp_keys));
  KeySource key_source = [keys](bool refresh) { return keys->get(refresh); };
  auto ohttp = std::make_shared<OhttpTransport>(*relay_client, relay_url, std::move(key_source));

  wallet::WalletBanks banks{authbank::AuthBankClient(direct, config.authbank_url, config.api_key),
                            blindbank::BlindBankClient(ohttp->transport(), std::string(kBankBaseUrl)), *currency_key};
  auto wallet = wallet::Wallet::open(runtime, config.wallet, std::move(banks));
  if (!wallet) return std::unexpected(config_error(wrap_error("wallet " + config.wallet.state_file.string(),
                                                              wallet.error())));

  ClientParts parts;
  parts.router = ohttp->transport();
  parts.router_streaming = [ohttp](net::ClientRequest request) -> net::Task<Result<std::unique_ptr<RouterStream>>> {
    auto stream = co_await ohttp->send_streaming(std::move(request));
    if (!stream) co_return std::unexpected(std::move(stream.error()));
    co_return std::make_unique<OhttpRouterStream>(std::move(*stream));
  };
  parts.attestation_tokens = authbank_attestation_tokens(direct, config.authbank_url, config.api_key, *currency_key);
  parts.trust_policy = policy;
  parts.wallet = std::move(*wallet);
  parts.keep_alive = ohttp;
  return create(std::move(config), std::move(parts));
}

int64_t Client::amount_for(const Request& request) const {
  if (request.credit_amount) return *request.credit_amount;
  return config_.credit_amount > 0 ? config_.credit_amount : config_.wallet.prefetch_amount;
}

net::Task<Status> Client::close() { co_return co_await parts_.wallet->close(); }

net::Task<Result<std::unique_ptr<Response>>> Client::request(Request request) {
  auto tags = request_tags(request, config_.default_tags);
  if (!tags) co_return std::unexpected(std::move(tags.error()));
  const int64_t amount = amount_for(request);
  if (amount <= 0) {
    co_return make_step_error(Step::kRequest, ErrorCode::kInvalidArgument, "the credit amount must be positive");
  }

  auto nodes = co_await finder_->find(std::move(*tags), config_.max_candidates);
  if (!nodes) co_return std::unexpected(step_error(Step::kNoVerifiedNode, std::move(nodes.error())));

  auto payment = co_await parts_.wallet->begin_payment(amount);
  if (!payment) co_return std::unexpected(step_error(Step::kPayment, std::move(payment.error())));

  // From here on every way out settles the payment. Failures before the router saw the credit cancel it (the
  // wallet exchanges it before reuse, which is harmless).
  std::optional<Error> prepare_error;
  std::optional<SealedRequest> sealed;
  if (auto badge = parts_.wallet->badge(); !badge) {
    prepare_error = Error{ErrorCode::kUnauthenticated,
                          "auth: the AuthBank issued no badge (does the account list any models?)"};
  } else if (auto inner = build_inner_request(request, *badge); !inner) {
    prepare_error = inner.error();
  } else if (auto bhttp = encode_inner_request(*inner); !bhttp) {
    prepare_error = bhttp.error();
  } else {
    std::vector<Candidate> candidates;
    for (const auto& node : *nodes) candidates.push_back(Candidate{node->id, node->rek});
    auto s = seal_compute_request(*bhttp, candidates);
    if (!s) {
      prepare_error = s.error();
    } else {
      sealed.emplace(std::move(*s));
    }
  }
  if (prepare_error) {
    if (auto ok = co_await payment->cancel(); !ok) spdlog::warn("client: cancelling the payment: {}", ok.error().message);
    co_return std::unexpected(std::move(*prepare_error));
  }

  net::ClientRequest outer("POST", std::string(kRouterBaseUrl) + std::string(kComputePath), std::move(sealed->body));
  outer.headers.set("Content-Type", sealed->media_type);
  outer.headers.set(kRoutingInfoHeader, sealed->routing_info_header());
  outer.headers.set(currency::kCreditHeader, payment->credit().to_header());
  auto stream = co_await parts_.router_streaming(std::move(outer));
  if (!stream) {
    if (auto ok = co_await payment->cancel(); !ok) spdlog::warn("client: cancelling the payment: {}", ok.error().message);
    co_return std::unexpected(step_error(Step::kRouting, wrap_error("sending to the router", stream.error())));
  }
  RouterStream& router = **stream;
  if (router.status() != 200) {
    const int status = router.status();
    Bytes body = co_await read_error_body(router);
    if (auto ok = co_await payment->cancel(); !ok) spdlog::warn("client: cancelling the payment: {}", ok.error().message);
    if (status == 503) finder_->invalidate();  // none of the cached candidates is routable now
    co_return make_step_error(Step::kRouting, status == 503 ? ErrorCode::kUnavailable : ErrorCode::kInvalidArgument,
                              "the router answered " + std::to_string(status) + ": " +
                                  printable(services::error_message_from_body(body)));
  }

  const std::string node_id(router.headers().get(kNodeIdHeader).value_or(""));
  const wire::ResponseSecrets* secrets = sealed->secrets_for(node_id);
  std::shared_ptr<const VerifiedNode> node;
  for (const auto& n : *nodes) {
    if (n->id == node_id) node = n;
  }
  std::optional<Error> answer_error;
  std::optional<InnerResponseReader> reader;
  if (!secrets || !node) {
    answer_error = Error{ErrorCode::kDecode, "node: the router named node \"" + printable(node_id) +
                                                 "\", which was not a candidate"};
  } else {
    auto r = InnerResponseReader::create(*secrets, router.headers().get("Content-Type").value_or(""));
    if (!r) {
      answer_error = step_error(Step::kNode, r.error());
    } else {
      reader.emplace(std::move(*r));
    }
  }
  if (answer_error) {
    // The router has forwarded the request; dropping the stream makes it commit. Cancelling lets the wallet find
    // out by exchange whether the credit is gone.
    if (auto ok = co_await payment->cancel(); !ok) spdlog::warn("client: cancelling the payment: {}", ok.error().message);
    co_return std::unexpected(std::move(*answer_error));
  }

  Response::Parts parts{std::move(*stream), std::move(*reader), std::move(*payment), std::move(node)};
  std::unique_ptr<Response> response(new Response(std::move(parts)));
  if (auto ok = co_await response->pump(); !ok) co_return std::unexpected(ok.error());
  if (response->status() == 0) {
    co_return make_step_error(Step::kNode, ErrorCode::kTruncated, "the node's answer has no response head");
  }
  if (!request.raw_status && response->status() >= 400) {
    const int status = response->status();
    auto body = co_await response->read_all(kMaxErrorBody);
    co_return make_step_error(Step::kEngine, status >= 500 ? ErrorCode::kUnavailable : ErrorCode::kInvalidArgument,
                              inner_error_message(status, body ? ByteSpan(*body) : ByteSpan()));
  }
  co_return response;
}

}  // namespace openpcc::client

#include "client/node_finder.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>
#include <utility>

#include "client/request_step.h"
#include "common/random.h"
#include "crypto/hpke.h"
#include "currency/credit_request.h"
#include "currency/value.h"
#include "openpcc/router.pb.h"
#include "services/authbank/authbank_client.h"
#include "services/common/proto_http.h"

namespace openpcc::client {
namespace {

// The router answers at most 500 manifests; each carries a few KiB of evidence.
constexpr int32_t kMaxManifestLimit = 500;

template <class T>
void shuffle(std::vector<T>& items) {
  for (size_t i = items.size(); i > 1; --i) {
    const size_t j = static_cast<size_t>(random_uniform(i));
    std::swap(items[i - 1], items[j]);
  }
}

// Sorted and without repeats: the cache key and what the router is asked for.
std::vector<std::string> canonical_tags(std::vector<std::string> tags) {
  std::sort(tags.begin(), tags.end());
  tags.erase(std::unique(tags.begin(), tags.end()), tags.end());
  return tags;
}

std::string cache_key(const std::vector<std::string>& tags) {
  std::string key;
  for (const auto& t : tags) {
    key += std::to_string(t.size());
    key += ':';
    key += t;
  }
  return key;
}

std::string describe_tags(const std::vector<std::string>& tags) {
  std::string out = "[";
  for (size_t i = 0; i < tags.size(); ++i) out += (i ? ", " : "") + tags[i];
  return out + "]";
}

std::string failure_summary(const attest::VerificationReport& report) {
  const attest::Check* failure = report.first_failure();
  if (!failure) return "no checks";
  std::string text = failure->name;
  if (!failure->detail.empty()) text += ": " + failure->detail;
  return text;
}

}  // namespace

AttestationTokenSource authbank_attestation_tokens(services::HttpTransport transport, std::string authbank_url,
                                                   std::string api_key, crypto::RsaPublicKey currency_key,
                                                   std::function<int64_t()> clock_s) {
  auto bank = std::make_shared<authbank::AuthBankClient>(std::move(transport), std::move(authbank_url),
                                                         std::move(api_key));
  auto key = std::make_shared<const crypto::RsaPublicKey>(std::move(currency_key));
  if (!clock_s) clock_s = [] { return static_cast<int64_t>(std::time(nullptr)); };
  return [bank, key, clock_s]() -> net::Task<Result<currency::Credit>> {
    auto pending =
        currency::begin_credit(*key, currency::attestation_value(), clock_s(), currency::random_unit_double());
    if (!pending) co_return std::unexpected(step_error(Step::kAuth, wrap_error("attestation token", pending.error())));
    auto signed_token = co_await bank->attestation_token(pending->blinded_message());
    if (!signed_token) {
      co_return std::unexpected(step_error(Step::kAuth, wrap_error("attestation token", signed_token.error())));
    }
    auto token = pending->finish(signed_token->blind_signature);
    if (!token) co_return std::unexpected(step_error(Step::kAuth, wrap_error("attestation token", token.error())));
    // A nonce dated into the next hour must not be shown before its ready time (currency/credit_request.h).
    const auto wait = pending->wait_from(clock_s());
    if (wait.count() > 0) co_await net::sleep_for(std::chrono::duration_cast<std::chrono::milliseconds>(wait));
    co_return std::move(*token);
  };
}

NodeFinder::NodeFinder(services::HttpTransport router, AttestationTokenSource tokens,
                       std::shared_ptr<const TrustPolicy> policy, NodeFinderOptions options)
    : router_(std::move(router)), tokens_(std::move(tokens)), policy_(std::move(policy)), options_(std::move(options)) {
  options_.manifest_limit = std::clamp(options_.manifest_limit, int32_t{1}, kMaxManifestLimit);
  if (options_.max_cache_entries == 0) options_.max_cache_entries = 1;
}

std::chrono::steady_clock::time_point NodeFinder::now() const {
  return options_.clock ? options_.clock() : std::chrono::steady_clock::now();
}

void NodeFinder::invalidate() {
  std::lock_guard lock(mu_);
  cache_.clear();
}

size_t NodeFinder::router_lookups() const {
  std::lock_guard lock(mu_);
  return lookups_;
}

net::Task<Result<std::vector<std::shared_ptr<const VerifiedNode>>>> NodeFinder::find(std::vector<std::string> tags,
                                                                                    size_t max) {
  if (max == 0) co_return make_step_error(Step::kRequest, ErrorCode::kInvalidArgument, "asked for zero nodes");
  tags = canonical_tags(std::move(tags));
  const std::string key = cache_key(tags);
  NodeList nodes;
  bool cached = false;
  {
    std::lock_guard lock(mu_);
    auto it = cache_.find(key);
    if (it != cache_.end()) {
      if (it->second.expires > now()) {
        nodes = it->second.nodes;
        cached = true;
      } else {
        cache_.erase(it);
      }
    }
  }
  if (!cached) {
    auto fresh = co_await ask_router(tags);
    if (!fresh) co_return std::unexpected(std::move(fresh.error()));
    nodes = std::move(*fresh);
    if (options_.cache_ttl.count() > 0) {
      std::lock_guard lock(mu_);
      const auto t = now();
      cache_[key] = Entry{nodes, t + options_.cache_ttl, t};
      while (cache_.size() > options_.max_cache_entries) {
        auto oldest = std::min_element(cache_.begin(), cache_.end(),
                                       [](const auto& a, const auto& b) { return a.second.added < b.second.added; });
        cache_.erase(oldest);
      }
    }
  }
  shuffle(nodes);
  if (nodes.size() > max) nodes.resize(max);
  co_return nodes;
}

net::Task<Result<NodeFinder::NodeList>> NodeFinder::ask_router(std::vector<std::string> tags) {
  {
    std::lock_guard lock(mu_);
    ++lookups_;
  }
  auto token = co_await tokens_();
  if (!token) co_return std::unexpected(step_error(Step::kAuth, std::move(token.error())));

  pb::ComputeManifestRequest query;
  for (const auto& t : tags) query.add_tags(t);
  query.set_limit(options_.manifest_limit);
  net::ClientRequest request("POST", std::string(kRouterBaseUrl) + std::string(kComputeManifestsPath),
                             to_bytes(query.SerializeAsString()));
  request.headers.set("Content-Type", services::kProtoMediaType);
  request.headers.set(currency::kCreditHeader, token->to_header());
  auto response = co_await router_(std::move(request));
  if (!response) {
    co_return std::unexpected(step_error(Step::kRouting, wrap_error("compute manifests", response.error())));
  }
  if (response->status != 200) {
    co_return make_step_error(Step::kRouting, ErrorCode::kUnavailable,
                              "compute manifests: the router answered " + std::to_string(response->status) + ": " +
                                  services::error_message_from_body(response->body));
  }
  pb::ComputeManifestList list;
  if (!list.ParseFromArray(response->body.data(), static_cast<int>(response->body.size()))) {
    co_return make_step_error(Step::kRouting, ErrorCode::kDecode,
                              "compute manifests: the router's answer is not a ComputeManifestList");
  }

  auto kem = crypto::Kem::create(crypto::KemId::kDhkemP256HkdfSha256);
  if (!kem) co_return std::unexpected(step_error(Step::kNoVerifiedNode, kem.error()));
  NodeList verified;
  std::string first_refusal;
  for (const auto& manifest : list.items()) {
    const std::string id = manifest.id();
    auto report = verify_node(manifest.evidence(), *policy_);
    if (!report.ok() || !report.node) {
      const std::string why = failure_summary(report);
      spdlog::warn("client: node {} refused: {}", id, why);
      if (first_refusal.empty()) first_refusal = "node " + id + ": " + why;
      continue;
    }
    auto rek = kem->deserialize_public_key(report.node->rek_public_key);
    if (!rek || id.empty()) {
      spdlog::warn("client: node {} refused: unusable REK or id", id);
      if (first_refusal.empty()) first_refusal = "node " + id + ": unusable REK or id";
      continue;
    }
    auto node = std::make_shared<VerifiedNode>(VerifiedNode{id, {}, std::move(*rek), std::move(report)});
    node->tags.assign(manifest.tags().begin(), manifest.tags().end());
    verified.push_back(std::move(node));
  }
  if (verified.empty()) {
    std::string message = "the router listed " + std::to_string(list.items_size()) + " node(s) for tags " +
                          describe_tags(tags);
    if (!first_refusal.empty()) message += "; none passed the trust policy (" + first_refusal + ")";
    co_return make_step_error(Step::kNoVerifiedNode, ErrorCode::kNotFound, std::move(message));
  }
  co_return verified;
}

}  // namespace openpcc::client

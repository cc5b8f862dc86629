// Finding compute nodes the client may send a prompt to: ask the router (through the OHTTP transport, paying with an
// attestation token) for the manifests of nodes with the wanted tags, verify each node's evidence under the trust
// policy, and keep the verified ones for a while.
//
//   NodeFinder finder(ohttp.transport(), authbank_attestation_tokens(direct, authbank_url, api_key, currency_key),
//                     policy, {.cache_ttl = 60s});
//   auto nodes = co_await finder.find({"llm", "model=llama3"}, 3);     // ≤ 3 verified nodes, random order
//   ... the router says they are all gone → finder.invalidate();
//
// Per lookup: one attestation token (an AuthBank credit of the special value 0, blind-signed, so the router cannot
// tell who asks), then POST http://confsec-router.invalid/compute-manifests with X-Credit: the token and body
// ComputeManifestRequest{tags, limit}; the answer is a ComputeManifestList. A node whose evidence fails the policy
// is logged (its id and first failed check) and skipped; the VerificationReport of every verified node is kept for
// whoever wants to show it (the CLI's summary).
//
// The cache is per tag set (order and repeats do not matter), entries live cache_ttl, and every find() returns the
// cached nodes in a new order drawn from the OS CSPRNG (so load spreads and repeated requests do not always offer
// the same node first). Thread-safe; find() may run on several strands at once (two misses for the same tags may
// both ask the router).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "attest/verify.h"
#include "client/trust/trust_policy.h"
#include "common/error.h"
#include "crypto/kem.h"
#include "crypto/rsa_blind.h"
#include "currency/credit.h"
#include "net/runtime.h"
#include "services/common/http_transport.h"

namespace openpcc::client {

// The router as the client addresses it inside OHTTP (the gateway forwards this host to its router).
inline constexpr std::string_view kRouterBaseUrl = "http://confsec-router.invalid";
inline constexpr std::string_view kComputeManifestsPath = "/compute-manifests";

// A node whose evidence passed the trust policy.
struct VerifiedNode {
  std::string id;
  std::vector<std::string> tags;
  crypto::KemPublicKey rek;              // from the verified evidence
  attest::VerificationReport report;     // every check, and report.node (TEE kind, image id, model digest, …)
};

// A fresh attestation token (an unspent credit of value special(0)) per call.
using AttestationTokenSource = std::function<net::Task<Result<currency::Credit>>()>;

// Tokens from the AuthBank's /api/attestationRequest: blind a fresh nonce for special(0) under `currency_key`, have
// the AuthBank sign it (identified by the API key: the AuthBank sees that this account looks for nodes, not what it
// will ask), unblind and verify, and wait out the nonce's ready time (currency/credit_request.h; at most ~30 s just
// after the hour turns). Errors start with "auth: ". `clock_s` (Unix seconds) dates the nonce; default: the system
// clock (tests that move time pass theirs).
AttestationTokenSource authbank_attestation_tokens(services::HttpTransport transport, std::string authbank_url,
                                                   std::string api_key, crypto::RsaPublicKey currency_key,
                                                   std::function<int64_t()> clock_s = {});

struct NodeFinderOptions {
  std::chrono::milliseconds cache_ttl{60'000};  // 0 = ask the router every time
  size_t max_cache_entries = 100;                // tag sets kept; the oldest goes first
  int32_t manifest_limit = 16;                   // manifests asked for per lookup (1..500)
  // Monotonic time for the cache; default std::chrono::steady_clock.
  std::function<std::chrono::steady_clock::time_point()> clock;
};

class NodeFinder {
 public:
  // `router`: a whole-message transport that reaches kRouterBaseUrl (OhttpTransport::transport(), or a direct
  // transport whose URLs the caller rewrites — tests). `policy` is shared with the caller and must not change.
  NodeFinder(services::HttpTransport router, AttestationTokenSource tokens, std::shared_ptr<const TrustPolicy> policy,
             NodeFinderOptions options = {});

  // At most `max` verified nodes carrying every tag in `tags`, in random order; at least one, or an error:
  //   "no verified node: …" (kNotFound) when the router lists none or none verifies (the message says how many
  //   were listed and why the first was refused), "routing: …" when the router cannot be asked or answers
  //   something other than 200, "auth: …" when no attestation token can be had.
  net::Task<Result<std::vector<std::shared_ptr<const VerifiedNode>>>> find(std::vector<std::string> tags,
                                                                          size_t max);

  // Forgets every cached node (after the router said that none of them is available, say).
  void invalidate();

  // Lookups that went to the router (for tests and metrics).
  size_t router_lookups() const;

 private:
  using NodeList = std::vector<std::shared_ptr<const VerifiedNode>>;
  struct Entry {
    NodeList nodes;
    std::chrono::steady_clock::time_point expires;
    std::chrono::steady_clock::time_point added;
  };

  net::Task<Result<NodeList>> ask_router(std::vector<std::string> tags);
  std::chrono::steady_clock::time_point now() const;

  services::HttpTransport router_;
  AttestationTokenSource tokens_;
  std::shared_ptr<const TrustPolicy> policy_;
  NodeFinderOptions options_;
  mutable std::mutex mu_;
  std::map<std::string, Entry, std::less<>> cache_;
  size_t lookups_ = 0;
};

}  // namespace openpcc::client

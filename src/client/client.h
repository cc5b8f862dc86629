// The client SDK: private inference requests to attested compute nodes, paid with anonymous credits.
//
//   auto config = client::load_client_config("client.json");
//   net::Runtime runtime(2);
//   auto c = client::Client::create(runtime, *config);               // blocking; NOT on a runtime thread
//   runtime.block_on([&]() -> net::Task<void> {
//     client::Request r;
//     r.path = "/v1/chat/completions";
//     r.body = to_bytes(R"({"model":"llama3","messages":[{"role":"user","content":"Hi"}],"stream":true})");
//     auto response = co_await (*c)->request(std::move(r));        // error: "<step>: …" (request_step.h)
//     while (auto piece = co_await (*response)->read_chunk()) {    // SSE bytes as the node produces them
//       if (!*piece) break; ...
//     }
//     co_await (*c)->close();                                       // leftover credits back to the AuthBank
//   });
//
// Start-up (create): the AuthBank's config (identified, TLS) → its currency-key and OHTTP-key bundles verified
// under the trust policy's transparency keys (remote_config.h) → the relay (config relay_url, else the AuthBank's
// relays[0]) → the OHTTP transport (ohttp_transport.h; on a key error it re-reads the AuthBank config once) → the
// wallet (AuthBank direct, BlindBank over OHTTP at http://confsec-bank.invalid) → the node finder.
//
// Per request (request):
//  1. tags: request.tags or the default tags, plus model=<m> for the four prompt paths (request.h);
//  2. up to max_candidates verified nodes (node_finder.h; cached per tag set), THEN one credit from the wallet —
//     sequential on purpose: a credit taken before we know that a node exists would have to be cancelled, which
//     costs an exchange at the BlindBank; with prefetched credits begin_payment does not wait anyway;
//  3. the inner request (Host confsec.invalid, X-Confsec-Badge, Content-Type, Content-Length) in the 514-byte BHTTP
//     profile, encrypted once and its key wrapped to each candidate (sealed_request.h);
//  4. POST http://confsec-router.invalid/ (Content-Type application/confsec-chunked-req, X-Routing-Info, X-Credit)
//     through the streaming OHTTP transport;
//  5. the router's head: a status other than 200 is a "routing: " error (credit cancelled; a 503 also forgets the
//     cached nodes); X-Node-ID picks the candidate whose response secrets decrypt the answer;
//  6. the answer is decrypted and BHTTP-decoded piece by piece (inner_response_reader.h): request() returns once
//     the inner head is there, read_chunk() hands out body bytes as they arrive;
//  7. at the end of the router's stream its X-Refund trailer (an unblinded credit) → payment.success(refund); a
//     stream that breaks before its end → payment.cancel() (the wallet then finds out, by exchanging the credit,
//     whether the router spent it).
//
// Errors name their step (request_step.h). An inner status ≥ 400 is an "engine: " error unless request.raw_status.
//
// Threads: create() blocks (AuthBank config, wallet state file) and must run outside the runtime's threads; so must
// the destructor (it closes the wallet's state file). request(), Response's coroutines and close() run on the
// runtime (any strand), concurrently if wanted. Destroy every Response and the Client before the runtime.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "attest/verify.h"
#include "client/client_config.h"
#include "client/inner_response_reader.h"
#include "client/node_finder.h"
#include "client/request.h"
#include "client/request_step.h"
#include "client/router_transport.h"
#include "client/trust/trust_policy.h"
#include "client/wallet/wallet.h"
#include "common/error.h"
#include "net/headers.h"
#include "net/runtime.h"

namespace openpcc::client {

// The host of the BlindBank inside OHTTP (the gateway forwards it to its bank).
inline constexpr std::string_view kBankBaseUrl = "http://confsec-bank.invalid";
inline constexpr std::string_view kComputePath = "/";

// An answer from a compute node, streaming.
class Response {
 public:
  ~Response();
  Response(const Response&) = delete;
  Response& operator=(const Response&) = delete;

  // The inner (node's) status and header fields.
  int status() const { return status_; }
  const net::Headers& headers() const { return headers_; }

  // The next piece of the body as the node sealed it, or std::nullopt at its end (the payment is settled then).
  // Errors: "node: …" (the answer does not decrypt or decode, or was cut short), "routing: …" (the stream from the
  // relay broke). After an error or the end, every call returns the same.
  net::Task<Result<std::optional<Bytes>>> read_chunk();
  // The rest of the body (at most max_bytes: kLimitExceeded beyond).
  net::Task<Result<Bytes>> read_all(size_t max_bytes = size_t{64} << 20);
  // Reads and drops whatever is left, so that the payment is settled with the router's refund. A Response dropped
  // before its end settles as "maybe spent" (the wallet sorts it out by exchanging the credit).
  net::Task<Status> finish();

  // The node that answered, with its verification report (checks, TEE kind, image id, model digest).
  const VerifiedNode& node() const { return *node_; }
  // What the request paid: the credit's value.
  int64_t credit_value() const { return credit_value_; }
  // Once ended (read_chunk returned std::nullopt): the refund the router returned (0 = none). Unset before.
  std::optional<int64_t> refund() const { return refund_; }
  bool ended() const { return ended_; }

 private:
  friend class Client;
  struct Parts;
  explicit Response(Parts parts);

  // Reads router pieces until the reader has a head or body bytes, or the stream ends.
  net::Task<Status> pump();
  // Settles the payment: with the router's refund when its stream ended, else cancelled.
  net::Task<void> settle(bool stream_completed);
  Status fail(Error error);

  std::unique_ptr<RouterStream> stream_;
  std::optional<InnerResponseReader> reader_;
  std::optional<wallet::Payment> payment_;
  std::shared_ptr<const VerifiedNode> node_;
  int64_t credit_value_ = 0;
  int status_ = 0;
  net::Headers headers_;
  bool stream_ended_ = false;
  bool ended_ = false;
  std::optional<int64_t> refund_;
  std::optional<Error> error_;
};

// What create() builds from a config; tests and embedders may assemble their own (e.g. a router reached directly).
struct ClientParts {
  services::HttpTransport router;           // whole messages to kRouterBaseUrl
  StreamingTransport router_streaming;      // compute requests to kRouterBaseUrl
  AttestationTokenSource attestation_tokens;
  std::shared_ptr<const TrustPolicy> trust_policy;
  std::unique_ptr<wallet::Wallet> wallet;
  // Kept alive as long as the client (e.g. the OHTTP transport the functions above use).
  std::shared_ptr<void> keep_alive;
};

class Client {
 public:
  // The whole start-up above. Blocking; call outside `runtime`'s threads. Errors: "config: …" (the config, the
  // trust policy without a "transparency" section, the CA file, the wallet's state file), "auth: …" (AuthBank
  // unreachable or refusing the API key, bundles that do not verify, no relay, no usable OHTTP key).
  static Result<std::unique_ptr<Client>> create(net::Runtime& runtime, ClientConfig config);
  // From parts (config supplies default_tags, max_candidates, credit_amount, node_cache_ttl).
  static Result<std::unique_ptr<Client>> create(ClientConfig config, ClientParts parts);

  // Closes nothing: call close() first to return the wallet's credits; otherwise they stay in its state file.
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  net::Task<Result<std::unique_ptr<Response>>> request(Request request);

  // Returns everything the wallet holds to the AuthBank (wallet::Wallet::close).
  net::Task<Status> close();

  const ClientConfig& config() const { return config_; }
  wallet::Wallet& wallet() { return *parts_.wallet; }
  NodeFinder& node_finder() { return *finder_; }

 private:
  Client(ClientConfig config, ClientParts parts);
  int64_t amount_for(const Request& request) const;

  ClientConfig config_;
  ClientParts parts_;
  std::unique_ptr<NodeFinder> finder_;
};

}  // namespace openpcc::client

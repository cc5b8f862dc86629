// The compute node's HTTP handler: the reference's router_com and compute_worker in one process.
//
//   any request with X-Confsec-Ping: routercom   → 200 "routercom"
//   GET  /_health                                 → {"status":"OK"} with X-Node-ID: <node_id> (the router checks
//                                                   it, beyond the reference), or 503 once the TPM refuses the REK
//   GET  /metrics                                 → Prometheus text (no request data)
//   POST <any path>                               → one compute request:
//
//   1. Router headers: Content-Type application/confsec-req or application/confsec-chunked-req, X-Encapsulated-Key
//      (standard base64, 1..512 characters), X-Credit-Amount (decimal, 1 .. currency::kMaxAmount). Else 400 with
//      an Error proto, before any work.
//   2. RequestReceiver::unwrap_key with the node's REK: the one TPM operation (TPM2_ECDH_ZGen under the PCR
//      policy), run on the blocking pool. Failure → 400 "failed to decapsulate encrypted request"; a TPM that
//      refuses the REK because the PCRs moved (tpm::kRekPolicyError) → 503 (the router tries another node) and the
//      node reports itself unhealthy from then on.
//   3. The body is decrypted and BHTTP-decoded as it arrives (inner_request.h); unreadable → 400 as in 2.
//   4. RequestValidator (request_validator.h). Refused → an encrypted inner JSON error (404/400), full refund; so is
//      a prompt path the engine kind does not serve (404 ErrUnsupportedEndpoint: no translation between APIs).
//   5. The engine (engine/engine.h). Unreachable or broken before its head → an encrypted inner 502 JSON error,
//      full refund. Otherwise its status and Content-Type open the inner BHTTP response, and every piece of its
//      body is padded to a multiple of response_padding_block inside its own syntax (response_padding.h: SSE
//      comments, JSON whitespace; the sealed sizes then no longer show each token's length), BHTTP-encoded, sealed
//      and written at once (complete events are never held back: tokens stream end to end). Usage is counted on
//      the engine's bytes before padding.
//   6. Outer response: 200, Content-Type application/confsec-chunked-res, Trailer: X-Refund-Amount. The trailer
//      (refund.h) is the usage refund for a 2xx engine answer, the whole credit for a refused request or an engine
//      status ≥ 400 or failure, and absent when there is nothing to refund. An engine that fails mid-stream (or
//      overruns the request timeout) leaves the encrypted stream without its final chunk — the client's decryption
//      reports the answer as cut — while the outer response still ends with a full-refund trailer.
//
// Plaintext (the request, the engine's answer) lives only in wiped buffers while the request runs; logs and
// metrics carry statuses, sizes and durations only.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "crypto/kem.h"
#include "net/blocking_pool.h"
#include "net/server.h"
#include "services/common/metrics.h"
#include "services/computenode/request_validator.h"
#include "services/computenode/response_padding.h"
#include "services/engine/engine.h"

namespace openpcc::computenode {

// Router → node headers (reference: router/api/compute_request_info.go, ahttp).
inline constexpr std::string_view kEncapsulatedKeyHeader = "X-Encapsulated-Key";
inline constexpr std::string_view kCreditAmountHeader = "X-Credit-Amount";
inline constexpr size_t kMaxEncapsulatedKeyChars = 512;
inline constexpr std::string_view kPingHeader = "X-Confsec-Ping";
inline constexpr std::string_view kPingValue = "routercom";
inline constexpr std::string_view kDecapsulationFailed = "failed to decapsulate encrypted request";
// Inner response pieces are sealed as they come, in chunks of at most this much plaintext (Go peers accept 514).
inline constexpr size_t kMaxResponseChunkPlaintext = 514;

// What every request uses. Shared by all requests; everything here is safe for concurrent use.
struct ComputeNodeContext {
  ComputeNodeContext(const crypto::KemPrivateKey& rek_, engine::Engine& engine_, RequestValidator validator_,
                     net::BlockingPool& tpm_pool_, services::Metrics& metrics_)
      : rek(rek_), engine(engine_), validator(std::move(validator_)), tpm_pool(tpm_pool_), metrics(metrics_) {}

  const crypto::KemPrivateKey& rek;  // the node's REK (tpm::TpmRekKey; any P-256 KEM key in tests)
  engine::Engine& engine;
  RequestValidator validator;
  net::BlockingPool& tpm_pool;  // runs the decapsulation: a TPM round trip blocks its thread
  services::Metrics& metrics;
  std::chrono::milliseconds request_timeout{300'000};
  // The engine's answer is padded to multiples of this many bytes before sealing (response_padding.h); 0 = off.
  size_t response_padding_block = kDefaultResponsePaddingBlock;
  // The id this node registers under; /_health answers with it in X-Node-ID.
  std::string node_id;
  // Cleared when the TPM refuses the REK (the PCRs changed): /_health then answers 503.
  std::atomic<bool> healthy{true};
};

// The handler for net::Server::start. `context` must outlive the server.
net::Handler make_compute_handler(ComputeNodeContext& context);

}  // namespace openpcc::computenode

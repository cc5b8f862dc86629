// A client of the transparency log's HTTP API (tlog_http.h), for publishers, clients that check statements, and
// tests. It speaks through a services::HttpTransport, so it works over plain HTTP(S) and through the OHTTP relay.
//
//   TlogClient log(services::direct_transport(*net::Client::create()), "https://tlog.example");
//   auto state = transparency::LogState::open(dir / "tlog.checkpoint", verifier, origin);
//   Result<transparency::Checkpoint> cp = co_await log.update(*state);   // verified, no rollback, no fork
//   Result<InclusionAnswer> proof = co_await log.inclusion_proof(index, cp->size);
//   if (!state->verify_inclusion(index, leaf_hash, proof->proof)) ...
//
// Error mapping (ErrorCode of the returned error): 400 → kInvalidArgument, 401 → kUnauthenticated, 404 → kNotFound,
// 413 → kLimitExceeded, 415 → kUnsupported, other 4xx → kInvalidArgument, 5xx or no answer at all → kUnavailable
// (an append may or may not have happened; appending the same bytes again is safe: the log answers the existing
// index), kDecode for a 200 answer that does not parse. update() adds LogState's verdicts: kAuthenticationFailed
// for a checkpoint the log key did not sign, kConflict for a rollback or a fork (the message says which).
#pragma once

#include <cstdint>
#include <string>

#include "common/bytes.h"
#include "common/error.h"
#include "net/runtime.h"
#include "services/common/http_transport.h"
#include "services/tlog/tlog.h"
#include "services/tlog/tlog_api.h"
#include "transparency/log_state.h"

namespace openpcc::tlog {

class TlogClient {
 public:
  // `base_url` without a trailing slash. `publisher_token` is needed for append() only.
  TlogClient(services::HttpTransport transport, std::string base_url, std::string publisher_token = {});

  // Parameters by value: the coroutine keeps its own copies while suspended.
  net::Task<Result<AppendReceipt>> append(Bytes entry);
  // The current signed checkpoint (the note text, not verified here).
  net::Task<Result<std::string>> checkpoint();
  net::Task<Result<transparency::LogEntry>> entry(uint64_t index);
  net::Task<Result<InclusionAnswer>> inclusion_proof(uint64_t index, uint64_t tree_size);
  net::Task<Result<InclusionAnswer>> inclusion_proof_by_leaf_hash(Hash leaf_hash, uint64_t tree_size);
  net::Task<Result<std::vector<Hash>>> consistency_proof(uint64_t from_size, uint64_t to_size);

  // Fetches the current checkpoint and, if it is larger than the state's, the consistency proof from the state's
  // size, and hands both to state.accept() (which verifies the signature and origin, refuses rollbacks and forks and
  // persists). Returns the state's checkpoint afterwards. `state` must outlive the call.
  net::Task<Result<transparency::Checkpoint>> update(transparency::LogState& state);

  const std::string& base_url() const { return base_url_; }

 private:
  net::Task<Result<Bytes>> get(std::string path_and_query);

  services::HttpTransport transport_;
  std::string base_url_;
  std::string token_;
};

// The ErrorCode for a non-200 status (the table above).
ErrorCode tlog_error_code_for_status(int status);

}  // namespace openpcc::tlog

// The transparency log's HTTP API (JSON), over a TransparencyLog (tlog.h). docs/TRANSPARENCY.md is the reference:
//
//   POST /v1/log/entries                  append an entry (Authorization: Bearer <publisher token>;
//                                         Content-Type: application/json; the body is stored as it is)
//   GET  /v1/log/checkpoint               the current signed checkpoint (text/plain, a C2SP signed note)
//   GET  /v1/log/entry?index=N            one entry
//   GET  /v1/log/proof/inclusion?index=N[&treeSize=M]        inclusion proof by index
//   GET  /v1/log/proof/inclusion?leafHash=<hex>[&treeSize=M] inclusion proof by leaf hash
//   GET  /v1/log/proof/consistency?from=A[&to=B]             consistency proof
//   GET  /_health                         {"status":"OK"}
//
// Hashes in JSON answers are standard base64 (as in checkpoints and transparency bundles); the leafHash query
// parameter is 64 hex digits (URL-safe). Sizes default to the current head's. Errors answer {"error": "..."} with:
//   400 malformed request or parameter, index ≥ tree size, size beyond the head   401 missing or unknown token
//   404 no such entry / leaf hash / endpoint   405 wrong method   413 entry too large   415 not application/json
//   503 storage busy or down   500 anything else (5xx bodies say only "internal error" / "temporarily unavailable")
//
// Database work runs on `pool`, never on the network threads. One info log line per request: operation, status,
// duration (never tokens or entry contents).
#pragma once

#include "net/blocking_pool.h"
#include "net/server.h"
#include "services/tlog/publisher_token.h"
#include "services/tlog/tlog.h"

namespace openpcc::tlog {

inline constexpr std::string_view kEntriesPath = "/v1/log/entries";
inline constexpr std::string_view kCheckpointPath = "/v1/log/checkpoint";
inline constexpr std::string_view kEntryPath = "/v1/log/entry";
inline constexpr std::string_view kInclusionPath = "/v1/log/proof/inclusion";
inline constexpr std::string_view kConsistencyPath = "/v1/log/proof/consistency";

// The routes. `log` and `pool` must outlive the handler and every request in flight. With no publisher tokens,
// every append is refused (401).
net::Handler make_tlog_handler(TransparencyLog& log, net::BlockingPool& pool, PublisherTokens publishers);

}  // namespace openpcc::tlog

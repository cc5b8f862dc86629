// The JSON bodies of the transparency log's HTTP API (tlog_http.h), written by the server and read by TlogClient.
// Members are camelCase; hashes are standard base64 of 32 bytes; sizes and indexes are JSON integers.
//
//   append answer      {"logIndex":N,"duplicate":B,"leafHash":H,"treeSize":M,"inclusionProof":[H…],"checkpoint":NOTE}
//   entry              {"logIndex":N,"leafHash":H,"leaf":base64(entry bytes),"appendedAt":unix seconds}
//   inclusion proof    {"logIndex":N,"treeSize":M,"leafHash":H,"inclusionProof":[H…]}
//   consistency proof  {"fromSize":A,"toSize":B,"consistencyProof":[H…]}
//   error              {"error":"message"}
//
// Readers are strict about the members they need (present, right type, hashes of 32 bytes, at most kMaxProofHashes
// proof hashes) and ignore members they do not know. A receipt's checkpoint is parsed, not verified: that is the
// client's LogState's job.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "services/tlog/tlog.h"
#include "transparency/merkle_store.h"

namespace openpcc::tlog {

struct ConsistencyAnswer {
  uint64_t from_size = 0;
  uint64_t to_size = 0;
  std::vector<Hash> proof;
};

std::string append_receipt_json(const AppendReceipt& receipt);
std::string entry_json(const transparency::LogEntry& entry);
std::string inclusion_json(const InclusionAnswer& answer);
std::string consistency_json(const ConsistencyAnswer& answer);
std::string error_json(std::string_view message);

// kDecode for anything that does not fit the shapes above.
Result<AppendReceipt> parse_append_receipt(std::string_view json);
Result<transparency::LogEntry> parse_entry(std::string_view json);
Result<InclusionAnswer> parse_inclusion(std::string_view json);
Result<ConsistencyAnswer> parse_consistency(std::string_view json);
// The message of an error body, or (for anything else) the start of the body as text.
std::string error_message_from_json(std::string_view body);

}  // namespace openpcc::tlog

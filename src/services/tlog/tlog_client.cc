#include "services/tlog/tlog_client.h"

#include <utility>

#include "services/tlog/tlog_http.h"
#include "transparency/checkpoint.h"

namespace openpcc::tlog {
namespace {

std::string_view text_of(const Bytes& b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

Error answer_error(std::string_view what, const net::ClientResponse& response) {
  return Error{tlog_error_code_for_status(response.status),
               "tlog " + std::string(what) + ": " + std::to_string(response.status) + ": " +
                   error_message_from_json(text_of(response.body))};
}

}  // namespace

ErrorCode tlog_error_code_for_status(int status) {
  switch (status) {
    case 400: return ErrorCode::kInvalidArgument;
    case 401: return ErrorCode::kUnauthenticated;
    case 404: return ErrorCode::kNotFound;
    case 413: return ErrorCode::kLimitExceeded;
    case 415: return ErrorCode::kUnsupported;
    default: break;
  }
  if (status >= 500) return ErrorCode::kUnavailable;
  return ErrorCode::kInvalidArgument;
}

TlogClient::TlogClient(services::HttpTransport transport, std::string base_url, std::string publisher_token)
    : transport_(std::move(transport)), base_url_(std::move(base_url)), token_(std::move(publisher_token)) {
  while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
}

net::Task<Result<Bytes>> TlogClient::get(std::string path_and_query) {
  net::ClientRequest request("GET", base_url_ + path_and_query);
  auto response = co_await transport_(std::move(request));
  if (!response) {
    co_return make_error(ErrorCode::kUnavailable,
                         "tlog " + path_and_query + ": no answer: " + response.error().to_string());
  }
  if (response->status != 200) co_return std::unexpected(answer_error(path_and_query, *response));
  co_return std::move(response->body);
}

net::Task<Result<AppendReceipt>> TlogClient::append(Bytes entry) {
  net::ClientRequest request("POST", base_url_ + std::string(kEntriesPath), std::move(entry));
  request.headers.set("Content-Type", "application/json");
  request.headers.set("Authorization", "Bearer " + token_);
  auto response = co_await transport_(std::move(request));
  if (!response) {
    co_return make_error(ErrorCode::kUnavailable, "tlog append: no answer: " + response.error().to_string());
  }
  if (response->status != 200) co_return std::unexpected(answer_error("append", *response));
  co_return parse_append_receipt(text_of(response->body));
}

net::Task<Result<std::string>> TlogClient::checkpoint() {
  auto body = co_await get(std::string(kCheckpointPath));
  if (!body) co_return std::unexpected(std::move(body.error()));
  co_return std::string(text_of(*body));
}

net::Task<Result<transparency::LogEntry>> TlogClient::entry(uint64_t index) {
  auto body = co_await get(std::string(kEntryPath) + "?index=" + std::to_string(index));
  if (!body) co_return std::unexpected(std::move(body.error()));
  auto e = parse_entry(text_of(*body));
  if (e && e->index != index) co_return make_error(ErrorCode::kDecode, "tlog answer: entry for another index");
  co_return e;
}

net::Task<Result<InclusionAnswer>> TlogClient::inclusion_proof(uint64_t index, uint64_t tree_size) {
  auto body = co_await get(std::string(kInclusionPath) + "?index=" + std::to_string(index) +
                           "&treeSize=" + std::to_string(tree_size));
  if (!body) co_return std::unexpected(std::move(body.error()));
  auto a = parse_inclusion(text_of(*body));
  if (a && (a->index != index || a->tree_size != tree_size)) {
    co_return make_error(ErrorCode::kDecode, "tlog answer: proof for another index or size");
  }
  co_return a;
}

net::Task<Result<InclusionAnswer>> TlogClient::inclusion_proof_by_leaf_hash(Hash leaf_hash, uint64_t tree_size) {
  auto body = co_await get(std::string(kInclusionPath) + "?leafHash=" + to_hex(leaf_hash) +
                           "&treeSize=" + std::to_string(tree_size));
  if (!body) co_return std::unexpected(std::move(body.error()));
  auto a = parse_inclusion(text_of(*body));
  if (a && (a->leaf_hash != leaf_hash || a->tree_size != tree_size)) {
    co_return make_error(ErrorCode::kDecode, "tlog answer: proof for another leaf or size");
  }
  co_return a;
}

net::Task<Result<std::vector<Hash>>> TlogClient::consistency_proof(uint64_t from_size, uint64_t to_size) {
  auto body = co_await get(std::string(kConsistencyPath) + "?from=" + std::to_string(from_size) +
                           "&to=" + std::to_string(to_size));
  if (!body) co_return std::unexpected(std::move(body.error()));
  auto a = parse_consistency(text_of(*body));
  if (!a) co_return std::unexpected(std::move(a.error()));
  if (a->from_size != from_size || a->to_size != to_size) {
    co_return make_error(ErrorCode::kDecode, "tlog answer: proof for other sizes");
  }
  co_return std::move(a->proof);
}

net::Task<Result<transparency::Checkpoint>> TlogClient::update(transparency::LogState& state) {
  auto note = co_await checkpoint();
  if (!note) co_return std::unexpected(std::move(note.error()));
  // Read the size before asking for a proof; accept() verifies everything again.
  auto offered = transparency::open_signed_checkpoint(*note, state.verifier(), state.origin());
  if (!offered) co_return std::unexpected(wrap_error("tlog checkpoint", offered.error()));
  const uint64_t have = state.checkpoint().size;
  std::vector<Hash> proof;
  if (offered->size > have && have > 0) {
    auto p = co_await consistency_proof(have, offered->size);
    if (!p) co_return std::unexpected(std::move(p.error()));
    proof = std::move(*p);
  }
  co_return state.accept(*note, proof);
}

}  // namespace openpcc::tlog

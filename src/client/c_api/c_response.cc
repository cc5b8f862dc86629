// openpcc.h: responses (head accessors, streamed body, finish, free).
#include <algorithm>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "client/c_api/c_error.h"
#include "client/c_api/c_handles.h"
#include "common/secure.h"
#include "net/headers.h"

namespace openpcc::capi {
namespace {

void drop_piece(openpcc_response& r) {
  if (!r.piece.empty()) secure_wipe(r.piece.data(), r.piece.size());  // decrypted answer text
  r.piece.clear();
  r.piece_offset = 0;
}

// Makes sure r.piece has bytes not yet handed out, reading from the node when it has none; false at the end.
// Called with r.mutex held.
Result<bool> fill(openpcc_response& r) {
  if (r.piece_offset < r.piece.size()) return true;
  drop_piece(r);
  if (r.error) return std::unexpected(*r.error);
  if (r.ended) return false;
  for (;;) {
    auto next = run_on<Result<std::optional<Bytes>>>(
        r.strand, [&]() -> net::Task<Result<std::optional<Bytes>>> { co_return co_await r.response->read_chunk(); });
    if (!next) {
      r.error = next.error();
      return std::unexpected(next.error());
    }
    if (!*next) {
      r.refund = r.response->refund().value_or(0);
      r.ended = true;
      return false;
    }
    if ((*next)->empty()) continue;  // a chunk is never empty to the caller: length 0 means the end
    r.piece = std::move(**next);
    return true;
  }
}

Status finish_response(openpcc_response& r) {
  return run_on<Status>(r.strand, [&]() -> net::Task<Status> { co_return co_await r.response->finish(); });
}

// The Response is destroyed on its strand: its sockets and timers belong there.
void destroy_response(openpcc_response& r) {
  run_on<void>(r.strand, [&]() -> net::Task<void> {
    r.response.reset();
    co_return;
  });
}

}  // namespace
}  // namespace openpcc::capi

using namespace openpcc;
using capi::fail;
using capi::guarded;

extern "C" {

int openpcc_response_status(const openpcc_response* response) { return response == nullptr ? 0 : response->status; }

size_t openpcc_response_header_count(const openpcc_response* response) {
  return response == nullptr ? 0 : response->headers.size();
}

openpcc_status openpcc_response_header(const openpcc_response* response, size_t index, const char** name,
                                       size_t* name_length, const char** value, size_t* value_length) {
  constexpr auto kInvalid = OPENPCC_ERR_INVALID_ARGUMENT;
  if (response == nullptr || name == nullptr || name_length == nullptr || value == nullptr || value_length == nullptr) {
    return kInvalid;
  }
  if (index >= response->headers.size()) return kInvalid;
  const auto& [n, v] = response->headers[index];
  *name = n.c_str();
  *name_length = n.size();
  *value = v.c_str();
  *value_length = v.size();
  return OPENPCC_OK;
}

openpcc_status openpcc_response_find_header(const openpcc_response* response, const char* name, const char** value,
                                            size_t* value_length) {
  if (response == nullptr || name == nullptr || value == nullptr || value_length == nullptr) {
    return OPENPCC_ERR_INVALID_ARGUMENT;
  }
  *value = nullptr;
  *value_length = 0;
  for (const auto& [n, v] : response->headers) {
    if (net::iequals(n, name)) {
      *value = v.c_str();
      *value_length = v.size();
      break;
    }
  }
  return OPENPCC_OK;
}

openpcc_status openpcc_response_next_chunk(openpcc_response* response, const uint8_t** data, size_t* length,
                                           openpcc_error** error) {
  return guarded(error, "openpcc_response_next_chunk", [&]() -> openpcc_status {
    if (response == nullptr || data == nullptr || length == nullptr) {
      return fail(error, OPENPCC_ERR_INVALID_ARGUMENT, "openpcc_response_next_chunk: a NULL argument");
    }
    *data = nullptr;
    *length = 0;
    std::lock_guard lock(response->mutex);
    auto more = capi::fill(*response);
    if (!more) return fail(error, more.error());
    if (!*more) return OPENPCC_OK;
    *data = response->piece.data() + response->piece_offset;
    *length = response->piece.size() - response->piece_offset;
    response->piece_offset = response->piece.size();  // handed out; the memory stays until the next call
    return OPENPCC_OK;
  });
}

openpcc_status openpcc_response_read(openpcc_response* response, void* buffer, size_t capacity, size_t* length,
                                     openpcc_error** error) {
  return guarded(error, "openpcc_response_read", [&]() -> openpcc_status {
    if (response == nullptr || buffer == nullptr || length == nullptr || capacity == 0) {
      return fail(error, OPENPCC_ERR_INVALID_ARGUMENT,
                  "openpcc_response_read: a NULL argument or a zero capacity");
    }
    *length = 0;
    std::lock_guard lock(response->mutex);
    auto more = capi::fill(*response);
    if (!more) return fail(error, more.error());
    if (!*more) return OPENPCC_OK;
    const size_t n = std::min(capacity, response->piece.size() - response->piece_offset);
    std::memcpy(buffer, response->piece.data() + response->piece_offset, n);
    response->piece_offset += n;
    *length = n;
    return OPENPCC_OK;
  });
}

openpcc_status openpcc_response_finish(openpcc_response* response, openpcc_error** error) {
  return guarded(error, "openpcc_response_finish", [&]() -> openpcc_status {
    if (response == nullptr) return fail(error, OPENPCC_ERR_INVALID_ARGUMENT, "openpcc_response_finish: NULL");
    std::lock_guard lock(response->mutex);
    capi::drop_piece(*response);
    if (response->error) return fail(error, *response->error);
    if (response->ended) return OPENPCC_OK;
    auto done = capi::finish_response(*response);
    if (!done) {
      response->error = done.error();
      return fail(error, done.error());
    }
    response->refund = response->response->refund().value_or(0);
    response->ended = true;
    return OPENPCC_OK;
  });
}

int openpcc_response_ended(const openpcc_response* response) {
  return response != nullptr && response->ended.load() ? 1 : 0;
}

int64_t openpcc_response_credit_value(const openpcc_response* response) {
  return response == nullptr ? 0 : response->credit_value;
}

int64_t openpcc_response_refund(const openpcc_response* response) {
  return response == nullptr ? -1 : response->refund.load();
}

const char* openpcc_response_node_id(const openpcc_response* response) {
  return response == nullptr ? "" : response->node_id.c_str();
}

void openpcc_response_free(openpcc_response* response) {
  if (response == nullptr) return;
  try {
    {
      std::lock_guard lock(response->mutex);
      capi::drop_piece(*response);
      if (response->response) capi::destroy_response(*response);
    }
    delete response;  // may drop the last reference to the client's state (Client, then Runtime)
  } catch (...) {
  }
}

}  // extern "C"

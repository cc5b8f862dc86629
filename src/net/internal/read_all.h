// Shared by ServerRequest and ClientStream: drain a chunked body source into one buffer. The source's own limits
// (max body bytes) bound the result.
#pragma once

#include <optional>

#include "common/bytes.h"
#include "common/error.h"
#include "net/runtime.h"

namespace openpcc::net::internal {

// `Source` has Task<Result<std::optional<Bytes>>> read_chunk(), returning nullopt at the end of the body.
template <class Source>
Task<Result<Bytes>> read_all_chunks(Source& source) {
  Bytes body;
  for (;;) {
    auto piece = co_await source.read_chunk();
    if (!piece) co_return std::unexpected(piece.error());
    if (!*piece) co_return body;
    append(body, **piece);
  }
}

}  // namespace openpcc::net::internal

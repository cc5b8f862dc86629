// Reading a node's answer as it streams in: decrypt (the response half of wire/compute_request.h, keyed by the
// chosen candidate's ResponseSecrets) and BHTTP-decode, piece by piece, so each token reaches the caller as soon as
// the node sealed it.
//
//   auto reader = InnerResponseReader::create(*sealed.secrets_for(node_id), router_response_content_type);
//   for each piece of the router's body:  reader->feed(piece);
//                                          if (reader->head()) ... reader->take_body() ...
//   at its end:                            reader->finish();   // kTruncated if the node's message was cut
//
// application/confsec-chunked-res is opened chunk by chunk; application/confsec-res (a whole sealed message) is
// collected (up to max_unchunked_bytes) and opened at finish(). Errors name nothing about steps; the client adds
// "node: ".
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string_view>

#include "common/bytes.h"
#include "common/error.h"
#include "wire/bhttp_decoder.h"
#include "wire/chunk_framing.h"
#include "wire/response_encryption.h"

namespace openpcc::client {

class InnerResponseReader {
 public:
  // kUnsupported for a Content-Type that is neither compute response media type.
  static Result<InnerResponseReader> create(const wire::ResponseSecrets& secrets, std::string_view content_type,
                                            const wire::bhttp::DecodeLimits& limits = {},
                                            size_t max_unchunked_bytes = size_t{64} << 20);

  InnerResponseReader(InnerResponseReader&&) noexcept;
  InnerResponseReader& operator=(InnerResponseReader&&) noexcept;
  ~InnerResponseReader();

  // Ciphertext as it arrives (any split). After an error every call returns it again.
  Status feed(ByteSpan ciphertext);
  // The ciphertext has ended: the message must be complete (kTruncated otherwise; kAuthenticationFailed for a
  // final chunk that does not open).
  Status finish();

  // The final response head, once decoded (1xx responses are skipped).
  const std::optional<wire::bhttp::ResponseHead>& head() const { return head_; }
  // Body bytes decoded and not yet taken.
  bool has_body() const { return !body_.empty(); }
  Bytes take_body();
  // The inner message's trailer fields (after finish()).
  const wire::bhttp::Fields& trailers() const { return trailers_; }
  bool complete() const { return complete_; }

 private:
  InnerResponseReader() = default;
  Status decode(ByteSpan plaintext);
  Status fail(Error e);

  std::unique_ptr<wire::ChunkedResponseOpener> opener_;       // chunked responses
  std::unique_ptr<wire::ResponseContext> whole_;              // unchunked responses
  Bytes collected_;                                           // unchunked: ciphertext so far
  size_t max_unchunked_bytes_ = 0;
  std::unique_ptr<wire::bhttp::StreamDecoder> decoder_;
  std::optional<wire::bhttp::ResponseHead> head_;
  Bytes body_;
  wire::bhttp::Fields trailers_;
  bool complete_ = false;
  std::optional<Error> error_;
};

}  // namespace openpcc::client

// The user's request inside a compute request body: decrypted with the body key the node unwrapped (through its
// TPM) and BHTTP-decoded as the ciphertext arrives, chunked or whole (wire/compute_request.h). Nothing but the
// decoded head and the content is kept, and the content lives in wiped memory.
//
//   auto receiver = RequestReceiver::unwrap_key(key, rek, chunking);      // the one TPM operation
//   InnerRequestReader reader(*receiver, kMaxPromptBodyBytes);
//   while (auto piece = next ciphertext piece) reader.feed(piece);       // any split
//   auto request = reader.finish();                                       // head + body (+ over_limit)
//
// A content longer than `max_body_bytes` is not an error here: its first max_body_bytes + 1 bytes are kept and
// over_limit is set, so that the validator can answer "too large" inside an encrypted response. Errors (the
// request cannot be read at all; the node answers 400 "failed to decapsulate encrypted request"): kAuthenticationFailed
// (a tampered or truncated ciphertext chunk), kTruncated, kDecode (not a BHTTP request), kLimitExceeded (BHTTP
// header limits).
#pragma once

#include <cstddef>
#include <optional>

#include "common/bytes.h"
#include "common/error.h"
#include "common/secure.h"
#include "wire/bhttp_decoder.h"
#include "wire/bhttp_message.h"
#include "wire/compute_request.h"

namespace openpcc::computenode {

struct InnerRequest {
  InnerRequest() = default;
  InnerRequest(InnerRequest&&) = default;
  InnerRequest& operator=(InnerRequest&&) = default;
  ~InnerRequest();  // wipes the head's strings (path, authority, header values)

  wire::bhttp::RequestHead head;
  SecretBytes body;         // at most max_body_bytes + 1 bytes
  bool over_limit = false;  // the content was longer than max_body_bytes
};

class InnerRequestReader {
 public:
  // `receiver` must outlive the reader.
  InnerRequestReader(const wire::compute::RequestReceiver& receiver, size_t max_body_bytes);
  InnerRequestReader(InnerRequestReader&&) = default;
  ~InnerRequestReader();

  // The next piece of the encrypted body, as received.
  Status feed(ByteSpan ciphertext);
  // End of the encrypted body: the request. Call once.
  Result<InnerRequest> finish();

  // Plaintext bytes decrypted so far (BHTTP framing included).
  uint64_t plaintext_bytes() const { return plaintext_bytes_; }

 private:
  Status decode(ByteSpan plaintext);
  Status append_body(ByteSpan data);
  Status fail(Error e);

  const wire::compute::RequestReceiver* receiver_;
  size_t max_body_bytes_;
  std::optional<wire::PrefixedChunkOpener> opener_;  // chunked requests
  Bytes whole_ciphertext_;                           // unchunked requests (ciphertext: nothing to wipe)
  Bytes plaintext_;                                  // scratch, wiped after each use
  wire::bhttp::StreamDecoder decoder_;
  std::optional<wire::bhttp::RequestHead> head_;
  SecretBytes body_;
  size_t body_length_ = 0;
  bool over_limit_ = false;
  bool trailers_seen_ = false;
  uint64_t plaintext_bytes_ = 0;
  std::optional<Error> error_;
};

}  // namespace openpcc::computenode

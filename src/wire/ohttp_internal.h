// Internal to the OHTTP implementation (src/wire/ohttp*.cc): the HPKE setup steps that unchunked and chunked
// requests share. Not part of the API.
#pragma once

#include <utility>

#include "crypto/hpke.h"
#include "wire/ohttp.h"

namespace openpcc::wire::ohttp::internal {

// The client's HPKE setup for a request: header, sender context and response secrets.
struct ClientSetup {
  RequestHeader header;
  crypto::SenderContext context;
  ResponseSecrets response_secrets;
};
Result<ClientSetup> setup_client(const KeyConfig& key_config, Chunking chunking, const EncapsulateOptions& options);

// The gateway's first step: parses the header at the front of `prefix` (only 7 bytes are needed) and looks the key
// up. kInvalidRequestHeader, or the finder's error.
OhttpResult<std::pair<RequestHeader, GatewayKey>> find_key(const KeyFinder& keys, ByteSpan prefix);

// Nenc of the header's KEM (the header has been parsed, so the KEM is known).
size_t enc_size(const RequestHeader& header);

struct GatewaySetup {
  crypto::RecipientContext context;
  ResponseSecrets response_secrets;
};
// SetupBaseR with the key and `enc`, and the response secrets. kRequestDecoding if the KEM rejects enc.
OhttpResult<GatewaySetup> setup_gateway(const RequestHeader& header, const GatewayKey& key, ByteSpan enc,
                                        Chunking chunking);

}  // namespace openpcc::wire::ohttp::internal

// The client's private transport: every request to the BlindBank and the router is a BHTTP message encapsulated
// with Oblivious HTTP (RFC 9458, chunked OHTTP) and POSTed to the relay, which forwards it to the gateway without
// knowing what it says; the gateway knows what it says without knowing who sent it.
//
//   OhttpTransport ohttp(client, relay_url, keys);            // keys: KeySource (below)
//   BlindBankClient bank(ohttp.transport(), std::string(gateway::kBankUrl));   // whole messages
//   auto stream = co_await ohttp.send_streaming(compute_request);              // streamed compute requests
//   while (auto piece = co_await (*stream)->read_chunk(); piece && *piece) ...  // decrypted as it arrives
//
// Inner requests are addressed with absolute URLs such as http://confsec-router.invalid/ping: the BHTTP request's
// scheme, authority and path come from the URL, its header fields from the request (minus Host, Content-Length,
// Transfer-Encoding and Connection, which BHTTP framing replaces).
//
// Outer requests carry only Content-Type (and `Incremental: ?1` for chunked ones) — no User-Agent, no cookies.
//   transport():       message/ohttp-req, a known-length BHTTP request padded to a multiple of 532 bytes
//   send_streaming():  message/ohttp-chunked-req with the OpenPCC fixed-size profile: an indeterminate-length BHTTP
//                      request (bhttp::fixed_size_profile(kOhttpMessageChunkLen)) sealed in exactly-532-byte pieces
//                      (wire::ohttp::openpcc_fixed_size_chunks()), i.e. every chunk on the wire is 550 bytes.
// Responses in either form (message/ohttp-res, message/ohttp-chunked-res) are accepted by both; chunked ones are
// opened and decoded piece by piece.
//
// Key rotation: on a key error — a 400 answer whose problem type is the ohttp-key one (wire/ohttp_error.h) — the
// transport asks its KeySource for a fresh key (refresh = true) and sends the same inner request again, once,
// re-encapsulated under the new key.
//
// Errors: the relay or gateway answering anything but 200 → kInvalidArgument for 4xx (a key error is named as one),
// kUnavailable for 5xx, with the status and problem title in the message; a 200 answer with another Content-Type or
// that does not open or decode → kDecode / kAuthenticationFailed / kTruncated (a cut stream is kTruncated); the net
// client's errors (kIo, kTimeout, ...) as they are. The inner response's own status is not an error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/bytes.h"
#include "common/error.h"
#include "net/client.h"
#include "net/headers.h"
#include "net/runtime.h"
#include "services/common/http_transport.h"
#include "wire/bhttp_decoder.h"
#include "wire/ohttp_key_config.h"

namespace openpcc::client {

// The key config to encapsulate to. Called with refresh = false before each request, and with refresh = true after
// the gateway refused the key: then it should fetch the keys again rather than answer from a cache.
using KeySource = std::function<net::Task<Result<wire::ohttp::KeyConfig>>(bool refresh)>;

// Always the same config (tests, or a caller that handles rotation itself).
KeySource fixed_key_source(wire::ohttp::KeyConfig config);

// GET keys_url (a gateway's /ohttp-keys) and take the first config whose KEM, KDF and AEAD this build supports (the
// gateway lists its active key with the latest active_from first). Unauthenticated: for tests and development
// stacks. Real clients take the keys from the AuthBank's transparency-verified bundle (select_key_config).
net::Task<Result<wire::ohttp::KeyConfig>> fetch_gateway_key_config(net::Client client, std::string keys_url);
// fetch_gateway_key_config, remembered until the next refresh.
KeySource gateway_key_source(net::Client client, std::string keys_url);

struct OhttpTransportOptions {
  // Limits of the inner BHTTP response (body included; also bounds whole responses collected by transport()).
  wire::bhttp::DecodeLimits response_limits;
  // An outer response that is not 200 is read up to this size (its problem body).
  size_t max_error_body_bytes = 16 * 1024;
};

// A decrypted inner response, read as it arrives.
class OhttpResponseStream {
 public:
  class Impl;
  explicit OhttpResponseStream(std::unique_ptr<Impl> impl);
  ~OhttpResponseStream();
  OhttpResponseStream(const OhttpResponseStream&) = delete;
  OhttpResponseStream& operator=(const OhttpResponseStream&) = delete;

  // The inner response's final status and header fields (1xx responses are skipped).
  int status() const;
  const net::Headers& headers() const;
  // Whether the gateway sent the response chunked (streamed).
  bool chunked() const;

  // The next piece of the inner body as soon as it has been decrypted and decoded (the body bytes of one or more
  // OHTTP chunks; never empty), or std::nullopt after the last one: then the message has been authenticated to its
  // end and trailers() is valid. A stream cut short fails with kTruncated.
  net::Task<Result<std::optional<Bytes>>> read_chunk();
  // The rest of the body (bounded by the response limits) followed by the end of the message.
  net::Task<Result<Bytes>> read_all();
  // The inner trailer fields; valid once read_chunk() returned std::nullopt.
  const net::Headers& trailers() const;

 private:
  std::unique_ptr<Impl> impl_;
};

class OhttpTransport {
 public:
  // relay_url: where encapsulated requests go (POST). Copies share nothing but the client's configuration.
  OhttpTransport(net::Client client, std::string relay_url, KeySource keys, OhttpTransportOptions options = {});

  // Whole-message requests (BlindBank, router ping, compute manifests): the response collected whole, trailers
  // included. The returned function holds its own reference to the transport's state.
  services::HttpTransport transport() const;
  net::Task<Result<net::ClientResponse>> send(net::ClientRequest inner) const;

  // A compute request: chunked OHTTP with the fixed-size profile, the response streamed.
  net::Task<Result<std::unique_ptr<OhttpResponseStream>>> send_streaming(net::ClientRequest inner) const;

  const std::string& relay_url() const;

  struct State;  // defined in the .cc

 private:
  std::shared_ptr<const State> state_;
};

}  // namespace openpcc::client

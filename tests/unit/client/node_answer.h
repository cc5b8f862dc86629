// Test helpers: the node's side of a compute request in software (an in-memory P-256 REK instead of a TPM one),
// built from the wire library's RequestReceiver, so the client's encryption and decryption are checked against the
// node-side code and not against themselves.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "crypto/kem.h"
#include "wire/bhttp_decoder.h"
#include "wire/bhttp_encoder.h"
#include "wire/compute_request.h"

namespace openpcc::client::test {

namespace bhttp = wire::bhttp;

// Opens a chunked compute request the way a node does: unwrap the DEK, open the body fed in `split`-byte slices,
// decode the BHTTP request.
inline Result<std::pair<wire::compute::RequestReceiver, bhttp::Request>> open_request(
    ByteSpan encapsulated_key, const crypto::KemPrivateKey& rek, ByteSpan body, size_t split) {
  auto rx = wire::compute::RequestReceiver::unwrap_key(encapsulated_key, rek, wire::Chunking::kChunked);
  if (!rx) return std::unexpected(rx.error());
  auto opener = rx->chunked_body_opener();
  if (!opener) return std::unexpected(opener.error());
  Bytes plaintext;
  for (size_t at = 0; at < body.size(); at += split) {
    if (auto ok = opener->feed(body.subspan(at, std::min(split, body.size() - at)), plaintext); !ok) {
      return std::unexpected(ok.error());
    }
  }
  if (auto ok = opener->finish(plaintext); !ok) return std::unexpected(ok.error());
  auto request = bhttp::decode_request(plaintext);
  if (!request) return std::unexpected(request.error());
  return std::make_pair(std::move(*rx), std::move(*request));
}

// A node's streamed answer: a head, then each piece sealed as one chunk at once (the streaming rule), then the end.
// Every call returns the ciphertext to send now.
class StreamedAnswer {
 public:
  explicit StreamedAnswer(const wire::ResponseSecrets& secrets) {
    auto context = secrets.context(wire::Chunking::kChunked);
    EXPECT_TRUE(context) << context.error().to_string();
    wire::ChunkSealOptions options;
    options.max_chunk_plaintext = wire::compute::kChunkPlaintextLen;
    options.fixed_chunk_plaintext = 0;
    auto sealer = context->chunked_sealer(options);
    EXPECT_TRUE(sealer) << sealer.error().to_string();
    sealer_.emplace(std::move(*sealer));
  }

  Bytes head(uint16_t status, bhttp::Fields headers) {
    bhttp::ResponseHead h;
    h.status = status;
    h.headers = std::move(headers);
    Bytes plain, out;
    EXPECT_TRUE(encoder_.begin_response(h, plain));
    EXPECT_TRUE(sealer_->write(plain, out));
    return out;
  }
  Bytes body(std::string_view piece) {
    Bytes plain, out;
    EXPECT_TRUE(encoder_.body(as_bytes(piece), plain));
    EXPECT_TRUE(sealer_->write(plain, out));
    return out;
  }
  Bytes finish(bhttp::Fields trailers = {}) {
    Bytes plain, out;
    EXPECT_TRUE(encoder_.finish(trailers, plain));
    EXPECT_TRUE(sealer_->write(plain, out));
    EXPECT_TRUE(sealer_->finish(out));
    return out;
  }
  // Ends the encryption cleanly while the BHTTP message inside is unfinished (an engine that broke mid-answer).
  Bytes cut() {
    Bytes out;
    EXPECT_TRUE(sealer_->finish(out));
    return out;
  }

 private:
  bhttp::StreamEncoder encoder_{bhttp::EncodeOptions{}};
  std::optional<wire::ChunkedResponseSealer> sealer_;
};

inline std::unique_ptr<crypto::KemPrivateKey> software_rek() {
  auto kem = crypto::Kem::create(crypto::KemId::kDhkemP256HkdfSha256).value();
  return std::move(kem.generate_key_pair().value());
}

inline crypto::KemPublicKey public_of(const crypto::KemPrivateKey& key) {
  auto kem = crypto::Kem::create(crypto::KemId::kDhkemP256HkdfSha256).value();
  return kem.deserialize_public_key(key.public_key()).value();
}

}  // namespace openpcc::client::test

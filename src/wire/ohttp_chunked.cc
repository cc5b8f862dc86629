#include "wire/ohttp_chunked.h"

#include <algorithm>

#include "wire/ohttp_internal.h"

namespace openpcc::wire::ohttp {

// ---- ChunkedRequestSealer ------------------------------------------------------------------------------------------

Result<ChunkedRequestSealer> ChunkedRequestSealer::create(const KeyConfig& key_config,
                                                          const EncapsulateOptions& options,
                                                          const ChunkSealOptions& chunk_options) {
  auto setup = internal::setup_client(key_config, Chunking::kChunked, options);
  if (!setup) return std::unexpected(setup.error());
  const auto hdr = setup->header.encode();
  Bytes prefix = concat({hdr, setup->context.enc()});
  auto stream = ChunkStreamSealer::create(make_hpke_chunk_sealer(std::move(setup->context)), std::move(prefix),
                                          chunk_options);
  if (!stream) return std::unexpected(stream.error());
  return ChunkedRequestSealer(setup->header, std::move(setup->response_secrets), std::move(*stream));
}

// ---- ChunkedRequestOpener ------------------------------------------------------------------------------------------

ChunkedRequestOpener::ChunkedRequestOpener(KeyFinder keys, const ChunkOpenLimits& limits)
    : keys_(std::move(keys)), limits_(limits) {}

ChunkedRequestOpener::ChunkedRequestOpener(const GatewayKeySet& keys, const ChunkOpenLimits& limits)
    : ChunkedRequestOpener(KeyFinder([&keys](const RequestHeader& h) { return keys.find(h); }), limits) {}

OhttpStatus ChunkedRequestOpener::fail(OhttpError e) {
  error_ = e;
  prefix_.clear();
  return std::unexpected(std::move(e));
}

OhttpStatus ChunkedRequestOpener::feed(ByteSpan input, Bytes& bhttp_out) {
  if (error_) return std::unexpected(*error_);
  if (!opener_) {
    if (!header_) {
      const size_t n = std::min(kRequestHeaderSize - prefix_.size(), input.size());
      append(prefix_, input.first(n));
      input = input.subspan(n);
      if (prefix_.size() < kRequestHeaderSize) return {};
      auto found = internal::find_key(keys_, prefix_);
      if (!found) return fail(std::move(found.error()));
      header_ = found->first;
      key_ = std::move(found->second);
      enc_size_ = internal::enc_size(*header_);
      prefix_.clear();
    }
    const size_t n = std::min(enc_size_ - prefix_.size(), input.size());
    append(prefix_, input.first(n));
    input = input.subspan(n);
    if (prefix_.size() < enc_size_) return {};
    auto setup = internal::setup_gateway(*header_, *key_, prefix_, Chunking::kChunked);
    if (!setup) return fail(std::move(setup.error()));
    secrets_.emplace(std::move(setup->response_secrets));
    opener_.emplace(make_hpke_chunk_opener(std::move(setup->context)), limits_);
    prefix_.clear();
    prefix_.shrink_to_fit();
  }
  if (auto s = opener_->feed(input, bhttp_out); !s) {
    return fail(OhttpError{OhttpErrorCode::kRequestDecoding, wrap_error("ohttp chunked request", s.error())});
  }
  return {};
}

OhttpStatus ChunkedRequestOpener::finish(Bytes& bhttp_out) {
  if (error_) return std::unexpected(*error_);
  if (!opener_) {
    const bool in_header = !header_;
    return fail(OhttpError{in_header ? OhttpErrorCode::kInvalidRequestHeader : OhttpErrorCode::kRequestDecoding,
                           Error{ErrorCode::kTruncated, in_header ? "ohttp chunked request: ended inside the header"
                                                                  : "ohttp chunked request: ended inside enc"}});
  }
  if (auto s = opener_->finish(bhttp_out); !s) {
    return fail(OhttpError{OhttpErrorCode::kRequestDecoding, wrap_error("ohttp chunked request", s.error())});
  }
  return {};
}

// ---- Whole messages ------------------------------------------------------------------------------------------------

Result<EncapsulatedRequest> encapsulate_chunked_request(const KeyConfig& key_config, ByteSpan bhttp,
                                                        const EncapsulateOptions& options,
                                                        const ChunkSealOptions& chunk_options) {
  auto sealer = ChunkedRequestSealer::create(key_config, options, chunk_options);
  if (!sealer) return std::unexpected(sealer.error());
  Bytes out;
  if (auto s = sealer->write(bhttp, out); !s) return std::unexpected(s.error());
  if (auto s = sealer->finish(out); !s) return std::unexpected(s.error());
  return EncapsulatedRequest{std::move(out), sealer->response_secrets().clone()};
}

OhttpResult<DecapsulatedRequest> decapsulate_chunked_request(const KeyFinder& keys, ByteSpan request,
                                                             const ChunkOpenLimits& limits) {
  ChunkedRequestOpener opener(keys, limits);
  Bytes bhttp;
  if (auto s = opener.feed(request, bhttp); !s) return std::unexpected(s.error());
  if (auto s = opener.finish(bhttp); !s) return std::unexpected(s.error());
  // finish() succeeded, so the header and secrets exist.
  return DecapsulatedRequest{*opener.header(), std::move(bhttp), opener.response_secrets()->clone()};
}

OhttpResult<DecapsulatedRequest> decapsulate_chunked_request(const GatewayKeySet& keys, ByteSpan request,
                                                             const ChunkOpenLimits& limits) {
  return decapsulate_chunked_request(KeyFinder([&keys](const RequestHeader& h) { return keys.find(h); }), request,
                                     limits);
}

}  // namespace openpcc::wire::ohttp

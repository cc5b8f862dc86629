// Node-side parsing of compute requests: the 120-byte encapsulated key and the (chunked or unchunked) body.
//
// Input: byte 0 — bit 0 chunked, bit 1 "construct" mode; byte 1 seeds slice sizes; byte 2 picks a byte to flip in
// construct mode; the rest is either raw (encapsulated key ‖ body) or, in construct mode, the plaintext that a real
// sender seals to the node (so the fuzzer reaches the body openers, which no forged input can pass). Properties:
// never crashes; a sealed request opens to its plaintext, whole and in slices; a request with one flipped byte never
// opens to a different plaintext.
#include <cstdint>

#include "fuzz_keys.h"
#include "wire/compute_request.h"

using namespace openpcc;
namespace compute = wire::compute;

namespace {

struct NodeKey {
  std::unique_ptr<crypto::KemPrivateKey> sk;
  crypto::KemPublicKey pk;
};

NodeKey make_node_key() {
  auto kem = crypto::Kem::create(crypto::KemId::kDhkemP256HkdfSha256);
  fuzz::require(kem.has_value());
  auto sk = kem->derive_key_pair(as_bytes("openpcc fuzz compute node REK"));
  fuzz::require(sk.has_value());
  auto pk = kem->deserialize_public_key((*sk)->public_key());
  fuzz::require(pk.has_value());
  return NodeKey{std::move(*sk), std::move(*pk)};
}

// Opens (encapsulated key ‖ body); nullopt if anything fails. For chunked bodies, whole and sliced opening must agree.
std::optional<Bytes> open(const NodeKey& node, wire::Chunking chunking, ByteSpan input, ByteSpan slice_sizes) {
  if (input.size() < compute::kEncapsulatedKeySize) return std::nullopt;
  auto receiver =
      compute::RequestReceiver::unwrap_key(input.first(compute::kEncapsulatedKeySize), *node.sk, chunking);
  if (!receiver) return std::nullopt;
  ByteSpan body = input.subspan(compute::kEncapsulatedKeySize);
  if (chunking == wire::Chunking::kUnchunked) {
    auto pt = receiver->open_body(body);
    if (!pt) return std::nullopt;
    return std::move(*pt);
  }
  auto whole_opener = receiver->chunked_body_opener();
  fuzz::require(whole_opener.has_value());
  Bytes whole;
  bool whole_ok = whole_opener->feed(body, whole).has_value() && whole_opener->finish(whole).has_value();
  auto opener = receiver->chunked_body_opener();
  Bytes streamed;
  bool ok = true;
  fuzz::for_each_slice(body, slice_sizes, [&](ByteSpan piece) {
    ok = opener->feed(piece, streamed).has_value();
    return ok;
  });
  if (ok) ok = opener->finish(streamed).has_value();
  fuzz::require(ok == whole_ok);
  if (!ok) return std::nullopt;
  fuzz::require(streamed == whole);
  return whole;
}

Bytes seal(const NodeKey& node, wire::Chunking chunking, ByteSpan plaintext) {
  auto sender = compute::RequestSender::create(chunking);
  fuzz::require(sender.has_value());
  auto wrapped = sender->wrap_key(node.pk);
  fuzz::require(wrapped.has_value());
  Bytes out = wrapped->encapsulated_key;
  if (chunking == wire::Chunking::kUnchunked) {
    auto body = sender->seal_body(plaintext);
    fuzz::require(body.has_value());
    append(out, *body);
  } else {
    auto sealer = sender->chunked_body_sealer();
    fuzz::require(sealer.has_value());
    fuzz::require(sealer->write(plaintext, out).has_value());
    fuzz::require(sealer->finish(out).has_value());
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const NodeKey node = make_node_key();  // immutable after construction
  if (size < 3) return 0;
  const auto chunking = (data[0] & 1) ? wire::Chunking::kChunked : wire::Chunking::kUnchunked;
  const bool construct = data[0] & 2;
  const ByteSpan slice_sizes(data + 1, 1);
  const ByteSpan rest(data + 3, size - 3);
  if (!construct) {
    (void)open(node, chunking, rest, slice_sizes);
    return 0;
  }
  Bytes request = seal(node, chunking, rest);
  auto opened = open(node, chunking, request, slice_sizes);
  fuzz::require(opened.has_value() && *opened == Bytes(rest.begin(), rest.end()));
  request[data[2] % request.size()] ^= 0x01;
  auto tampered = open(node, chunking, request, slice_sizes);
  fuzz::require(!tampered.has_value());
  return 0;
}

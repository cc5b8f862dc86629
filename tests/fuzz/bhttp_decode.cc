// BHTTP decoding of arbitrary input: never crashes; the incremental decoder, fed the input in slices whose sizes the
// input itself chooses, agrees with whole-message decoding; whatever decodes re-encodes (in its own framing) to bytes
// that decode to the same message, up to the lowercasing of field names.
#include <cstdint>
#include <cstdlib>

#include "wire/bhttp.h"

namespace bhttp = openpcc::wire::bhttp;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

void lowercase_names(bhttp::Fields& fields) {
  for (auto& f : fields) {
    for (char& c : f.name) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
  }
}

void lowercase_names(bhttp::Message& m) {
  if (auto* r = std::get_if<bhttp::Request>(&m)) {
    lowercase_names(r->headers);
    lowercase_names(r->trailers);
  } else {
    auto& resp = std::get<bhttp::Response>(m);
    for (auto& info : resp.informational) lowercase_names(info.headers);
    lowercase_names(resp.headers);
    lowercase_names(resp.trailers);
  }
}

// Streams `input` through a StreamDecoder in slices of 1..8 bytes (sizes taken from `pattern`), assembling the same
// DecodedMessage that decode() builds.
openpcc::Result<bhttp::DecodedMessage> decode_in_slices(openpcc::ByteSpan input, uint8_t pattern) {
  bhttp::StreamDecoder dec;
  bhttp::Request request;
  bhttp::Response response;
  bool ended = false;
  auto handle = [&](bhttp::DecodeEvent& ev) {
    bool is_request = dec.kind() == bhttp::MessageKind::kRequest;
    if (auto* i = std::get_if<bhttp::InformationalResponse>(&ev)) {
      response.informational.push_back(std::move(*i));
    } else if (auto* rh = std::get_if<bhttp::RequestHead>(&ev)) {
      static_cast<bhttp::RequestHead&>(request) = std::move(*rh);
    } else if (auto* sh = std::get_if<bhttp::ResponseHead>(&ev)) {
      static_cast<bhttp::ResponseHead&>(response) = std::move(*sh);
    } else if (auto* d = std::get_if<bhttp::BodyData>(&ev)) {
      check(!d->data.empty());
      openpcc::append(is_request ? request.body : response.body, d->data);
    } else if (auto* t = std::get_if<bhttp::Trailers>(&ev)) {
      (is_request ? request.trailers : response.trailers) = std::move(t->fields);
    } else if (std::holds_alternative<bhttp::EndOfMessage>(ev)) {
      ended = true;
    }
  };
  size_t turn = 0;
  while (!input.empty()) {
    size_t n = std::min<size_t>(input.size(), 1 + ((pattern >> (turn++ % 6)) & 7));
    openpcc::ByteSpan slice = input.first(n);
    input = input.subspan(n);
    for (;;) {
      auto ev = dec.next(slice);
      if (!ev) return std::unexpected(ev.error());
      if (std::holds_alternative<bhttp::NeedMoreInput>(*ev)) break;
      handle(*ev);
    }
    check(slice.empty());
  }
  while (!ended) {
    auto ev = dec.finish();
    if (!ev) return std::unexpected(ev.error());
    handle(*ev);
  }
  bhttp::DecodedMessage out;
  out.framing = *dec.framing();
  if (dec.kind() == bhttp::MessageKind::kRequest) {
    out.message = std::move(request);
  } else {
    out.message = std::move(response);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  openpcc::ByteSpan input(data, size);
  auto whole = bhttp::decode(input);
  auto sliced = decode_in_slices(input, size > 0 ? data[size - 1] : 0);
  check(whole.has_value() == sliced.has_value());
  if (!whole) {
    check(whole.error().code == sliced.error().code);
    return 0;
  }
  check(*whole == *sliced);

  bhttp::EncodeOptions options;
  options.framing = whole->framing;
  auto again = bhttp::encode(whole->message, options);
  check(again.has_value());
  auto redecoded = bhttp::decode(*again);
  check(redecoded.has_value());
  lowercase_names(whole->message);
  check(redecoded->message == whole->message);
  return 0;
}

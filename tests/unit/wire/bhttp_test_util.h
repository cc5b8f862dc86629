// Helpers shared by the BHTTP tests: JSON vector loading and a StreamDecoder driver that checks event order.
#pragma once

#include <fstream>
#include <functional>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "wire/bhttp.h"

namespace openpcc::wire::bhttp::testing {

inline nlohmann::json load_json(const std::string& name) {
  std::ifstream f(std::string(OPENPCC_TEST_DATA_DIR) + "/" + name);
  EXPECT_TRUE(f.good()) << "cannot open " << name;
  std::stringstream ss;
  ss << f.rdbuf();
  return nlohmann::json::parse(ss.str());
}

inline Fields fields_from_json(const nlohmann::json& j) {
  Fields out;
  for (const auto& pair : j) out.push_back({pair.at(0).get<std::string>(), pair.at(1).get<std::string>()});
  return out;
}

// The conformance-style JSON mapping of a message (kind, framing, control data, informational, headers, body as
// text, trailers) → our model.
inline DecodedMessage message_from_json(const nlohmann::json& j) {
  DecodedMessage out;
  out.framing = j.value("framing", "known") == "known" ? Framing::kKnownLength : Framing::kIndeterminateLength;
  auto body = to_bytes(j.value("body", ""));
  if (j.at("kind") == "request") {
    Request r;
    r.method = j.at("method");
    r.scheme = j.at("scheme");
    r.authority = j.at("authority");
    r.path = j.at("path");
    r.headers = fields_from_json(j.value("headers", nlohmann::json::array()));
    r.body = body;
    r.trailers = fields_from_json(j.value("trailers", nlohmann::json::array()));
    out.message = r;
  } else {
    Response r;
    for (const auto& info : j.value("informational", nlohmann::json::array())) {
      r.informational.push_back({info.at("status").get<uint16_t>(), fields_from_json(info.at("headers"))});
    }
    r.status = j.at("status").get<uint16_t>();
    r.headers = fields_from_json(j.value("headers", nlohmann::json::array()));
    r.body = body;
    r.trailers = fields_from_json(j.value("trailers", nlohmann::json::array()));
    out.message = r;
  }
  return out;
}

inline EncodeOptions options_for(const DecodedMessage& m) {
  EncodeOptions o;
  o.framing = m.framing;
  return o;
}

// Drives a StreamDecoder over `input` cut into slices by `next_slice_len(remaining)`, checks that events arrive in
// the documented order, and assembles the message. `max_buffered` (if set) receives the largest buffered_bytes().
inline Result<DecodedMessage> stream_decode(ByteSpan input, const std::function<size_t(size_t)>& next_slice_len,
                                            const DecodeLimits& limits = {}, size_t* max_buffered = nullptr) {
  StreamDecoder dec(limits);
  Request request;
  Response response;
  enum { kBeforeHead, kInBody, kAfterTrailers, kEnded } phase = kBeforeHead;
  bool order_ok = true;
  auto handle = [&](DecodeEvent& ev) {
    if (max_buffered) *max_buffered = std::max(*max_buffered, dec.buffered_bytes());
    if (auto* info = std::get_if<InformationalResponse>(&ev)) {
      order_ok &= phase == kBeforeHead && dec.kind() == MessageKind::kResponse;
      response.informational.push_back(std::move(*info));
    } else if (auto* rh = std::get_if<RequestHead>(&ev)) {
      order_ok &= phase == kBeforeHead && dec.kind() == MessageKind::kRequest;
      static_cast<RequestHead&>(request) = std::move(*rh);
      phase = kInBody;
    } else if (auto* sh = std::get_if<ResponseHead>(&ev)) {
      order_ok &= phase == kBeforeHead && dec.kind() == MessageKind::kResponse;
      static_cast<ResponseHead&>(response) = std::move(*sh);
      phase = kInBody;
    } else if (auto* d = std::get_if<BodyData>(&ev)) {
      order_ok &= phase == kInBody && !d->data.empty();
      append(dec.kind() == MessageKind::kRequest ? request.body : response.body, d->data);
    } else if (auto* t = std::get_if<Trailers>(&ev)) {
      order_ok &= phase == kInBody && dec.content_complete();
      (dec.kind() == MessageKind::kRequest ? request.trailers : response.trailers) = std::move(t->fields);
      phase = kAfterTrailers;
    } else if (std::holds_alternative<EndOfMessage>(ev)) {
      order_ok &= phase == kAfterTrailers;
      phase = kEnded;
    }
  };
  while (!input.empty()) {
    size_t n = std::min(input.size(), std::max<size_t>(1, next_slice_len(input.size())));
    ByteSpan slice = input.first(n);
    input = input.subspan(n);
    for (;;) {
      auto ev = dec.next(slice);
      if (!ev) return std::unexpected(ev.error());
      if (std::holds_alternative<NeedMoreInput>(*ev)) break;
      handle(*ev);
    }
    EXPECT_TRUE(slice.empty());
  }
  while (phase != kEnded) {
    auto ev = dec.finish();
    if (!ev) return std::unexpected(ev.error());
    EXPECT_FALSE(std::holds_alternative<NeedMoreInput>(*ev));
    handle(*ev);
  }
  EXPECT_TRUE(order_ok) << "events out of order";
  DecodedMessage out;
  out.framing = *dec.framing();
  if (dec.kind() == MessageKind::kRequest) {
    out.message = std::move(request);
  } else {
    out.message = std::move(response);
  }
  return out;
}

inline Result<DecodedMessage> stream_decode_bytewise(ByteSpan input, const DecodeLimits& limits = {}) {
  return stream_decode(input, [](size_t) { return size_t{1}; }, limits);
}

}  // namespace openpcc::wire::bhttp::testing

// Binary HTTP messages (RFC 9292) — the umbrella header.
//
//   wire/bhttp_message.h  the model: Request, Response, InformationalResponse, Field(s), Framing, validity rules
//   wire/bhttp_encoder.h  encode() of whole messages, StreamEncoder for indeterminate-length messages, padding and
//                         the OpenPCC fixed-size profile (chunks of 514/532 bytes, padded to a multiple)
//   wire/bhttp_decoder.h  decode() of whole messages, StreamDecoder fed arbitrary slices, DecodeLimits
//
// Example:
//   bhttp::Request req;
//   req.method = "GET"; req.scheme = "https"; req.authority = "example.com"; req.path = "/";
//   Bytes wire = bhttp::encode(req).value();          // 00034745540568747470730b6578616d706c652e636f6d012f
//   bhttp::Request back = bhttp::decode_request(wire).value();
#pragma once

#include "wire/bhttp_decoder.h"
#include "wire/bhttp_encoder.h"
#include "wire/bhttp_message.h"

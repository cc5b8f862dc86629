// bhttp.decode / bhttp.encode: Binary HTTP (RFC 9292) messages as JSON.
#include <nlohmann/json.hpp>

#include "conformance/fields.h"
#include "conformance/harness.h"
#include "wire/bhttp.h"

namespace openpcc::conformance {

using nlohmann::json;
namespace bhttp = wire::bhttp;

namespace {

json fields_json(const bhttp::Fields& fields) {
  json arr = json::array();
  for (const auto& f : fields) arr.push_back(json::array({f.name, f.value}));
  return arr;
}

Result<bhttp::Fields> fields_from(const json& req, std::string_view name) {
  auto list = field_list(req, name);
  if (!list) return std::unexpected(list.error());
  bhttp::Fields out;
  out.reserve(list->size());
  for (auto& [n, v] : *list) out.push_back({std::move(n), std::move(v)});
  return out;
}

Result<json> decode_op(const json& req) {
  auto msg = hex_field(req, "msg");
  if (!msg) return std::unexpected(msg.error());
  auto decoded = bhttp::decode(*msg);
  if (!decoded) return std::unexpected(decoded.error());
  json out;
  out["framing"] = decoded->framing == bhttp::Framing::kKnownLength ? "known" : "indeterminate";
  if (const auto* r = std::get_if<bhttp::Request>(&decoded->message)) {
    out["kind"] = "request";
    out["method"] = r->method;
    out["scheme"] = r->scheme;
    out["authority"] = r->authority;
    out["path"] = r->path;
    out["informational"] = json::array();
    out["headers"] = fields_json(r->headers);
    out["body"] = to_hex(r->body);
    out["trailers"] = fields_json(r->trailers);
  } else {
    const auto& s = std::get<bhttp::Response>(decoded->message);
    out["kind"] = "response";
    out["status"] = s.status;
    json info = json::array();
    for (const auto& i : s.informational) info.push_back({{"status", i.status}, {"headers", fields_json(i.headers)}});
    out["informational"] = std::move(info);
    out["headers"] = fields_json(s.headers);
    out["body"] = to_hex(s.body);
    out["trailers"] = fields_json(s.trailers);
  }
  return out;
}

// Checks the common part of a message object and fills it in.
template <class M>
Status fill_common(const json& req, M& m) {
  auto headers = fields_from(req, "headers");
  if (!headers) return std::unexpected(headers.error());
  auto trailers = fields_from(req, "trailers");
  if (!trailers) return std::unexpected(trailers.error());
  auto body = optional_hex_field(req, "body");
  if (!body) return std::unexpected(body.error());
  m.headers = std::move(*headers);
  m.trailers = std::move(*trailers);
  m.body = body->value_or(Bytes{});
  return {};
}

Result<json> encode_op(const json& req) {
  auto kind = string_field(req, "kind");
  if (!kind) return std::unexpected(kind.error());
  bhttp::EncodeOptions options;
  auto framing = optional_string_field(req, "framing");
  if (!framing) return std::unexpected(framing.error());
  if (!framing->has_value() || **framing == "known") {
    options.framing = bhttp::Framing::kKnownLength;
  } else if (**framing == "indeterminate") {
    options.framing = bhttp::Framing::kIndeterminateLength;
  } else {
    return make_error(ErrorCode::kInvalidArgument, "field \"framing\" must be \"known\" or \"indeterminate\"");
  }
  // Padding beyond a few MiB is not a message anyone sends; bound it so a typo cannot exhaust memory.
  auto padding = optional_uint_field(req, "padding", 1 << 24);
  if (!padding) return std::unexpected(padding.error());
  options.padding_len = padding->value_or(0);

  bhttp::Message message;
  if (*kind == "request") {
    bhttp::Request r;
    for (auto [name, target] : {std::pair{"method", &r.method}, std::pair{"scheme", &r.scheme},
                                std::pair{"authority", &r.authority}, std::pair{"path", &r.path}}) {
      auto v = string_field(req, name);
      if (!v) return std::unexpected(v.error());
      *target = std::move(*v);
    }
    if (auto s = fill_common(req, r); !s) return std::unexpected(s.error());
    message = std::move(r);
  } else if (*kind == "response") {
    bhttp::Response r;
    auto status = uint_field(req, "status", 999);
    if (!status) return std::unexpected(status.error());
    r.status = static_cast<uint16_t>(*status);
    if (auto it = req.find("informational"); it != req.end() && !it->is_null()) {
      if (!it->is_array()) return make_error(ErrorCode::kInvalidArgument, "field \"informational\" must be an array");
      for (const auto& item : *it) {
        if (!item.is_object()) {
          return make_error(ErrorCode::kInvalidArgument, "field \"informational\" must hold {status, headers} objects");
        }
        auto st = uint_field(item, "status", 999);
        if (!st) return std::unexpected(wrap_error("informational", st.error()));
        auto h = fields_from(item, "headers");
        if (!h) return std::unexpected(wrap_error("informational", h.error()));
        r.informational.push_back({static_cast<uint16_t>(*st), std::move(*h)});
      }
    }
    if (auto s = fill_common(req, r); !s) return std::unexpected(s.error());
    message = std::move(r);
  } else {
    return make_error(ErrorCode::kInvalidArgument, "field \"kind\" must be \"request\" or \"response\"");
  }
  auto encoded = bhttp::encode(message, options);
  if (!encoded) return std::unexpected(encoded.error());
  return json{{"msg", to_hex(*encoded)}};
}

}  // namespace

void add_bhttp_operations(Harness& h) {
  h.add("bhttp.decode", decode_op);
  h.add("bhttp.encode", encode_op);
}

}  // namespace openpcc::conformance

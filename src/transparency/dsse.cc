#include "transparency/dsse.h"

#include <set>
#include <utility>

#include "crypto/sha256.h"
#include "transparency/strict_json.h"

namespace openpcc::transparency {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kWhat = "dsse envelope";

// Standard alphabet with padding, or URL-safe with optional padding (DSSE verifiers must accept both).
Result<Bytes> decode_dsse_base64(std::string_view text, std::string_view field) {
  const bool standard = text.find_first_of("+/") != std::string_view::npos;
  const bool url_safe = text.find_first_of("-_") != std::string_view::npos;
  auto fail = [&](std::string why) {
    return make_error(ErrorCode::kDecode, std::string(kWhat) + ": " + std::string(field) + ": " + why);
  };
  if (standard && url_safe) return fail("mixes the standard and URL-safe base64 alphabets");
  Result<Bytes> decoded;
  if (standard) {
    decoded = from_base64(text);
  } else {
    // Neither alphabet-specific character: valid under either form. Strip correct padding, decode unpadded.
    size_t pad = 0;
    while (pad < text.size() && text[text.size() - 1 - pad] == '=') ++pad;
    if (pad > 0 && (pad > 2 || text.size() % 4 != 0)) return fail("bad base64 padding");
    decoded = from_base64url(text.substr(0, text.size() - pad));
  }
  if (!decoded) return fail(decoded.error().message);
  return decoded;
}

Result<DsseEnvelope::Sig> signature_from_json(const Json& value, size_t index) {
  const std::string what = std::string(kWhat) + ": signatures[" + std::to_string(index) + "]";
  if (!value.is_object()) return make_error(ErrorCode::kDecode, what + ": not an object");
  if (auto ok = require_members_within(value, {"keyid", "sig"}, what); !ok) return std::unexpected(ok.error());
  DsseEnvelope::Sig sig;
  if (find_member(value, "keyid") != nullptr) {
    auto keyid = string_member(value, "keyid", what);
    if (!keyid) return std::unexpected(keyid.error());
    sig.keyid = std::move(*keyid);
  }
  if (find_member(value, "sig") != nullptr) {
    auto text = string_member(value, "sig", what);
    if (!text) return std::unexpected(text.error());
    auto bytes = decode_dsse_base64(*text, "signatures[" + std::to_string(index) + "].sig");
    if (!bytes) return std::unexpected(bytes.error());
    sig.sig = std::move(*bytes);
  }
  return sig;
}

}  // namespace

Bytes dsse_pae(std::string_view payload_type, ByteSpan payload) {
  const std::string type_len = std::to_string(payload_type.size());
  const std::string body_len = std::to_string(payload.size());
  Bytes out;
  out.reserve(6 + 1 + type_len.size() + 1 + payload_type.size() + 1 + body_len.size() + 1 + payload.size());
  auto put = [&](std::string_view s) { append(out, as_bytes(s)); };
  put("DSSEv1 ");
  put(type_len);
  put(" ");
  put(payload_type);
  put(" ");
  put(body_len);
  put(" ");
  append(out, payload);
  return out;
}

nlohmann::json dsse_envelope_to_json_value(const DsseEnvelope& envelope) {
  Json signatures = Json::array();
  for (const auto& s : envelope.signatures) {
    Json entry = {{"sig", to_base64(s.sig)}};
    if (!s.keyid.empty()) entry["keyid"] = s.keyid;
    signatures.push_back(std::move(entry));
  }
  return Json{{"payload", to_base64(envelope.payload)},
              {"payloadType", envelope.payload_type},
              {"signatures", std::move(signatures)}};
}

std::string to_json(const DsseEnvelope& envelope) {
  // The text dump_canonical(dsse_envelope_to_json_value(envelope)) gives, written directly: this is the log leaf, which
  // every bundle verification recomputes, and building the JSON tree first costs more than the hashing it feeds.
  // Strings go through nlohmann one by one so that escaping is exactly the same.
  const std::string payload = to_base64(envelope.payload);
  std::string out;
  out.reserve(64 + payload.size() + envelope.payload_type.size() + envelope.signatures.size() * 180);
  out += R"({"payload":")";
  out += payload;  // base64 needs no escaping
  out += R"(","payloadType":)";
  out += dump_canonical(Json(envelope.payload_type));
  out += R"(,"signatures":[)";
  for (size_t i = 0; i < envelope.signatures.size(); ++i) {
    const auto& s = envelope.signatures[i];
    if (i > 0) out += ',';
    out += '{';
    if (!s.keyid.empty()) {
      out += R"("keyid":)";
      out += dump_canonical(Json(s.keyid));
      out += ',';
    }
    out += R"("sig":")";
    out += to_base64(s.sig);
    out += R"("})";
  }
  out += "]}";
  return out;
}

Result<DsseEnvelope> dsse_envelope_from_json_value(const nlohmann::json& value) {
  if (!value.is_object()) return make_error(ErrorCode::kDecode, std::string(kWhat) + ": not a JSON object");
  if (auto ok = require_members_within(value, {"payload", "payloadType", "signatures"}, kWhat); !ok) {
    return std::unexpected(ok.error());
  }
  DsseEnvelope envelope;
  if (find_member(value, "payloadType") != nullptr) {
    auto type = string_member(value, "payloadType", kWhat);
    if (!type) return std::unexpected(type.error());
    envelope.payload_type = std::move(*type);
  }
  if (find_member(value, "payload") != nullptr) {
    auto text = string_member(value, "payload", kWhat);
    if (!text) return std::unexpected(text.error());
    auto payload = decode_dsse_base64(*text, "payload");
    if (!payload) return std::unexpected(payload.error());
    envelope.payload = std::move(*payload);
  }
  if (const Json* signatures = find_member(value, "signatures")) {
    if (!signatures->is_array()) {
      return make_error(ErrorCode::kDecode, std::string(kWhat) + ": \"signatures\" must be an array");
    }
    if (signatures->size() > kMaxEnvelopeSignatures) {
      return make_error(ErrorCode::kLimitExceeded, std::string(kWhat) + ": " + std::to_string(signatures->size()) +
                                                       " signatures exceed the limit of " +
                                                       std::to_string(kMaxEnvelopeSignatures));
    }
    for (size_t i = 0; i < signatures->size(); ++i) {
      auto sig = signature_from_json((*signatures)[i], i);
      if (!sig) return std::unexpected(sig.error());
      envelope.signatures.push_back(std::move(*sig));
    }
  }
  return envelope;
}

Result<DsseEnvelope> parse_dsse_envelope(std::string_view json) {
  auto value = parse_strict_json(json, kMaxEnvelopeJsonBytes, kWhat);
  if (!value) return std::unexpected(value.error());
  return dsse_envelope_from_json_value(*value);
}

std::string publisher_key_id(const crypto::Ed25519PublicKey& key) { return to_hex(crypto::sha256(key.bytes())); }

Result<PublisherKeys> PublisherKeys::of(std::initializer_list<crypto::Ed25519PublicKey> keys) {
  PublisherKeys set;
  for (const auto& key : keys) {
    if (auto ok = set.add(key); !ok) return std::unexpected(ok.error());
  }
  return set;
}

Status PublisherKeys::add(const crypto::Ed25519PublicKey& key) { return add(publisher_key_id(key), key); }

Status PublisherKeys::add(std::string keyid, const crypto::Ed25519PublicKey& key) {
  if (keyid.empty()) return make_error(ErrorCode::kInvalidArgument, "publisher keys: empty keyid");
  if (keys_.contains(keyid)) {
    return make_error(ErrorCode::kInvalidArgument, "publisher keys: keyid \"" + keyid + "\" is already in use");
  }
  for (const auto& [existing_id, existing] : keys_) {
    if (existing == key) {
      return make_error(ErrorCode::kInvalidArgument,
                        "publisher keys: the key is already trusted under keyid \"" + existing_id + "\"");
    }
  }
  keys_.emplace(std::move(keyid), key);
  return {};
}

Status PublisherKeys::set_threshold(size_t threshold) {
  if (threshold == 0) return make_error(ErrorCode::kInvalidArgument, "publisher keys: threshold must be at least 1");
  threshold_ = threshold;
  return {};
}

const crypto::Ed25519PublicKey* PublisherKeys::find(std::string_view keyid) const {
  auto it = keys_.find(keyid);
  return it == keys_.end() ? nullptr : &it->second;
}

Status dsse_add_signature(DsseEnvelope& envelope, const crypto::Ed25519PrivateKey& key) {
  if (!is_valid_utf8(envelope.payload_type)) {
    return make_error(ErrorCode::kInvalidArgument, "dsse sign: the payload type is not UTF-8");
  }
  if (envelope.signatures.size() >= kMaxEnvelopeSignatures) {
    return make_error(ErrorCode::kInvalidArgument, "dsse sign: the envelope already has " +
                                                       std::to_string(envelope.signatures.size()) + " signatures");
  }
  auto sig = key.sign(dsse_pae(envelope.payload_type, envelope.payload));
  if (!sig) return std::unexpected(wrap_error("dsse sign", sig.error()));
  envelope.signatures.push_back({publisher_key_id(key.public_key()), std::move(*sig)});
  if (const size_t size = to_json(envelope).size(); size > kMaxEnvelopeJsonBytes) {
    envelope.signatures.pop_back();
    return make_error(ErrorCode::kLimitExceeded, "dsse sign: the envelope would take " + std::to_string(size) +
                                                     " bytes, more than the limit of " +
                                                     std::to_string(kMaxEnvelopeJsonBytes));
  }
  return {};
}

Result<DsseEnvelope> dsse_sign(std::string payload_type, Bytes payload, const crypto::Ed25519PrivateKey& key) {
  DsseEnvelope envelope{std::move(payload_type), std::move(payload), {}};
  if (auto ok = dsse_add_signature(envelope, key); !ok) return std::unexpected(ok.error());
  return envelope;
}

Result<std::vector<std::string>> dsse_verify(const DsseEnvelope& envelope, const PublisherKeys& keys,
                                             std::string_view expected_payload_type) {
  if (keys.empty()) return make_error(ErrorCode::kInvalidArgument, "dsse verify: no trusted publisher keys");
  if (keys.size() < keys.threshold()) {
    return make_error(ErrorCode::kInvalidArgument, "dsse verify: threshold " + std::to_string(keys.threshold()) +
                                                       " exceeds the " + std::to_string(keys.size()) +
                                                       " trusted publisher keys");
  }
  if (envelope.payload_type != expected_payload_type) {
    return make_error(ErrorCode::kUnsupported, "dsse verify: payload type \"" + envelope.payload_type +
                                                   "\" is not \"" + std::string(expected_payload_type) + "\"");
  }
  const Bytes pae = dsse_pae(envelope.payload_type, envelope.payload);
  std::set<std::string> accepted;
  size_t unknown = 0, invalid = 0, repeated = 0;
  for (const auto& s : envelope.signatures) {
    if (accepted.size() >= keys.threshold()) break;
    if (!s.keyid.empty()) {
      const crypto::Ed25519PublicKey* key = keys.find(s.keyid);
      if (key == nullptr) {
        ++unknown;
      } else if (key->verify(pae, s.sig)) {
        if (!accepted.insert(s.keyid).second) ++repeated;
      } else {
        ++invalid;
      }
      continue;
    }
    // No hint: any trusted key not yet counted may have made it.
    bool matched = false;
    for (const auto& [keyid, key] : keys.keys()) {
      if (!accepted.contains(keyid) && key.verify(pae, s.sig)) {
        accepted.insert(keyid);
        matched = true;
        break;
      }
    }
    if (matched) continue;
    // Only to say why it did not count: a key that was counted already, or no trusted key at all.
    bool by_counted_key = false;
    for (const auto& keyid : accepted) by_counted_key = by_counted_key || keys.find(keyid)->verify(pae, s.sig);
    ++(by_counted_key ? repeated : invalid);
  }
  if (accepted.size() < keys.threshold()) {
    return make_error(ErrorCode::kAuthenticationFailed,
                      "dsse verify: signatures from " + std::to_string(accepted.size()) +
                          " trusted publisher key(s), " +
                          std::to_string(keys.threshold()) + " required (" +
                          std::to_string(envelope.signatures.size()) + " signature(s): " + std::to_string(unknown) +
                          " by an unknown keyid, " + std::to_string(invalid) + " not valid, " +
                          std::to_string(repeated) + " by a key already counted)");
  }
  return std::vector<std::string>(accepted.begin(), accepted.end());
}

}  // namespace openpcc::transparency

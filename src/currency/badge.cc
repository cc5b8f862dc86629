#include "currency/badge.h"

#include <algorithm>
#include <limits>

#include "common/byte_reader.h"
#include "openpcc/auth.pb.h"

namespace openpcc::currency {
namespace {

std::unexpected<Error> decode_error(std::string message) {
  return make_error(ErrorCode::kDecode, "badge: " + std::move(message));
}

bool is_valid_model(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) { return c >= 32 && c <= 126; });
}

void append_u32le(Bytes& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

Bytes serialized(const google::protobuf::MessageLite& message) {
  std::string out;
  message.SerializeToString(&out);
  return Bytes(out.begin(), out.end());
}

Result<pb::Credentials> credentials_proto(const Credentials& credentials) {
  auto models = credentials.encode_models();
  if (!models) return std::unexpected(models.error());
  pb::Credentials out;
  out.set_models(std::string(models->begin(), models->end()));
  return out;
}

}  // namespace

Result<Bytes> Credentials::encode_models() const {
  std::vector<std::string_view> sorted(models.begin(), models.end());
  std::sort(sorted.begin(), sorted.end());
  Bytes out;
  for (size_t i = 0; i < sorted.size(); ++i) {
    if (!is_valid_model(sorted[i])) {
      return make_error(ErrorCode::kInvalidArgument, "badge: model names must be non-empty printable ASCII");
    }
    if (i > 0 && sorted[i] == sorted[i - 1]) {
      return make_error(ErrorCode::kInvalidArgument, "badge: duplicate model " + std::string(sorted[i]));
    }
    if (sorted[i].size() > kMaxBadgeSize) return make_error(ErrorCode::kInvalidArgument, "badge: model name too long");
    append_u32le(out, static_cast<uint32_t>(sorted[i].size()));
    append(out, as_bytes(sorted[i]));
  }
  if (out.size() > kMaxBadgeSize) return make_error(ErrorCode::kInvalidArgument, "badge: too many models");
  return out;
}

Result<Credentials> Credentials::decode_models(ByteSpan encoded) {
  if (encoded.size() > kMaxBadgeSize) return decode_error("models encoding too large");
  Credentials out;
  ByteReader reader(encoded);
  while (!reader.empty()) {
    auto len_bytes = reader.read_bytes(4, "model length");
    if (!len_bytes) return decode_error(len_bytes.error().message);
    const uint32_t len = static_cast<uint32_t>((*len_bytes)[0]) | static_cast<uint32_t>((*len_bytes)[1]) << 8 |
                         static_cast<uint32_t>((*len_bytes)[2]) << 16 | static_cast<uint32_t>((*len_bytes)[3]) << 24;
    auto name = reader.read_bytes(len, "model name");
    if (!name) return decode_error(name.error().message);
    std::string model = to_string(*name);
    if (!is_valid_model(model)) return decode_error("model names must be non-empty printable ASCII");
    if (!out.models.empty() && !(out.models.back() < model)) {
      return decode_error("models must be in strictly ascending order");
    }
    out.models.push_back(std::move(model));
  }
  return out;
}

Result<Bytes> Credentials::serialize() const {
  auto message = credentials_proto(*this);
  if (!message) return std::unexpected(message.error());
  return serialized(*message);
}

bool Credentials::allows(std::string_view model) const {
  return std::find(models.begin(), models.end(), model) != models.end();
}

Result<Bytes> Badge::serialize() const {
  auto creds = credentials_proto(credentials);
  if (!creds) return std::unexpected(creds.error());
  pb::Badge message;
  *message.mutable_credentials() = std::move(*creds);
  message.set_signature(std::string(signature.begin(), signature.end()));
  return serialized(message);
}

Result<Badge> Badge::parse(ByteSpan bytes) {
  if (bytes.size() > kMaxBadgeSize) return decode_error("larger than " + std::to_string(kMaxBadgeSize) + " bytes");
  pb::Badge message;
  if (!message.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return decode_error("not a Badge");
  if (!message.has_credentials()) return decode_error("credentials missing");
  if (!message.credentials().has_models()) return decode_error("models missing");
  if (!message.has_signature()) return decode_error("signature missing");
  if (message.signature().size() != crypto::kEd25519SignatureSize) return decode_error("signature must be 64 bytes");
  auto credentials = Credentials::decode_models(as_bytes(message.credentials().models()));
  if (!credentials) return std::unexpected(credentials.error());
  return Badge{std::move(*credentials), Bytes(message.signature().begin(), message.signature().end())};
}

Result<std::string> Badge::to_header() const {
  auto bytes = serialize();
  if (!bytes) return std::unexpected(bytes.error());
  return to_base64(*bytes);
}

Result<Badge> Badge::from_header(std::string_view text) {
  if (text.size() > (kMaxBadgeSize + 2) / 3 * 4) return decode_error("header too long");
  auto bytes = from_base64(text);
  if (!bytes) return decode_error("header is not base64");
  return parse(*bytes);
}

Result<Badge> BadgeIssuer::issue(const Credentials& credentials) const {
  if (credentials.models.empty()) return make_error(ErrorCode::kInvalidArgument, "badge: no models");
  auto signed_bytes = credentials.serialize();
  if (!signed_bytes) return std::unexpected(signed_bytes.error());
  auto signature = key_.sign(*signed_bytes);
  if (!signature) return std::unexpected(signature.error());
  Badge badge;
  badge.credentials.models = credentials.models;
  std::sort(badge.credentials.models.begin(), badge.credentials.models.end());
  badge.signature = std::move(*signature);
  return badge;
}

Status verify_badge(const crypto::Ed25519PublicKey& key, const Badge& badge) {
  auto signed_bytes = badge.credentials.serialize();
  if (!signed_bytes) return make_error(ErrorCode::kAuthenticationFailed, "badge: " + signed_bytes.error().message);
  return key.verify(*signed_bytes, badge.signature);
}

}  // namespace openpcc::currency

#include "services/router/node_token.h"

#include <algorithm>
#include <cctype>

#include "common/random.h"
#include "services/common/key_files.h"

namespace openpcc::router {
namespace {

bool is_space(uint8_t c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

bool is_hex_digit(uint8_t c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

Status check_node_token(ByteSpan token) {
  const size_t min_chars = 2 * kMinNodeTokenBytes;
  if (token.size() < min_chars) {
    return make_error(ErrorCode::kInvalidArgument, "the node token is too short: " + std::to_string(token.size()) +
                                                       " characters, at least " + std::to_string(min_chars) +
                                                       " are required (" + std::string(kNodeTokenFormat) + ")");
  }
  if (token.size() > kMaxNodeTokenChars) {
    return make_error(ErrorCode::kInvalidArgument,
                      "the node token is longer than " + std::to_string(kMaxNodeTokenChars) + " characters");
  }
  if (token.size() % 2 != 0 || !std::all_of(token.begin(), token.end(), is_hex_digit)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "the node token must be hex digits only (" + std::string(kNodeTokenFormat) + ")");
  }
  return {};
}

Result<SecretBytes> load_node_token(const std::filesystem::path& path) {
  auto file = services::read_secret_file(path);
  if (!file) return std::unexpected(wrap_error("node token file " + path.string(), file.error()));
  ByteSpan text = file->span();
  while (!text.empty() && is_space(text.front())) text = text.subspan(1);
  while (!text.empty() && is_space(text.back())) text = text.first(text.size() - 1);
  if (Status ok = check_node_token(text); !ok) {
    return std::unexpected(wrap_error("node token file " + path.string(), ok.error()));
  }
  return SecretBytes(text);
}

SecretBytes generate_node_token() {
  SecretBytes raw(kMinNodeTokenBytes);
  fill_random(raw.mutable_span());
  static constexpr char kDigits[] = "0123456789abcdef";
  SecretBytes out(2 * raw.size());
  std::span<uint8_t> text = out.mutable_span();
  for (size_t i = 0; i < raw.size(); ++i) {
    text[2 * i] = static_cast<uint8_t>(kDigits[raw.span()[i] >> 4]);
    text[2 * i + 1] = static_cast<uint8_t>(kDigits[raw.span()[i] & 0x0f]);
  }
  return out;
}

std::string node_token_authorization(ByteSpan token) {
  std::string value = "Bearer ";
  value.append(token.begin(), token.end());
  return value;
}

bool authorization_matches(std::optional<std::string_view> authorization, ByteSpan token) {
  if (!authorization || token.empty()) return false;
  std::string_view value = *authorization;
  constexpr std::string_view kScheme = "Bearer ";
  if (value.size() < kScheme.size() || !equals_ignoring_case(value.substr(0, kScheme.size()), kScheme)) return false;
  value.remove_prefix(kScheme.size());
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  return ct_equal(as_bytes(value), token);
}

}  // namespace openpcc::router

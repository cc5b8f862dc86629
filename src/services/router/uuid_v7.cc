#include "services/router/uuid_v7.h"

#include <array>
#include <cstdint>

#include "common/random.h"

namespace openpcc::router {
namespace {

constexpr size_t kTextSize = 36;

bool is_hyphen_position(size_t i) { return i == 8 || i == 13 || i == 18 || i == 23; }

bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

std::string new_uuid_v7(std::chrono::system_clock::time_point now) {
  int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  constexpr int64_t kMaxMs = (int64_t{1} << 48) - 1;
  if (ms < 0) ms = 0;
  if (ms > kMaxMs) ms = kMaxMs;

  std::array<uint8_t, 16> b{};
  fill_random(std::span<uint8_t>(b.data() + 6, 10));
  for (int i = 0; i < 6; ++i) b[i] = static_cast<uint8_t>(static_cast<uint64_t>(ms) >> (8 * (5 - i)));
  b[6] = static_cast<uint8_t>(0x70 | (b[6] & 0x0f));  // version 7
  b[8] = static_cast<uint8_t>(0x80 | (b[8] & 0x3f));  // variant 0b10

  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(kTextSize);
  for (size_t i = 0; i < b.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += kDigits[b[i] >> 4];
    out += kDigits[b[i] & 0x0f];
  }
  return out;
}

std::string new_uuid_v7() { return new_uuid_v7(std::chrono::system_clock::now()); }

bool is_uuid_v7(std::string_view text) {
  if (text.size() != kTextSize) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    if (is_hyphen_position(i)) {
      if (text[i] != '-') return false;
    } else if (!is_hex(text[i])) {
      return false;
    }
  }
  if (text[14] != '7') return false;
  const char variant = lower(text[19]);
  return variant == '8' || variant == '9' || variant == 'a' || variant == 'b';
}

std::string canonical_uuid(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = lower(c);
  return out;
}

}  // namespace openpcc::router

#include "attest/uefi.h"

#include <algorithm>
#include <cstdio>

#include "attest/little_endian.h"
#include "common/byte_reader.h"

namespace openpcc::attest {

namespace {

constexpr char32_t kReplacement = 0xFFFD;

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

// Decodes one UTF-8 sequence at s[i], advancing i; malformed input yields U+FFFD and skips one byte.
char32_t next_code_point(std::string_view s, size_t& i) {
  const auto b0 = static_cast<uint8_t>(s[i]);
  size_t len = b0 < 0x80 ? 1 : (b0 >> 5) == 0x6 ? 2 : (b0 >> 4) == 0xE ? 3 : (b0 >> 3) == 0x1E ? 4 : 0;
  if (len == 0 || i + len > s.size()) {
    ++i;
    return kReplacement;
  }
  char32_t c = len == 1 ? b0 : len == 2 ? (b0 & 0x1F) : len == 3 ? (b0 & 0x0F) : (b0 & 0x07);
  for (size_t k = 1; k < len; ++k) {
    const auto b = static_cast<uint8_t>(s[i + k]);
    if ((b & 0xC0) != 0x80) {
      ++i;
      return kReplacement;
    }
    c = c << 6 | (b & 0x3F);
  }
  i += len;
  return c;
}

}  // namespace

std::string efi_guid_string(const EfiGuid& g) {
  char buf[37];
  std::snprintf(buf, sizeof(buf), "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", g[3], g[2],
                g[1], g[0], g[5], g[4], g[7], g[6], g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]);
  return buf;
}

Bytes to_ucs2le(std::string_view utf8, bool nul_terminate) {
  Bytes out;
  out.reserve(2 * (utf8.size() + 1));
  for (size_t i = 0; i < utf8.size();) {
    char32_t c = next_code_point(utf8, i);
    if (c > 0xFFFF || (c >= 0xD800 && c <= 0xDFFF)) c = kReplacement;  // UCS-2 has no surrogate pairs
    append_le<uint16_t>(out, static_cast<uint16_t>(c));
  }
  if (nul_terminate) append_le<uint16_t>(out, 0);
  return out;
}

Result<std::string> from_ucs2le(ByteSpan ucs2) {
  if (ucs2.size() % 2 != 0) return make_error(ErrorCode::kDecode, "ucs-2: odd number of bytes");
  std::string out;
  for (size_t i = 0; i < ucs2.size(); i += 2) {
    char32_t c = static_cast<char32_t>(ucs2[i] | ucs2[i + 1] << 8);
    if (c == 0) break;
    if (c >= 0xD800 && c <= 0xDFFF) c = kReplacement;
    append_utf8(out, c);
  }
  return out;
}

Bytes marshal_uefi_variable_data(const EfiGuid& vendor_guid, std::string_view name, ByteSpan data) {
  const Bytes name_units = to_ucs2le(name, false);
  Bytes out;
  out.reserve(16 + 8 + 8 + name_units.size() + data.size());
  append(out, vendor_guid);
  append_le<uint64_t>(out, name_units.size() / 2);
  append_le<uint64_t>(out, data.size());
  append(out, name_units);
  append(out, data);
  return out;
}

Result<UefiVariableData> parse_uefi_variable_data(ByteSpan in) {
  ByteReader r(in);
  UefiVariableData out;
  auto guid = r.read_bytes(16, "UEFI_VARIABLE_DATA VariableName");
  if (!guid) return std::unexpected(guid.error());
  std::copy(guid->begin(), guid->end(), out.vendor_guid.begin());
  auto name_chars = read_le<uint64_t>(r, "UEFI_VARIABLE_DATA UnicodeNameLength");
  if (!name_chars) return std::unexpected(name_chars.error());
  auto data_len = read_le<uint64_t>(r, "UEFI_VARIABLE_DATA VariableDataLength");
  if (!data_len) return std::unexpected(data_len.error());
  // Compare against what is left before multiplying, so huge lengths cannot overflow.
  if (*name_chars > r.remaining() / 2 || *data_len > r.remaining() - 2 * *name_chars) {
    return make_error(ErrorCode::kDecode, "UEFI_VARIABLE_DATA: name and data lengths exceed the event data");
  }
  auto name = r.read_bytes(static_cast<size_t>(2 * *name_chars), "UEFI_VARIABLE_DATA UnicodeName");
  if (!name) return std::unexpected(name.error());
  auto text = from_ucs2le(*name);
  if (!text) return std::unexpected(wrap_error("UEFI_VARIABLE_DATA UnicodeName", text.error()));
  out.name = std::move(*text);
  auto data = r.read_bytes(static_cast<size_t>(*data_len), "UEFI_VARIABLE_DATA VariableData");
  if (!data) return std::unexpected(data.error());
  out.data.assign(data->begin(), data->end());
  if (!r.empty()) {
    return make_error(ErrorCode::kDecode,
                      "UEFI_VARIABLE_DATA: " + std::to_string(r.remaining()) + " trailing bytes after the data");
  }
  return out;
}

}  // namespace openpcc::attest

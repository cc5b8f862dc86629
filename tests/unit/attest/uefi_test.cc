// UEFI helpers: GUID text, UCS-2, UEFI_VARIABLE_DATA encode/decode and its bounds.
#include "attest/uefi.h"

#include <gtest/gtest.h>

#include "attest/little_endian.h"

namespace openpcc::attest {
namespace {

TEST(Uefi, GuidStrings) {
  EXPECT_EQ(efi_guid_string(kEfiGlobalVariableGuid), "8be4df61-93ca-11d2-aa0d-00e098032b8c");
  EXPECT_EQ(efi_guid_string(kEfiImageSecurityDatabaseGuid), "d719b2cb-3d3a-4596-a3bc-dad00e67656f");
}

TEST(Uefi, Ucs2) {
  EXPECT_EQ(to_hex(to_ucs2le("Ab", false)), "41006200");
  EXPECT_EQ(to_hex(to_ucs2le("Ab", true)), "410062000000");
  EXPECT_EQ(to_hex(to_ucs2le("\xc3\xa9", false)), "e900");          // é
  EXPECT_EQ(to_hex(to_ucs2le("\xf0\x9f\x98\x80", false)), "fdff");  // outside the BMP → U+FFFD
  EXPECT_EQ(to_hex(to_ucs2le("\xff", false)), "fdff");              // malformed UTF-8
  EXPECT_EQ(from_ucs2le(to_ucs2le("SecureBoot", true)).value(), "SecureBoot");
  EXPECT_EQ(from_ucs2le(from_hex("e900").value()).value(), "\xc3\xa9");
  EXPECT_EQ(from_ucs2le(from_hex("00d8").value()).value(), "\xef\xbf\xbd");  // lone surrogate
  EXPECT_EQ(from_ucs2le(from_hex("410000004200").value()).value(), "A");      // stops at NUL
  EXPECT_EQ(from_ucs2le(Bytes{0x41}).error().code, ErrorCode::kDecode);
}

TEST(Uefi, VariableDataRoundTrip) {
  const Bytes data = {1, 2, 3};
  const Bytes encoded = marshal_uefi_variable_data(kEfiGlobalVariableGuid, "KEK", data);
  EXPECT_EQ(encoded.size(), 16u + 8 + 8 + 6 + 3);
  EXPECT_EQ(to_hex(ByteSpan(encoded).subspan(16, 16)), "0300000000000000" "0300000000000000");
  auto parsed = parse_uefi_variable_data(encoded);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->vendor_guid, kEfiGlobalVariableGuid);
  EXPECT_EQ(parsed->name, "KEK");
  EXPECT_EQ(parsed->data, data);
  // Empty name and data.
  auto empty = parse_uefi_variable_data(marshal_uefi_variable_data(kEfiGlobalVariableGuid, "", {}));
  ASSERT_TRUE(empty.has_value());
  EXPECT_TRUE(empty->name.empty());
  EXPECT_TRUE(empty->data.empty());
}

TEST(Uefi, VariableDataBounds) {
  const Bytes encoded = marshal_uefi_variable_data(kEfiGlobalVariableGuid, "db", Bytes(10, 7));
  for (size_t n = 0; n < encoded.size(); ++n) {
    EXPECT_FALSE(parse_uefi_variable_data(ByteSpan(encoded).first(n)).has_value()) << n;
  }
  Bytes trailing = encoded;
  trailing.push_back(0);
  EXPECT_EQ(parse_uefi_variable_data(trailing).error().code, ErrorCode::kDecode);
  // Lengths that would overflow when doubled or added.
  for (uint64_t name_chars : {uint64_t{1} << 63, ~uint64_t{0}, uint64_t{100}}) {
    Bytes bad(kEfiGlobalVariableGuid.begin(), kEfiGlobalVariableGuid.end());
    append_le<uint64_t>(bad, name_chars);
    append_le<uint64_t>(bad, ~uint64_t{0});
    append(bad, Bytes(8, 0x41));
    EXPECT_EQ(parse_uefi_variable_data(bad).error().code, ErrorCode::kDecode);
  }
}

}  // namespace
}  // namespace openpcc::attest

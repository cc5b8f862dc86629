// The UEFI pieces that firmware measures into PCR 7 (and that a verifier reads back out of the event log): vendor
// GUIDs in their on-the-wire byte order, UCS-2 strings and UEFI_VARIABLE_DATA (TCG PC Client Platform Firmware
// Profile, "UEFI_VARIABLE_DATA"):
//
//   EFI_GUID VariableName; UINT64 UnicodeNameLength (characters); UINT64 VariableDataLength;
//   CHAR16 UnicodeName[UnicodeNameLength] (no terminator); INT8 VariableData[VariableDataLength]   (little-endian)
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/error.h"

namespace openpcc::attest {

// An EFI_GUID as stored in memory: the first three fields little-endian, the last eight bytes as written.
using EfiGuid = std::array<uint8_t, 16>;
// EFI_GLOBAL_VARIABLE 8be4df61-93ca-11d2-aa0d-00e098032b8c (SecureBoot, PK, KEK, Boot####, ...).
inline constexpr EfiGuid kEfiGlobalVariableGuid = {0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11,
                                                   0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c};
// EFI_IMAGE_SECURITY_DATABASE_GUID d719b2cb-3d3a-4596-a3bc-dad00e67656f (db, dbx).
inline constexpr EfiGuid kEfiImageSecurityDatabaseGuid = {0xcb, 0xb2, 0x19, 0xd7, 0x3a, 0x3d, 0x96, 0x45,
                                                          0xa3, 0xbc, 0xda, 0xd0, 0x0e, 0x67, 0x65, 0x6f};

// "8be4df61-93ca-11d2-aa0d-00e098032b8c".
std::string efi_guid_string(const EfiGuid& guid);

// UCS-2 little-endian code units of an ASCII/UTF-8 string (characters outside the Basic Multilingual Plane become
// U+FFFD), optionally followed by a NUL unit.
Bytes to_ucs2le(std::string_view utf8, bool nul_terminate);
// UTF-8 of UCS-2 little-endian units; stops at the first NUL unit. Odd lengths are an error; unpaired surrogates
// become U+FFFD.
Result<std::string> from_ucs2le(ByteSpan ucs2);

struct UefiVariableData {
  EfiGuid vendor_guid{};
  std::string name;  // UTF-8 of UnicodeName
  Bytes data;
};

Bytes marshal_uefi_variable_data(const EfiGuid& vendor_guid, std::string_view name, ByteSpan data);
// The whole input must be one UEFI_VARIABLE_DATA.
Result<UefiVariableData> parse_uefi_variable_data(ByteSpan in);

}  // namespace openpcc::attest

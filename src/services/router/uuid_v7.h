// UUIDv7 identifiers (RFC 9562 §5.7), the only kind of node id the router accepts (as the reference does).
//
// Layout (128 bits, big-endian): 48-bit unix time in milliseconds ‖ version 0b0111 ‖ 12 random bits ‖
// variant 0b10 ‖ 62 random bits. Text form: 8-4-4-4-12 lowercase hex digits.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace openpcc::router {

// A fresh UUIDv7 in lowercase text form: the current time plus 74 bits from common/random.h.
std::string new_uuid_v7();
// The same at a given time (tests; times before 1970 or past the 48-bit range are clamped).
std::string new_uuid_v7(std::chrono::system_clock::time_point now);

// True iff `text` is the 36-character text form of a UUID whose version is 7 and whose variant is RFC 9562's
// (hex digits in either case, as RFC 9562 asks parsers to accept).
bool is_uuid_v7(std::string_view text);

// The canonical (lowercase) text of a UUID accepted by is_uuid_v7.
std::string canonical_uuid(std::string_view text);

}  // namespace openpcc::router

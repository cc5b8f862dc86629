// Credit parsing (currency/credit.h): never crashes on any bytes, read as a serialized Credit, as an X-Credit header
// and as an X-Refund-Amount value. Whatever parses re-serializes canonically: parse → serialize → parse gives the
// same credit and the same bytes again, and the header form round-trips.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "currency/credit.h"

using openpcc::ByteSpan;
using openpcc::currency::Credit;

namespace {

void check_round_trip(const Credit& credit) {
  const openpcc::Bytes bytes = credit.serialize();
  auto again = Credit::parse(bytes);
  if (!again || !(*again == credit) || again->serialize() != bytes) std::abort();
  auto from_header = Credit::from_header(credit.to_header());
  if (!from_header || !(*from_header == credit)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ByteSpan bytes(data, size);
  if (auto credit = Credit::parse(bytes)) check_round_trip(*credit);

  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto credit = Credit::from_header(text)) check_round_trip(*credit);

  if (auto value = openpcc::currency::value_from_header(text)) {
    auto again = openpcc::currency::value_from_header(openpcc::currency::value_to_header(*value));
    if (!again || !(*again == *value)) std::abort();
  }
  return 0;
}

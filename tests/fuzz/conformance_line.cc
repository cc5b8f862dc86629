// One conformance harness input line: whatever the bytes, the harness answers exactly one line of valid JSON that is
// an object, without a newline inside, and never crashes. Covers the JSON parsing, the field accessors and every
// op's argument handling (hpke.*, bhttp.*, ohttp.*).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "conformance/harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Building the op table per input keeps the target free of global state; it is cheap next to parsing.
  const auto harness = openpcc::conformance::Harness::with_all_operations();
  std::string_view line(reinterpret_cast<const char*>(data), size);
  if (line.find('\n') != std::string_view::npos) return 0;  // the harness is line-framed by its caller
  std::string answer = harness.answer_line(line);
  if (answer.find('\n') != std::string::npos) std::abort();
  auto parsed = nlohmann::json::parse(answer, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) std::abort();
  return 0;
}

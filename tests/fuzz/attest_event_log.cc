// TCG event log parsing and replay (attest/event_log.h) on arbitrary bytes. Nothing may crash. A log that parses is
// replayed over all 24 PCRs and read for SecureBoot and kernel command lines; then its events are written again with
// EventLogWriter (SHA-256 only) and must parse back to the same events, locality and PCR values.
#include <cstdint>
#include <cstdlib>
#include <numeric>
#include <vector>

#include "attest/event_log.h"

using namespace openpcc;
using namespace openpcc::attest;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto log = parse_event_log(ByteSpan(data, size));
  if (!log) return 0;
  std::vector<uint32_t> all(24);
  std::iota(all.begin(), all.end(), 0u);
  const PcrValues values = replay_event_log(*log, all);
  if (values.size() != 24) std::abort();
  (void)secure_boot_enabled(*log);
  (void)kernel_cmdlines(*log);

  EventLogWriter writer;  // the locality event, if any, is among the events and is copied like the others
  for (const TcgEvent& ev : log->events) {
    if (!writer.add_with_digest(ev.pcr, ev.type, ev.sha256, ev.data)) std::abort();
  }
  auto again = parse_event_log(writer.bytes());
  if (!again || again->events.size() != log->events.size() || again->startup_locality != log->startup_locality) {
    std::abort();
  }
  for (size_t i = 0; i < log->events.size(); ++i) {
    const TcgEvent& a = log->events[i];
    const TcgEvent& b = again->events[i];
    if (a.pcr != b.pcr || a.type != b.type || a.sha256 != b.sha256 || a.data != b.data) std::abort();
  }
  if (replay_event_log(*again, all) != values) std::abort();
  return 0;
}

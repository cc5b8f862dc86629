// A verifier's event-log work on the real 37,618-byte GCE log (tests/data/attestation/tcg_eventlog.txt: 100 events,
// SHA-1/SHA-256/SHA-384 banks): parse_event_log, replay_event_log over the attested PCRs, and both together.
//
// The floor (below, raw EVP) is the hashing a replay cannot skip: one SHA-256 extend per measured event in an
// attested PCR (84 of the 100), with the digests already located in the buffer, SHA-256 fetched once and one
// EVP_MD_CTX reused. Ours on top: walking and bounds-checking every field of every event, copying each event's
// SHA-256 digest and data (the log keeps them), and building the PcrValues map. Throughput is log bytes per second.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <vector>

#include "attest/event_log.h"
#include "floor.h"
#include "support/txtar.h"

namespace openpcc::bench {
namespace {

using namespace openpcc::attest;

const Bytes& gce_log() {
  static const Bytes log = [] {
    const auto path = std::filesystem::path(__FILE__).parent_path().parent_path() / "tests" / "data" /
                      "attestation" / "tcg_eventlog.txt";
    auto bytes = test_support::txtar_pem(path, "test_tcg_event_log.pem", "LOG");
    check(bytes.has_value() && bytes->size() == 37618, "reading tests/data/attestation/tcg_eventlog.txt");
    return *bytes;
  }();
  return log;
}

// The SHA-256 extends of a replay, on digests located once.
class FloorReplay {
 public:
  explicit FloorReplay(const EventLog& log) : md_(EVP_MD_fetch(nullptr, "SHA2-256", nullptr)), ctx_(EVP_MD_CTX_new()) {
    check(md_ != nullptr && ctx_ != nullptr, "SHA-256 setup");
    for (const TcgEvent& ev : log.events) {
      if (ev.type == kEvNoAction) continue;
      for (size_t i = 0; i < kAttestedPcrs.size(); ++i) {
        if (kAttestedPcrs[i] == ev.pcr) steps_.push_back({i, ev.sha256.data()});
      }
    }
  }
  ~FloorReplay() {
    EVP_MD_CTX_free(ctx_);
    EVP_MD_free(md_);
  }
  size_t steps() const { return steps_.size(); }

  void replay(uint8_t (&pcrs)[kAttestedPcrs.size()][32]) {
    std::memset(pcrs, 0, sizeof(pcrs));
    for (const Step& s : steps_) {
      unsigned int len = 0;
      bool ok = EVP_DigestInit_ex(ctx_, md_, nullptr) == 1 && EVP_DigestUpdate(ctx_, pcrs[s.pcr], 32) == 1 &&
                EVP_DigestUpdate(ctx_, s.digest, 32) == 1 && EVP_DigestFinal_ex(ctx_, pcrs[s.pcr], &len) == 1;
      check(ok, "SHA-256");
    }
  }

 private:
  struct Step {
    size_t pcr;
    const uint8_t* digest;
  };
  EVP_MD* md_;
  EVP_MD_CTX* ctx_;
  std::vector<Step> steps_;
};

OPENPCC_BENCH_OP EventLog op_parse(const Bytes& bytes) { return parse_event_log(bytes).value(); }
OPENPCC_BENCH_OP PcrValues op_replay(const EventLog& log) { return replay_event_log(log, kAttestedPcrs); }

void set_bytes(benchmark::State& state) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * gce_log().size()));
}

void BM_Parse(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(op_parse(gce_log()));
  set_bytes(state);
}

void BM_Replay(benchmark::State& state) {
  const EventLog log = op_parse(gce_log());
  for (auto _ : state) benchmark::DoNotOptimize(op_replay(log));
  set_bytes(state);
}

void BM_ParseAndReplay(benchmark::State& state) {
  for (auto _ : state) {
    const EventLog log = op_parse(gce_log());
    benchmark::DoNotOptimize(op_replay(log));
  }
  set_bytes(state);
}

void BM_ReplayFloor(benchmark::State& state) {
  const EventLog log = op_parse(gce_log());
  FloorReplay floor(log);
  uint8_t pcrs[kAttestedPcrs.size()][32];
  for (auto _ : state) {
    floor.replay(pcrs);
    benchmark::DoNotOptimize(pcrs);
  }
  state.counters["extends"] = static_cast<double>(floor.steps());
  set_bytes(state);
}

BENCHMARK(BM_Parse)->Name("event_log/parse/ours");
BENCHMARK(BM_Replay)->Name("event_log/replay/ours");
BENCHMARK(BM_ParseAndReplay)->Name("event_log/parse_and_replay/ours");
BENCHMARK(BM_ReplayFloor)->Name("event_log/replay/floor");

}  // namespace
}  // namespace openpcc::bench

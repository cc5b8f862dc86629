// UsageMeter throughput: what metering costs a compute node per byte of engine output.
//
// Bodies: an OpenAI chat SSE stream of 1,000 tokens with stream_options.include_usage (every chunk carries
// "usage": null, the last one the counts), and the Ollama NDJSON stream of the same answer. Fed either one event per
// feed() (how a node sees a token-by-token engine) or in 16 KiB pieces (a client read size).
//
// Floor (same run, same bytes): find the line ends with memchr and run nlohmann's json::accept() on every line's JSON
// — the least a meter that must look at every line can do (validation without extracting anything). Ours adds line
// reassembly across pieces, the whole-body copy for bodies that start with '{' (NDJSON), and the extraction.
#include <benchmark/benchmark.h>

#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/bytes.h"
#include "services/engine/usage_meter.h"

namespace openpcc::bench {
namespace {

constexpr int kTokens = 1000;

std::vector<std::string> openai_events() {
  std::vector<std::string> events;
  const std::string head =
      R"(data: {"id":"chatcmpl-AbCdEf0123456789","object":"chat.completion.chunk","created":1727000000,)"
      R"("model":"llama-3.1-8b-instruct","system_fingerprint":"fp_0123456789","choices":[{"index":0,"delta":{)";
  events.push_back(head + R"("role":"assistant","content":""},"logprobs":null,"finish_reason":null}],"usage":null})" +
                   "\n\n");
  for (int i = 0; i < kTokens; ++i) {
    events.push_back(head + R"("content":" word)" + std::to_string(i % 97) +
                     R"("},"logprobs":null,"finish_reason":null}],"usage":null})" + "\n\n");
  }
  events.push_back(head + R"(},"logprobs":null,"finish_reason":"length"}],"usage":null})" + "\n\n");
  events.push_back(R"(data: {"id":"chatcmpl-AbCdEf0123456789","object":"chat.completion.chunk","created":1727000000,)"
                   R"("model":"llama-3.1-8b-instruct","choices":[],"usage":{"prompt_tokens":29,)"
                   R"("completion_tokens":1000,"total_tokens":1029}})"
                   "\n\n");
  events.push_back("data: [DONE]\n\n");
  return events;
}

std::vector<std::string> ollama_events() {
  std::vector<std::string> events;
  for (int i = 0; i < kTokens; ++i) {
    events.push_back(R"({"model":"llama3.2:1b","created_at":"2025-01-01T00:00:00.123456Z","message":{"role":)"
                     R"("assistant","content":" word)" +
                     std::to_string(i % 97) + R"("},"done":false})" + "\n");
  }
  events.push_back(R"({"model":"llama3.2:1b","created_at":"2025-01-01T00:00:00.123456Z","message":{"role":)"
                   R"("assistant","content":""},"done_reason":"length","done":true,"total_duration":5191566416,)"
                   R"("load_duration":2154458,"prompt_eval_count":29,"prompt_eval_duration":383809000,)"
                   R"("eval_count":1000,"eval_duration":4799921000})"
                   "\n");
  return events;
}

std::vector<std::string> in_pieces(const std::vector<std::string>& events, size_t size) {
  std::string all;
  for (const auto& e : events) all += e;
  std::vector<std::string> pieces;
  for (size_t at = 0; at < all.size(); at += size) pieces.push_back(all.substr(at, size));
  return pieces;
}

size_t total_bytes(const std::vector<std::string>& pieces) {
  size_t n = 0;
  for (const auto& p : pieces) n += p.size();
  return n;
}

void run_meter(benchmark::State& state, const std::vector<std::string>& pieces, engine::Usage expected) {
  for (auto _ : state) {
    engine::UsageMeter meter;
    for (const auto& p : pieces) meter.feed(as_bytes(p));
    meter.finish();
    if (meter.usage() != expected) state.SkipWithError("wrong usage");
    benchmark::DoNotOptimize(meter.usage());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * total_bytes(pieces)));
}

// The floor: the same bytes, joined, split at line ends, each line's JSON validated.
void run_floor(benchmark::State& state, const std::vector<std::string>& pieces) {
  std::string all;
  for (const auto& p : pieces) all += p;
  for (auto _ : state) {
    size_t valid = 0;
    const char* at = all.data();
    const char* end = all.data() + all.size();
    while (at < end) {
      const char* nl = static_cast<const char*>(std::memchr(at, '\n', static_cast<size_t>(end - at)));
      if (!nl) nl = end;
      std::string_view line(at, static_cast<size_t>(nl - at));
      if (line.starts_with("data: ")) line.remove_prefix(6);
      if (!line.empty() && line.front() == '{' && nlohmann::json::accept(line)) ++valid;
      at = nl + 1;
    }
    benchmark::DoNotOptimize(valid);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * all.size()));
}

const engine::Usage kExpected{29, 1000};

void BM_OpenAiSsePerEvent(benchmark::State& state) { run_meter(state, openai_events(), kExpected); }
void BM_OpenAiSse16KiB(benchmark::State& state) { run_meter(state, in_pieces(openai_events(), 16384), kExpected); }
void BM_OpenAiSseFloor(benchmark::State& state) { run_floor(state, openai_events()); }
void BM_OllamaNdjsonPerEvent(benchmark::State& state) { run_meter(state, ollama_events(), kExpected); }
void BM_OllamaNdjson16KiB(benchmark::State& state) { run_meter(state, in_pieces(ollama_events(), 16384), kExpected); }
void BM_OllamaNdjsonFloor(benchmark::State& state) { run_floor(state, ollama_events()); }

BENCHMARK(BM_OpenAiSsePerEvent);
BENCHMARK(BM_OpenAiSse16KiB);
BENCHMARK(BM_OpenAiSseFloor);
BENCHMARK(BM_OllamaNdjsonPerEvent);
BENCHMARK(BM_OllamaNdjson16KiB);
BENCHMARK(BM_OllamaNdjsonFloor);

}  // namespace
}  // namespace openpcc::bench

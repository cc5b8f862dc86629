// One private chat request through the whole system, against the same request sent straight to the engine.
//
// The stack is tests/support/full_stack.h: every service a real one started from its config in this process
// (AuthBank, BlindBank, router, gateway, relay, a compute node booted on swtpm, the built-in test engine at token
// delay 0), and a client::Client created from its client.json as `openpcc chat` does. Everything talks HTTP over
// loopback, so each hop costs what it costs in production minus the network.
//
//   e2e/chat_16_tokens/paired     per iteration one direct request and one private request (their order alternating),
//                                 so that both see the same load. The private path: client → relay → gateway → router
//                                 → node (TPM decap on swtpm) → engine and back, with payment and refund. The floor:
//                                 the node's own engine request (POST /v1/chat/completions, the same JSON, on a
//                                 pooled connection as the node's own) from a net::Client in this process. A streamed
//                                 chat answer of 16 tokens. Manual time = the private request's latency. Counters
//                                 (milliseconds): p50/p99 of the whole request and of the time to the first body byte
//                                 (first token), for both paths and their difference; the node's mean TPM decap
//                                 time over the same requests (its decapsulation_seconds histogram) and the p50
//                                 overhead without it; the mean time each hop spent on a request (relay, gateway,
//                                 router, node, from their request histograms; the relay and gateway ones include
//                                 the wallet's bank traffic, whose count is given); and, sampled every 20th
//                                 iteration between requests, the p50 time of one durable file replacement in the
//                                 stack's directory (as a wallet state save does it), because sync latency on a
//                                 shared disk decides much of the result (see docs/BENCHMARKS.md).
//   e2e/throughput/{private,direct}/clients:N
//                                 N request loops in parallel (N client::Client objects for the private path, each
//                                 with its own wallet; N loops of direct requests for the floor), a fixed number of
//                                 requests each; counters requests_per_s (wall clock) and cpu_ms_per_request (this
//                                 process's CPU time, every thread, over the requests: the machine's cost of one).
//
// Before measuring, the private answer's text equals the direct one's, with 16 tokens.
//
// A request's time includes everything a caller waits for: node choice (cached after the first request), the
// credit (prefetched by the wallet), sealing, the stream, decryption and the refund's unblinding. The wallet's
// background bank operations run on the same runtime during the measurement, as they would in an application.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>
#include <sys/resource.h>

#include "client/client.h"
#include "common/bytes.h"
#include "net/client.h"
#include "net/runtime.h"
#include "services/common/key_files.h"
#include "services/engine/engine.h"
#include "setup.h"
#include "support/full_stack.h"

namespace openpcc::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kTokens = 16;
constexpr char kPrompt[] = "How long does a private request take?";

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// One request's timings and answer.
struct Sample {
  double total_ms = 0;
  double first_byte_ms = 0;  // time to the first body byte (the first token's event)
  Bytes body;
};

// The concatenated delta contents of an OpenAI chat SSE stream, and its token events.
struct SseText {
  std::string text;
  int token_events = 0;
};
SseText sse_text(const Bytes& body) {
  SseText out;
  const std::string s(body.begin(), body.end());
  size_t at = 0;
  while (at < s.size()) {
    size_t end = s.find('\n', at);
    if (end == std::string::npos) end = s.size();
    std::string_view line(s.data() + at, end - at);
    at = end + 1;
    if (!line.starts_with("data: ") || line == "data: [DONE]") continue;
    auto event = nlohmann::json::parse(line.substr(6), nullptr, false);
    if (event.is_discarded()) die("an SSE event that is not JSON");
    if (!event.contains("choices") || event["choices"].empty()) continue;
    const auto& delta = event["choices"][0]["delta"];
    if (delta.contains("content") && delta["content"].is_string() && !delta["content"].get<std::string>().empty()) {
      out.text += delta["content"].get<std::string>();
      ++out.token_events;
    }
  }
  return out;
}

// Histogram sums and counts from a service's /metrics (Prometheus text), by metric name.
struct HistogramTotals {
  double sum = 0;
  double count = 0;
};
std::map<std::string, HistogramTotals> read_histograms(const std::string& base_url) {
  auto got = net::fetch_blocking(net::ClientRequest("GET", base_url + "/metrics"));
  if (!got || got->status != 200) die("GET " + base_url + "/metrics");
  std::map<std::string, HistogramTotals> out;
  const std::string text(got->body.begin(), got->body.end());
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + at, end - at);
    at = end + 1;
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    if (space == std::string_view::npos || line.find('{') != std::string_view::npos) continue;
    const std::string name(line.substr(0, space));
    const double value = std::strtod(std::string(line.substr(space + 1)).c_str(), nullptr);
    if (name.ends_with("_sum")) out[name.substr(0, name.size() - 4)].sum = value;
    if (name.ends_with("_count")) out[name.substr(0, name.size() - 6)].count = value;
  }
  return out;
}

class Stack {
 public:
  Stack() {
    test_support::FullStackOptions options;
    options.token_delay = std::chrono::milliseconds(0);
    options.funds = 1'000'000'000'000;
    options.client_threads = 2;
    stack_ = must(test_support::FullStack::start(std::move(options)), "full stack");
    engine_url_ = stack_->engine->url() + std::string(engine::kOpenAiChatCompletionsPath);
    direct_ = must(net::Client::create(), "direct HTTP client");
    // A second client, as a second application would be: its own wallet.
    client::ClientConfig second = stack_->config;
    second.wallet.state_file = stack_->dir.path() / "wallet-2.state";
    second_client_ = must(client::Client::create(*stack_->runtime, second), "second client");

    // Cross-check: the same answer both ways, and a warm cache (verified node, prefetched credits, connections).
    Sample direct = must(run([&] { return direct_request(); }), "direct request");
    Sample through_first = must(run([&] { return private_request(*stack_->client); }), "private request");
    Sample through_second = must(run([&] { return private_request(*second_client_); }), "private request 2");
    const SseText a = sse_text(direct.body), b = sse_text(through_first.body), c = sse_text(through_second.body);
    if (a.token_events != kTokens) die("the direct answer has " + std::to_string(a.token_events) + " tokens");
    if (a.text != b.text || a.text != c.text) die("the private answer differs from the direct one");
  }

  ~Stack() {
    if (second_client_) {
      stack_->runtime->block_on([&]() -> net::Task<void> { (void)co_await second_client_->close(); });
      second_client_.reset();
    }
    stack_.reset();
  }

  client::Client& client(int i) { return i == 0 ? *stack_->client : *second_client_; }
  test_support::FullStack& full() { return *stack_; }

  // Runs one request coroutine to completion from a thread outside the runtime.
  Result<Sample> run(const std::function<net::Task<Result<Sample>>()>& request) {
    return stack_->runtime->block_on(request);
  }

  net::Task<Result<Sample>> private_request(client::Client& client) {
    Sample sample;
    const auto started = Clock::now();
    client::Request request = test_support::FullStack::chat_request(kPrompt, test_support::kFullStackModel, kTokens);
    auto response = co_await client.request(std::move(request));
    if (!response) co_return std::unexpected(response.error());
    if ((*response)->status() != 200) co_return make_error(ErrorCode::kInternal, "private: status not 200");
    std::optional<Clock::time_point> first;
    for (;;) {
      auto piece = co_await (*response)->read_chunk();
      if (!piece) co_return std::unexpected(piece.error());
      if (!*piece) break;
      if (!first && !(*piece)->empty()) first = Clock::now();
      append(sample.body, **piece);
    }
    const auto ended = Clock::now();
    if (!first) co_return make_error(ErrorCode::kInternal, "private: empty answer");
    sample.total_ms = ms_between(started, ended);
    sample.first_byte_ms = ms_between(started, *first);
    co_return sample;
  }

  net::Task<Result<Sample>> direct_request() {
    Sample sample;
    const auto started = Clock::now();
    net::ClientRequest request("POST", engine_url_, body_, net::Headers{{"Content-Type", "application/json"}});
    auto stream = co_await direct_->send(std::move(request));
    if (!stream) co_return std::unexpected(stream.error());
    if ((*stream)->status() != 200) co_return make_error(ErrorCode::kInternal, "direct: status not 200");
    std::optional<Clock::time_point> first;
    for (;;) {
      auto piece = co_await (*stream)->read_chunk();
      if (!piece) co_return std::unexpected(piece.error());
      if (!*piece) break;
      if (!first && !(*piece)->empty()) first = Clock::now();
      append(sample.body, **piece);
    }
    const auto ended = Clock::now();
    if (!first) co_return make_error(ErrorCode::kInternal, "direct: empty answer");
    sample.total_ms = ms_between(started, ended);
    sample.first_byte_ms = ms_between(started, *first);
    co_return sample;
  }

 private:
  static void append(Bytes& to, const Bytes& piece) { to.insert(to.end(), piece.begin(), piece.end()); }

  std::unique_ptr<test_support::FullStack> stack_;
  std::unique_ptr<client::Client> second_client_;
  std::string engine_url_;
  Bytes body_ = test_support::FullStack::chat_request(kPrompt, test_support::kFullStackModel, kTokens).body;
  std::optional<net::Client> direct_;
};

// Created by main() on its thread (swtpm dies with the thread that started it), destroyed before exit.
Stack* g_stack = nullptr;

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  // Nearest rank.
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(values.size())));
  rank = std::clamp<size_t>(rank, 1, values.size());
  return values[rank - 1];
}

// Mean seconds → ms per observation between two metric snapshots.
double mean_ms(const std::map<std::string, HistogramTotals>& before, const std::map<std::string, HistogramTotals>& after,
               const std::string& name, double* count = nullptr) {
  auto a = after.find(name);
  if (a == after.end()) die("no histogram " + name);
  auto b = before.find(name);
  const double sum = a->second.sum - (b == before.end() ? 0 : b->second.sum);
  const double n = a->second.count - (b == before.end() ? 0 : b->second.count);
  if (count) *count = n;
  return n > 0 ? 1000.0 * sum / n : 0;
}

struct Snapshot {
  std::map<std::string, HistogramTotals> relay, gateway, router, node;
};
Snapshot snapshot(test_support::FullStack& s) {
  return {read_histograms(s.relay->url()), read_histograms(s.gateway->url()), read_histograms(s.router->url()),
          read_histograms(s.node->url())};
}

// Times `n` durable file replacements (services::write_secret_file_atomically: write, fsync, rename, fsync of the
// directory) of a wallet-state-sized file in the stack's directory: what one wallet state save costs on this disk
// right now. The disk is shared, and its sync latency changes by 10x from one minute to the next.
void probe_durable_writes(test_support::FullStack& s, int n, std::vector<double>& out) {
  const Bytes content(2600, 0x5a);
  const auto path = s.dir.path() / "durable-write-probe";
  for (int i = 0; i < n; ++i) {
    const auto started = Clock::now();
    if (auto ok = services::write_secret_file_atomically(path, content); !ok) die("durable write probe");
    out.push_back(ms_between(started, Clock::now()));
  }
}

void BM_paired(benchmark::State& state) {
  Stack& stack = *g_stack;
  std::vector<double> private_total, private_first, direct_total, direct_first, durable_writes;
  const Snapshot before = snapshot(stack.full());
  int64_t i = 0;
  for (auto _ : state) {
    Sample direct, through;
    auto do_direct = [&] { direct = must(stack.run([&] { return stack.direct_request(); }), "direct request"); };
    auto do_private = [&] {
      through = must(stack.run([&] { return stack.private_request(stack.client(0)); }), "private request");
    };
    if (i % 20 == 0) probe_durable_writes(stack.full(), 1, durable_writes);  // between requests, untimed
    if (i++ % 2 == 0) {
      do_direct();
      do_private();
    } else {
      do_private();
      do_direct();
    }
    state.SetIterationTime(through.total_ms / 1000.0);
    private_total.push_back(through.total_ms);
    private_first.push_back(through.first_byte_ms);
    direct_total.push_back(direct.total_ms);
    direct_first.push_back(direct.first_byte_ms);
  }
  const Snapshot after = snapshot(stack.full());

  auto& c = state.counters;
  c["priv_p50"] = percentile(private_total, 50);
  c["priv_p99"] = percentile(private_total, 99);
  c["dir_p50"] = percentile(direct_total, 50);
  c["dir_p99"] = percentile(direct_total, 99);
  c["over_p50"] = c["priv_p50"] - c["dir_p50"];
  c["over_p99"] = c["priv_p99"] - c["dir_p99"];
  c["ttft_priv_p50"] = percentile(private_first, 50);
  c["ttft_priv_p99"] = percentile(private_first, 99);
  c["ttft_dir_p50"] = percentile(direct_first, 50);
  c["ttft_dir_p99"] = percentile(direct_first, 99);
  c["ttft_over_p50"] = c["ttft_priv_p50"] - c["ttft_dir_p50"];
  c["ttft_over_p99"] = c["ttft_priv_p99"] - c["ttft_dir_p99"];
  double decaps = 0, relayed = 0, gatewayed = 0;
  c["tpm_decap_mean"] = mean_ms(before.node, after.node, "openpcc_computenode_decapsulation_seconds", &decaps);
  c["over_p50_no_tpm"] = c["over_p50"] - c["tpm_decap_mean"];
  c["relay_mean"] = mean_ms(before.relay, after.relay, "openpcc_relay_request_seconds", &relayed);
  c["gateway_mean"] = mean_ms(before.gateway, after.gateway, "openpcc_gateway_request_seconds", &gatewayed);
  c["router_mean"] = mean_ms(before.router, after.router, "openpcc_router_compute_request_seconds");
  c["node_mean"] = mean_ms(before.node, after.node, "openpcc_computenode_request_seconds");
  c["engine_1st_byte_mean"] = mean_ms(before.node, after.node, "openpcc_computenode_engine_first_byte_seconds");
  c["relay_requests"] = relayed;
  c["gateway_requests"] = gatewayed;
  c["node_requests"] = decaps;
  c["durable_write_p50"] = percentile(durable_writes, 50);
}

// CPU time (user + system) of this process so far, all threads: every service, the client, the engine. Not swtpm,
// which is its own process.
double process_cpu_ms() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto ms = [](const timeval& t) { return 1000.0 * static_cast<double>(t.tv_sec) + t.tv_usec / 1000.0; };
  return ms(usage.ru_utime) + ms(usage.ru_stime);
}

// N loops of `per_loop` requests in parallel; requests per second over the wall time of the whole batch, and the
// process's CPU time per request (everything in this process, including the wallet's background bank work).
void BM_throughput(benchmark::State& state, bool through_stack) {
  Stack& stack = *g_stack;
  const int loops = static_cast<int>(state.range(0));
  const int per_loop = static_cast<int>(state.range(1));
  double total_requests = 0, total_seconds = 0, total_cpu_ms = 0;
  for (auto _ : state) {
    const double cpu_started = process_cpu_ms();
    std::atomic<bool> failed{false};
    std::vector<std::thread> threads;
    const auto started = Clock::now();
    for (int t = 0; t < loops; ++t) {
      threads.emplace_back([&, t] {
        for (int k = 0; k < per_loop && !failed; ++k) {
          auto sample = through_stack ? stack.run([&] { return stack.private_request(stack.client(t)); })
                                      : stack.run([&] { return stack.direct_request(); });
          if (!sample) {
            std::fprintf(stderr, "request failed: %s\n", sample.error().to_string().c_str());
            failed = true;
          }
        }
      });
    }
    for (auto& thread : threads) thread.join();
    if (failed) die("a request failed during the throughput run");
    const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
    total_cpu_ms += process_cpu_ms() - cpu_started;
    state.SetIterationTime(seconds);
    total_requests += loops * per_loop;
    total_seconds += seconds;
  }
  state.counters["requests_per_s"] = total_requests / total_seconds;
  state.counters["cpu_ms_per_request"] = total_cpu_ms / total_requests;
}

BENCHMARK(BM_paired)->Name("e2e/chat_16_tokens/paired")->UseManualTime()->Iterations(500)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_throughput, private, true)
    ->Name("e2e/throughput/private")
    ->ArgsProduct({{1, 2}, {150}})
    ->ArgNames({"clients", "each"})
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_throughput, direct, false)
    ->Name("e2e/throughput/direct")
    ->ArgsProduct({{1, 2}, {150}})
    ->ArgNames({"clients", "each"})
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace openpcc::bench

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  auto stack = std::make_unique<openpcc::bench::Stack>();
  openpcc::bench::g_stack = stack.get();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  openpcc::bench::g_stack = nullptr;
  stack.reset();
  return 0;
}

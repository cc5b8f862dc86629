// Prometheus metrics for a service's `GET /metrics` (text exposition format 0.0.4).
//
//   auto metrics = std::make_shared<services::Metrics>("openpcc_relay");
//   auto& requests = metrics->counter("requests_total", "Requests forwarded", {{"outcome", "ok"}});
//   auto& inflight = metrics->gauge("requests_in_flight", "Requests being forwarded");
//   auto& latency  = metrics->histogram("request_seconds", "Time to forward a request", kLatencyBuckets);
//   requests.inc(); inflight.add(1); latency.observe(0.004);
//   ... GET /metrics:  co_return co_await services::send_metrics(res, *metrics);
//
// Metrics hold no user data: label values must come from small fixed sets chosen by the service (an outcome, a
// route name, a status class), never from a request (no paths, addresses, tags, models or node ids).
//
// Registration returns a reference that stays valid as long as the Metrics object; registering the same name and
// labels again returns the same metric (so code may look metrics up where it uses them). Updates are lock-free
// atomics, safe from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"
#include "net/server.h"

namespace openpcc::services {

// Label name → value, rendered in name order.
using MetricLabels = std::vector<std::pair<std::string, std::string>>;

// Seconds: 0.5 ms … 60 s, for request latencies.
inline constexpr double kLatencyBuckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                             0.1,    0.25,  0.5,    1,     2.5,  10,    60};

class Counter {
 public:
  void inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void set(int64_t v) { value_.store(v, std::memory_order_relaxed); }
  void add(int64_t d) { value_.fetch_add(d, std::memory_order_relaxed); }
  int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

class Histogram {
 public:
  explicit Histogram(std::span<const double> bounds);
  void observe(double value);

  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  double sum() const;
  const std::vector<double>& bounds() const { return bounds_; }
  // Cumulative count of observations ≤ bounds()[i].
  uint64_t cumulative(size_t i) const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // non-cumulative, one per bound
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_micro_{0};  // sum in millionths, so that it can be an integer atomic
};

class Metrics {
 public:
  // `prefix` starts every metric name ("openpcc_router" → "openpcc_router_requests_total").
  explicit Metrics(std::string prefix);

  // Names: [a-z_][a-z0-9_]*; label names likewise. A name registered with another type or help text is a programming
  // error reported by returning the first registration's metric of the requested type under a "_conflict" name.
  Counter& counter(std::string_view name, std::string_view help, const MetricLabels& labels = {});
  Gauge& gauge(std::string_view name, std::string_view help, const MetricLabels& labels = {});
  Histogram& histogram(std::string_view name, std::string_view help, std::span<const double> bounds,
                       const MetricLabels& labels = {});

  // The exposition text, metrics in name order.
  std::string render() const;

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Family {
    Type type;
    std::string help;
    std::map<std::string, std::unique_ptr<Counter>> counters;  // by rendered label set
    std::map<std::string, std::unique_ptr<Gauge>> gauges;
    std::map<std::string, std::unique_ptr<Histogram>> histograms;
  };
  Family& family(std::string_view name, std::string_view help, Type type);

  std::string prefix_;
  mutable std::mutex mutex_;
  std::map<std::string, Family, std::less<>> families_;
};

// 200, text/plain; version=0.0.4, the rendered metrics.
net::Task<Status> send_metrics(net::ServerResponse& response, const Metrics& metrics);
// 200, application/json, {"status":"OK"} (the reference's health answer).
net::Task<Status> send_health(net::ServerResponse& response);

}  // namespace openpcc::services

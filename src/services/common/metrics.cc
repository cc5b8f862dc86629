#include "services/common/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace openpcc::services {
namespace {

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

// {a="1",b="2"} (empty string for no labels), with an optional extra label (histogram "le").
std::string render_labels(const MetricLabels& labels, std::string_view extra_name = {},
                          std::string_view extra_value = {}) {
  auto sorted = labels;
  std::sort(sorted.begin(), sorted.end());
  if (!extra_name.empty()) sorted.emplace_back(std::string(extra_name), std::string(extra_value));
  if (sorted.empty()) return {};
  std::string out = "{";
  for (size_t i = 0; i < sorted.size(); ++i) {
    if (i) out += ',';
    out += sorted[i].first + "=\"" + escape_label_value(sorted[i].second) + "\"";
  }
  return out + "}";
}

std::string format_double(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// Re-inserts an extra label into an already rendered label set "{...}".
std::string with_le(const std::string& rendered, const std::string& le) {
  const std::string label = "le=\"" + le + "\"";
  if (rendered.empty()) return "{" + label + "}";
  return rendered.substr(0, rendered.size() - 1) + "," + label + "}";
}

}  // namespace

Histogram::Histogram(std::span<const double> bounds)
    : bounds_(bounds.begin(), bounds.end()), buckets_(std::make_unique<std::atomic<uint64_t>[]>(bounds.size())) {
  std::sort(bounds_.begin(), bounds_.end());
  for (size_t i = 0; i < bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double value) {
  for (size_t i = 0; i < bounds_.size(); ++i) {
    if (value <= bounds_[i]) {
      buckets_[i].fetch_add(1, std::memory_order_relaxed);
      break;
    }
  }
  count_.fetch_add(1, std::memory_order_relaxed);
  const double micro = value * 1e6;
  if (micro > 0 && micro < 1.8e19) sum_micro_.fetch_add(static_cast<uint64_t>(micro), std::memory_order_relaxed);
}

double Histogram::sum() const { return static_cast<double>(sum_micro_.load(std::memory_order_relaxed)) / 1e6; }

uint64_t Histogram::cumulative(size_t i) const {
  uint64_t total = 0;
  for (size_t j = 0; j <= i && j < bounds_.size(); ++j) total += buckets_[j].load(std::memory_order_relaxed);
  return total;
}

Metrics::Metrics(std::string prefix) : prefix_(std::move(prefix)) {}

Metrics::Family& Metrics::family(std::string_view name, std::string_view help, Type type) {
  std::string key = prefix_.empty() ? std::string(name) : prefix_ + "_" + std::string(name);
  auto it = families_.find(key);
  if (it != families_.end() && it->second.type != type) {
    key += "_conflict";
    it = families_.find(key);
  }
  if (it == families_.end()) {
    it = families_.emplace(key, Family{type, std::string(help), {}, {}, {}}).first;
  }
  return it->second;
}

Counter& Metrics::counter(std::string_view name, std::string_view help, const MetricLabels& labels) {
  std::lock_guard lock(mutex_);
  auto& f = family(name, help, Type::kCounter);
  auto& slot = f.counters[render_labels(labels)];
  if (!slot) slot = std::make_unique<Counter>();
  return *slot;
}

Gauge& Metrics::gauge(std::string_view name, std::string_view help, const MetricLabels& labels) {
  std::lock_guard lock(mutex_);
  auto& f = family(name, help, Type::kGauge);
  auto& slot = f.gauges[render_labels(labels)];
  if (!slot) slot = std::make_unique<Gauge>();
  return *slot;
}

Histogram& Metrics::histogram(std::string_view name, std::string_view help, std::span<const double> bounds,
                              const MetricLabels& labels) {
  std::lock_guard lock(mutex_);
  auto& f = family(name, help, Type::kHistogram);
  auto& slot = f.histograms[render_labels(labels)];
  if (!slot) slot = std::make_unique<Histogram>(bounds);
  return *slot;
}

std::string Metrics::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& [name, f] : families_) {
    out += "# HELP " + name + " " + f.help + "\n";
    switch (f.type) {
      case Type::kCounter:
        out += "# TYPE " + name + " counter\n";
        for (const auto& [labels, c] : f.counters) out += name + labels + " " + std::to_string(c->value()) + "\n";
        break;
      case Type::kGauge:
        out += "# TYPE " + name + " gauge\n";
        for (const auto& [labels, g] : f.gauges) out += name + labels + " " + std::to_string(g->value()) + "\n";
        break;
      case Type::kHistogram:
        out += "# TYPE " + name + " histogram\n";
        for (const auto& [labels, h] : f.histograms) {
          for (size_t i = 0; i < h->bounds().size(); ++i) {
            out += name + "_bucket" + with_le(labels, format_double(h->bounds()[i])) + " " +
                   std::to_string(h->cumulative(i)) + "\n";
          }
          out += name + "_bucket" + with_le(labels, "+Inf") + " " + std::to_string(h->count()) + "\n";
          out += name + "_sum" + labels + " " + format_double(h->sum()) + "\n";
          out += name + "_count" + labels + " " + std::to_string(h->count()) + "\n";
        }
        break;
    }
  }
  return out;
}

net::Task<Status> send_metrics(net::ServerResponse& response, const Metrics& metrics) {
  net::Headers headers{{"Content-Type", "text/plain; version=0.0.4; charset=utf-8"}, {"Cache-Control", "no-store"}};
  const std::string body = metrics.render();
  co_return co_await response.send(200, std::move(headers), body);
}

net::Task<Status> send_health(net::ServerResponse& response) {
  net::Headers headers{{"Content-Type", "application/json"}, {"Cache-Control", "no-store"}};
  co_return co_await response.send(200, std::move(headers), std::string_view(R"({"status":"OK"})"));
}

}  // namespace openpcc::services

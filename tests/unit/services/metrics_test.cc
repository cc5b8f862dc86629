#include "services/common/metrics.h"

#include <gtest/gtest.h>

#include <thread>

namespace openpcc::services {
namespace {

TEST(MetricsTest, RendersCountersGaugesAndHistogramsInExpositionFormat) {
  Metrics m("openpcc_test");
  m.counter("requests_total", "Requests", {{"outcome", "ok"}}).inc(3);
  m.counter("requests_total", "Requests", {{"outcome", "error"}}).inc();
  m.gauge("in_flight", "Requests in flight").set(2);
  double bounds[] = {0.01, 0.1};
  auto& h = m.histogram("latency_seconds", "Latency", bounds);
  h.observe(0.005);
  h.observe(0.05);
  h.observe(5);
  const std::string text = m.render();
  EXPECT_NE(text.find("# TYPE openpcc_test_requests_total counter\n"), std::string::npos) << text;
  EXPECT_NE(text.find("openpcc_test_requests_total{outcome=\"ok\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("openpcc_test_requests_total{outcome=\"error\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("openpcc_test_in_flight 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("openpcc_test_latency_seconds_bucket{le=\"0.01\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("openpcc_test_latency_seconds_bucket{le=\"0.10000000000000001\"} 2\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("openpcc_test_latency_seconds_bucket{le=\"+Inf\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("openpcc_test_latency_seconds_count 3\n"), std::string::npos) << text;
}

TEST(MetricsTest, SameNameAndLabelsIsTheSameMetric) {
  Metrics m("x");
  auto& a = m.counter("c", "help", {{"k", "v"}});
  auto& b = m.counter("c", "help", {{"k", "v"}});
  EXPECT_EQ(&a, &b);
  auto& g = m.gauge("c", "help");  // another type under the same name does not alias the counter
  g.set(7);
  EXPECT_EQ(a.value(), 0u);
}

TEST(MetricsTest, LabelValuesAreEscaped) {
  Metrics m("x");
  m.counter("c", "help", {{"k", "a\"b\\c\nd"}}).inc();
  EXPECT_NE(m.render().find("x_c{k=\"a\\\"b\\\\c\\nd\"} 1\n"), std::string::npos) << m.render();
}

TEST(MetricsTest, ConcurrentUpdatesAreCounted) {
  Metrics m("x");
  auto& c = m.counter("c", "help");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) threads.emplace_back([&] { for (int i = 0; i < 10000; ++i) c.inc(); });
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.value(), 40000u);
}

}  // namespace
}  // namespace openpcc::services

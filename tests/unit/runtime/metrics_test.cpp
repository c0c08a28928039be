#include "runtime/metrics.hpp"

#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace shoal::metrics {
namespace {

bool contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

TEST(metrics, counters_render_with_help_type_and_labels) {
  registry reg;
  reg.add_counter("shoal_requests_total", "Requests.",
                  {{"route", "/healthz"}, {"status", "200"}})
    .inc(3);
  auto text = reg.render();
  EXPECT_TRUE(contains(text, "# HELP shoal_requests_total Requests.\n"));
  EXPECT_TRUE(contains(text, "# TYPE shoal_requests_total counter\n"));
  EXPECT_TRUE(contains(
    text, "shoal_requests_total{route=\"/healthz\",status=\"200\"} 3\n"));
}

TEST(metrics, same_name_and_labels_return_the_same_series) {
  registry reg;
  auto& a = reg.add_counter("c_total", "C.", {{"k", "v"}});
  auto& b = reg.add_counter("c_total", "C.", {{"k", "v"}});
  EXPECT_EQ(&a, &b);
  auto& c = reg.add_counter("c_total", "C.", {{"k", "w"}});
  EXPECT_NE(&a, &c);
}

TEST(metrics, type_clash_and_bad_names_are_refused) {
  registry reg;
  reg.add_counter("x_total", "X.");
  EXPECT_THROW(reg.add_gauge("x_total", "X."), std::invalid_argument);
  EXPECT_THROW(reg.add_counter("1abc", "bad"), std::invalid_argument);
  EXPECT_THROW(reg.add_counter("a-b", "bad"), std::invalid_argument);
}

TEST(metrics, histogram_buckets_are_cumulative_with_inf_sum_and_count) {
  registry reg;
  auto& h = reg.add_histogram("lat_seconds", "Latency.", {0.1, 1, 10});
  for (auto v : {0.05, 0.1, 0.5, 5.0, 50.0}) {
    h.observe(v);
  }
  auto text = reg.render();
  EXPECT_TRUE(contains(text, "# TYPE lat_seconds histogram\n"));
  EXPECT_TRUE(contains(text, "lat_seconds_bucket{le=\"0.1\"} 2\n"));
  EXPECT_TRUE(contains(text, "lat_seconds_bucket{le=\"1\"} 3\n"));
  EXPECT_TRUE(contains(text, "lat_seconds_bucket{le=\"10\"} 4\n"));
  EXPECT_TRUE(contains(text, "lat_seconds_bucket{le=\"+Inf\"} 5\n"));
  EXPECT_TRUE(contains(text, "lat_seconds_sum 55.65\n"));
  EXPECT_TRUE(contains(text, "lat_seconds_count 5\n"));
}

TEST(metrics, gauges_and_gauge_functions) {
  registry reg;
  reg.add_gauge("g", "G.").set(2.5);
  reg.add_gauge_fn("uptime_seconds", "Up.", [] { return 42.0; });
  auto text = reg.render();
  EXPECT_TRUE(contains(text, "g 2.5\n"));
  EXPECT_TRUE(contains(text, "uptime_seconds 42\n"));
}

TEST(metrics, label_values_are_escaped) {
  EXPECT_EQ(escape_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

TEST(metrics, concurrent_updates_are_not_lost) {
  registry reg;
  auto& c = reg.add_counter("n_total", "N.");
  auto& h = reg.add_histogram("h", "H.", {1});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.inc();
        h.observe(0.5);
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(c.value(), 40000u);
  EXPECT_EQ(h.count(), 40000u);
  EXPECT_DOUBLE_EQ(h.sum(), 20000.0);
}

} // namespace
} // namespace shoal::metrics

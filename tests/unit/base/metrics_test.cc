#include "common/base/metrics.h"

#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace push::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Each test renders its own Registry so output is exact; Registry::global() is only the
// process-wide instance of the same class.

TEST(MetricsTest, CounterRendersHelpTypeAndValue) {
  Registry reg;
  Counter& c = reg.counter("push_test_requests_total", "Requests handled.");
  c.inc();
  c.inc(41);
  EXPECT_EQ(c.value(), 42u);
  EXPECT_EQ(reg.render(),
            "# HELP push_test_requests_total Requests handled.\n"
            "# TYPE push_test_requests_total counter\n"
            "push_test_requests_total 42\n");
}

TEST(MetricsTest, GaugeGoesUpAndDown) {
  Registry reg;
  Gauge& g = reg.gauge("push_test_open", "Open things.");
  g.set(10);
  g.add(-15);
  EXPECT_EQ(g.value(), -5);
  EXPECT_EQ(reg.render(),
            "# HELP push_test_open Open things.\n"
            "# TYPE push_test_open gauge\n"
            "push_test_open -5\n");
}

TEST(MetricsTest, LabelledSeriesShareOneFamilyHeader) {
  Registry reg;
  reg.counter("push_test_calls_total", "Calls.", R"(method="Echo",code="OK")").inc(3);
  reg.counter("push_test_calls_total", "Calls.", R"(method="Echo",code="TIMEOUT")").inc();
  EXPECT_EQ(reg.render(),
            "# HELP push_test_calls_total Calls.\n"
            "# TYPE push_test_calls_total counter\n"
            "push_test_calls_total{method=\"Echo\",code=\"OK\"} 3\n"
            "push_test_calls_total{method=\"Echo\",code=\"TIMEOUT\"} 1\n");
}

TEST(MetricsTest, SameNameAndLabelsReturnSameObject) {
  Registry reg;
  Counter& a = reg.counter("push_test_x_total", "X.", R"(k="1")");
  Counter& b = reg.counter("push_test_x_total", "X.", R"(k="1")");
  Counter& other = reg.counter("push_test_x_total", "X.", R"(k="2")");
  EXPECT_EQ(&a, &b);
  EXPECT_NE(&a, &other);
  Gauge& g1 = reg.gauge("push_test_g", "G.");
  EXPECT_EQ(&g1, &reg.gauge("push_test_g", "G."));
  Histogram& h1 = reg.histogram("push_test_h", "H.", {1, 2});
  EXPECT_EQ(&h1, &reg.histogram("push_test_h", "H.", {1, 2}));
}

TEST(MetricsTest, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  Registry reg;
  // Bounds are sorted on construction.
  Histogram& h = reg.histogram("push_test_latency_seconds", "Latency.", {0.5, 0.1, 1}, R"(m="A")");
  EXPECT_EQ(h.bounds(), (std::vector<double>{0.1, 0.5, 1}));
  h.observe(0.05);  // <= 0.1
  h.observe(0.1);   // exactly on a bound: counts in that bucket (le is inclusive)
  h.observe(0.3);   // <= 0.5
  h.observe(0.75);  // <= 1
  h.observe(7);     // only +Inf
  EXPECT_EQ(h.count(), 5u);
  EXPECT_NEAR(h.sum(), 8.2, 1e-6);
  EXPECT_EQ(h.cumulativeCounts(), (std::vector<uint64_t>{2, 3, 4, 5}));
  EXPECT_EQ(reg.render(),
            "# HELP push_test_latency_seconds Latency.\n"
            "# TYPE push_test_latency_seconds histogram\n"
            "push_test_latency_seconds_bucket{m=\"A\",le=\"0.1\"} 2\n"
            "push_test_latency_seconds_bucket{m=\"A\",le=\"0.5\"} 3\n"
            "push_test_latency_seconds_bucket{m=\"A\",le=\"1\"} 4\n"
            "push_test_latency_seconds_bucket{m=\"A\",le=\"+Inf\"} 5\n"
            "push_test_latency_seconds_sum{m=\"A\"} 8.2\n"
            "push_test_latency_seconds_count{m=\"A\"} 5\n");
}

TEST(MetricsTest, HistogramObservesAValueManyTimesAtOnce) {
  Registry reg;
  Histogram& h = reg.histogram("push_test_batch_seconds", "Batch.", {0.1, 1});
  h.observe(0.25, 4);  // four calls timed by one batch
  h.observe(0.05, 0);  // none: nothing counted
  h.observe(0.05);
  EXPECT_EQ(h.count(), 5u);
  EXPECT_NEAR(h.sum(), 1.05, 1e-6);
  EXPECT_EQ(h.cumulativeCounts(), (std::vector<uint64_t>{1, 5, 5}));
}

TEST(MetricsTest, HistogramTallyAddsItsObservationsOnlyWhenFlushed) {
  Registry reg;
  Histogram& h = reg.histogram("push_test_tally_seconds", "Tally.", {0.1, 1});
  h.observe(0.5);
  HistogramTally tally(h);
  tally.observe(0.05);
  tally.observe(0.5);
  tally.observe(5);
  EXPECT_EQ(h.count(), 1u);  // not yet
  tally.flush();
  EXPECT_EQ(h.count(), 4u);
  EXPECT_NEAR(h.sum(), 6.05, 1e-6);
  EXPECT_EQ(h.cumulativeCounts(), (std::vector<uint64_t>{1, 3, 4}));
  tally.flush();  // emptied by the first flush: nothing added twice
  EXPECT_EQ(h.count(), 4u);
  tally.observe(0.2);
  tally.flush();
  EXPECT_EQ(h.cumulativeCounts(), (std::vector<uint64_t>{1, 4, 5}));
}

TEST(MetricsTest, HistogramWithoutLabels) {
  Registry reg;
  Histogram& h = reg.histogram("push_test_size_bytes", "Sizes.", {100});
  h.observe(50);
  h.observe(150);
  EXPECT_EQ(reg.render(),
            "# HELP push_test_size_bytes Sizes.\n"
            "# TYPE push_test_size_bytes histogram\n"
            "push_test_size_bytes_bucket{le=\"100\"} 1\n"
            "push_test_size_bytes_bucket{le=\"+Inf\"} 2\n"
            "push_test_size_bytes_sum 200\n"
            "push_test_size_bytes_count 2\n");
}

TEST(MetricsTest, LatencyBucketsAreSortedAndSpan50usTo10s) {
  auto b = latencyBuckets();
  ASSERT_FALSE(b.empty());
  EXPECT_DOUBLE_EQ(b.front(), 0.00005);
  EXPECT_DOUBLE_EQ(b.back(), 10);
  EXPECT_TRUE(std::is_sorted(b.begin(), b.end()));
}

TEST(MetricsTest, GaugeCallbackIsEvaluatedAtRenderAndRemovable) {
  Registry reg;
  double queue_depth = 3;
  uint64_t id = reg.gaugeCallback("push_test_queue_depth", "Queue depth.", R"(q="a")",
                                  [&queue_depth] { return queue_depth; });
  EXPECT_THAT(reg.render(), HasSubstr("push_test_queue_depth{q=\"a\"} 3\n"));
  queue_depth = 17;
  EXPECT_THAT(reg.render(), HasSubstr("push_test_queue_depth{q=\"a\"} 17\n"));

  // A second callback with other labels; removing one leaves the other.
  uint64_t id2 =
      reg.gaugeCallback("push_test_queue_depth", "Queue depth.", R"(q="b")", [] { return 1.5; });
  EXPECT_NE(id, id2);
  std::string out = reg.render();
  EXPECT_THAT(out, HasSubstr("# TYPE push_test_queue_depth gauge\n"));
  EXPECT_THAT(out, HasSubstr("push_test_queue_depth{q=\"b\"} 1.5\n"));

  reg.removeCallback(id);
  out = reg.render();
  EXPECT_THAT(out, Not(HasSubstr("q=\"a\"")));
  EXPECT_THAT(out, HasSubstr("push_test_queue_depth{q=\"b\"} 1.5\n"));

  // With no series left the family disappears, HELP and TYPE included.
  reg.removeCallback(id2);
  EXPECT_EQ(reg.render(), "");
  reg.removeCallback(id2);  // removing twice is harmless
}

TEST(MetricsTest, RemoveCallbackLeavesPlainSeriesAlone) {
  Registry reg;
  reg.gauge("push_test_mixed", "Mixed.", R"(k="plain")").set(4);
  uint64_t id = reg.gaugeCallback("push_test_mixed", "Mixed.", R"(k="cb")", [] { return 9.0; });
  reg.removeCallback(id);
  EXPECT_EQ(reg.render(),
            "# HELP push_test_mixed Mixed.\n"
            "# TYPE push_test_mixed gauge\n"
            "push_test_mixed{k=\"plain\"} 4\n");
}

TEST(MetricsTest, FamiliesRenderInRegistrationOrder) {
  Registry reg;
  reg.counter("push_test_b_total", "B.").inc();
  reg.gauge("push_test_a", "A.").set(1);
  std::string out = reg.render();
  EXPECT_LT(out.find("push_test_b_total"), out.find("push_test_a"));
}

TEST(MetricsTest, ConcurrentIncrementsAreNotLost) {
  Registry reg;
  Counter& c = reg.counter("push_test_concurrent_total", "C.");
  Histogram& h = reg.histogram("push_test_concurrent_hist", "H.", {1});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.inc();
        h.observe(0.5);
      }
    });
  }
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(c.value(), 40000u);
  EXPECT_EQ(h.count(), 40000u);
  EXPECT_EQ(h.cumulativeCounts()[0], 40000u);
  EXPECT_NEAR(h.sum(), 20000, 1e-3);
}

TEST(MetricsTest, GlobalRegistryIsOneInstance) {
  EXPECT_EQ(&Registry::global(), &Registry::global());
  Counter& c = Registry::global().counter("push_test_global_total", "Global.");
  c.inc(2);
  EXPECT_THAT(Registry::global().render(), HasSubstr("push_test_global_total 2\n"));
}

}  // namespace
}  // namespace push::metrics

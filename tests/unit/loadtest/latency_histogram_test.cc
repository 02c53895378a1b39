#include "loadtest/loadgen/latency_histogram.h"

#include <gtest/gtest.h>

namespace push::loadgen {
namespace {

TEST(LatencyHistogramTest, EncodedHistogramMergesBackToTheSameFigures) {
  LatencyHistogram h;
  for (int64_t v = 1; v <= 10'000; ++v)
    h.record(v * 1000);
  LatencyHistogram merged;
  ASSERT_TRUE(merged.mergeEncoded(h.encode()));
  EXPECT_EQ(merged.count(), h.count());
  EXPECT_EQ(merged.max(), h.max());
  for (double q : {0.0, 0.5, 0.9, 0.99, 0.999, 1.0})
    EXPECT_EQ(merged.percentile(q), h.percentile(q)) << q;
  EXPECT_NEAR(merged.mean(), h.mean(), h.mean() * 0.02);
  // Twice: counts add up.
  ASSERT_TRUE(merged.mergeEncoded(h.encode()));
  EXPECT_EQ(merged.count(), 2 * h.count());
}

TEST(LatencyHistogramTest, EmptyEncodesAsNothing) {
  LatencyHistogram h;
  EXPECT_EQ(h.encode(), "");
  EXPECT_TRUE(h.mergeEncoded(""));
  EXPECT_EQ(h.count(), 0u);
}

TEST(LatencyHistogramTest, MalformedTextIsRefusedAndAddsNothing) {
  LatencyHistogram h;
  h.record(5);
  for (const char* bad : {"5", "5;", "5;1", "5;1:", "5;1:0", "5;99999999:1", "x;1:1", "5;1:2,",
                          "5;1:2,,3:4", "5;1:2;", "-1;1:1", "5;1:2 3:4"}) {
    EXPECT_FALSE(h.mergeEncoded(bad)) << bad;
  }
  EXPECT_EQ(h.count(), 1u);
  EXPECT_EQ(h.max(), 5);
}

TEST(LatencyHistogramTest, MergeAddsAnotherHistogram) {
  LatencyHistogram a, b;
  a.record(10);
  b.record(1'000'000);
  b.record(20);
  a.merge(b);
  EXPECT_EQ(a.count(), 3u);
  EXPECT_EQ(a.max(), 1'000'000);
  EXPECT_EQ(a.percentile(0.5), 20);
}

}  // namespace
}  // namespace push::loadgen

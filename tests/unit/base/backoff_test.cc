#include "common/base/backoff.h"

#include <gtest/gtest.h>

namespace push {
namespace {

using namespace std::chrono_literals;

TEST(BackoffTest, DoublesUpToTheCapWithinTheJitter) {
  Backoff b({.initial = 500ms, .max = 60s, .jitter = 0.2}, 42);
  int64_t base = 500;
  for (int i = 0; i < 12; ++i) {
    const int64_t d = b.next().count();
    EXPECT_GE(d, base * 8 / 10) << "attempt " << i;
    EXPECT_LE(d, base * 12 / 10) << "attempt " << i;
    base = std::min<int64_t>(base * 2, 60'000);
  }
  EXPECT_EQ(b.attempts(), 12u);
}

TEST(BackoffTest, ResetStartsOver) {
  Backoff b({.initial = 100ms, .max = 10s, .jitter = 0}, 1);
  EXPECT_EQ(b.next(), 100ms);
  EXPECT_EQ(b.next(), 200ms);
  b.reset();
  EXPECT_EQ(b.attempts(), 0u);
  EXPECT_EQ(b.next(), 100ms);
}

TEST(BackoffTest, JitterSpreadsClients) {
  Backoff a({.initial = 1000ms, .max = 60s, .jitter = 0.2}, 1);
  Backoff b({.initial = 1000ms, .max = 60s, .jitter = 0.2}, 2);
  int same = 0;
  for (int i = 0; i < 10; ++i)
    same += a.next() == b.next();
  EXPECT_LT(same, 10);
}

TEST(BackoffTest, ManyAttemptsDoNotOverflow) {
  Backoff b({.initial = 1ms, .max = 1000ms, .jitter = 0}, 1);
  for (int i = 0; i < 200; ++i)
    b.next();
  EXPECT_EQ(b.next(), 1000ms);
}

}  // namespace
}  // namespace push

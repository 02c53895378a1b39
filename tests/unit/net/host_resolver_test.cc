#include "common/net/host_resolver.h"

#include <algorithm>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/net/event_loop.h"

namespace push::net {
namespace {

using namespace std::chrono_literals;

// Records the outcome of one lookup.
struct Outcome {
  int calls = 0;
  Status status;
  std::vector<InetAddress> addrs;
  HostResolver::Done done() {
    return [this](Result<std::vector<InetAddress>> r) {
      ++calls;
      if (r.isOk()) {
        addrs = *r;
      } else {
        status = r.status();
      }
    };
  }
  bool has(const char* host_port) const {
    const InetAddress want = *InetAddress::parse(host_port);
    return std::find(addrs.begin(), addrs.end(), want) != addrs.end();
  }
};

// /etc/hosts names localhost on every machine this runs on; no DNS server is involved.
TEST(HostResolverTest, ResolvesLocalhostOnTheThreadPoolWithThePortSet) {
  EventLoop loop;
  Outcome outcome;
  HostResolver::start(loop, "localhost", 7100, 5s, outcome.done());
  EXPECT_EQ(outcome.calls, 0);  // never inside start()
  ASSERT_TRUE(loop.runUntil([&] { return outcome.calls > 0; }, 5s));
  ASSERT_TRUE(outcome.status.isOk()) << outcome.status.toString();
  ASSERT_FALSE(outcome.addrs.empty());
  for (const InetAddress& a : outcome.addrs)
    EXPECT_EQ(a.port(), 7100);
  EXPECT_TRUE(outcome.has("127.0.0.1:7100") || outcome.has("[::1]:7100"));
  EXPECT_FALSE(loop.runUntil([] { return false; }, 20ms));
  EXPECT_EQ(outcome.calls, 1);
  EXPECT_TRUE(loop.shutdown().isOk());
}

TEST(HostResolverTest, TimeoutCountsFromStartNotFromAStaleLoopClock) {
  EventLoop loop;
  // The loop does not run for longer than the timeout, so its cached clock falls behind. The
  // sleep is the condition under test, not synchronisation.
  std::this_thread::sleep_for(700ms);
  Outcome outcome;
  HostResolver::start(loop, "127.0.0.3", 1, 500ms, outcome.done());
  ASSERT_TRUE(loop.runUntil([&] { return outcome.calls > 0; }, 5s));
  // Counted from the stale clock, the timeout fired as the next turn began: TIMEOUT.
  ASSERT_TRUE(outcome.status.isOk()) << outcome.status.toString();
  EXPECT_TRUE(outcome.has("127.0.0.3:1"));
  EXPECT_TRUE(loop.shutdown().isOk());
}

TEST(HostResolverTest, NumericHostNeedsNoLookup) {
  EventLoop loop;
  Outcome outcome;
  HostResolver::start(loop, "127.0.0.3", 1, 5s, outcome.done());
  ASSERT_TRUE(loop.runUntil([&] { return outcome.calls > 0; }, 5s));
  ASSERT_EQ(outcome.addrs.size(), 1u);
  EXPECT_TRUE(outcome.has("127.0.0.3:1"));
  EXPECT_TRUE(loop.shutdown().isOk());
}

TEST(HostResolverTest, CancelGivesCancelledExactlyOnceAndLater) {
  EventLoop loop;
  Outcome outcome;
  HostResolver* r = HostResolver::start(loop, "localhost", 80, 5s, outcome.done());
  r->cancel();
  r->cancel();                  // idempotent
  EXPECT_EQ(outcome.calls, 0);  // never inside cancel()
  ASSERT_TRUE(loop.runUntil([&] { return outcome.calls > 0; }, 5s));
  EXPECT_EQ(outcome.status.code(), Code::CANCELLED);
  EXPECT_FALSE(loop.runUntil([] { return false; }, 50ms));  // the lookup comes back, dropped
  EXPECT_EQ(outcome.calls, 1);
  EXPECT_TRUE(loop.shutdown().isOk());
}

// A zero deadline expires on the loop's first turn, before any thread-pool completion is
// read; the lookup that is still running is dropped when it comes back (ASan: no leak).
TEST(HostResolverTest, DeadlineGivesTimeout) {
  EventLoop loop;
  Outcome outcome;
  HostResolver::start(loop, "localhost", 80, 0ms, outcome.done());
  ASSERT_TRUE(loop.runUntil([&] { return outcome.calls > 0; }, 5s));
  EXPECT_EQ(outcome.status.code(), Code::TIMEOUT);
  EXPECT_FALSE(loop.runUntil([] { return false; }, 50ms));
  EXPECT_EQ(outcome.calls, 1);
  EXPECT_TRUE(loop.shutdown().isOk());
}

}  // namespace
}  // namespace push::net

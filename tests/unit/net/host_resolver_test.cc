#include "common/net/host_resolver.h"

#include <uv.h>

#include <algorithm>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
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
TEST(HostResolverTest, ResolvesLocalhostOffTheLoopWithThePortSet) {
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

// A zero deadline expires on the loop's first turn, before the lookup's answer is read; the
// lookup that is still running is dropped when it comes back (ASan: no leak).
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

// Holds test lookups until opened.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  int entered = 0;
  int left = 0;
};

// Opens the gate and restores the system lookup when a test ends, also when an ASSERT ends it
// early: held lookup threads must not outlive the test blocked, nor the hook leak into the next.
struct GateAndHookReset {
  std::shared_ptr<Gate> gate;
  ~GateAndHookReset() {
    {
      std::lock_guard lock(gate->mu);
      gate->open = true;
    }
    gate->cv.notify_all();
    HostResolver::setLookupForTest(nullptr);
  }
};

// A resolver that never answers (here a lookup held on a condition variable, standing in for
// getaddrinfo waiting on a dead DNS server): the lookups time out; libuv's thread pool (4
// threads) still runs work at once although 6 lookups are stuck; the loop shuts down cleanly
// and is destroyed while they still run; when they finally end, their answers are dropped
// without touching the dead loop (ASan would report it).
TEST(HostResolverTest, StuckLookupsHoldNoPoolThreadAndDoNotKeepTheLoop) {
  auto gate = std::make_shared<Gate>();
  const GateAndHookReset reset{gate};
  HostResolver::setLookupForTest(
      [gate](const std::string& host, uint16_t) -> Result<std::vector<InetAddress>> {
        std::unique_lock lock(gate->mu);
        ++gate->entered;
        gate->cv.notify_all();
        gate->cv.wait(lock, [&] { return gate->open; });
        ++gate->left;
        gate->cv.notify_all();
        return unavailable("resolve '" + host + "': released");
      });
  constexpr int kStuck = 6;
  {
    EventLoop loop;
    std::vector<Outcome> outcomes(kStuck);
    for (auto& outcome : outcomes)
      HostResolver::start(loop, "stuck.invalid", 80, 100ms, outcome.done());
    ASSERT_TRUE(loop.runUntil(
        [&] {
          return std::all_of(outcomes.begin(), outcomes.end(),
                             [](const Outcome& o) { return o.calls > 0; });
        },
        5s));
    for (const auto& outcome : outcomes)
      EXPECT_EQ(outcome.status.code(), Code::TIMEOUT);
    {
      std::unique_lock lock(gate->mu);
      ASSERT_TRUE(gate->cv.wait_for(lock, 5s, [&] { return gate->entered == kStuck; }));
    }

    uv_work_t work{};
    bool ran = false;
    work.data = &ran;
    ASSERT_EQ(uv_queue_work(
                  loop.uvLoop(), &work, [](uv_work_t*) {},
                  [](uv_work_t* w, int) { *static_cast<bool*>(w->data) = true; }),
              0);
    EXPECT_TRUE(loop.runUntil([&] { return ran; }, 5s)) << "the thread pool is held";
    EXPECT_TRUE(loop.shutdown().isOk());
  }
  {
    std::unique_lock lock(gate->mu);
    EXPECT_EQ(gate->left, 0);
    gate->open = true;
    gate->cv.notify_all();
    ASSERT_TRUE(gate->cv.wait_for(lock, 5s, [&] { return gate->left == kStuck; }));
  }
  EventLoop waiter;
  EXPECT_TRUE(waiter.runUntil([] { return HostResolver::lookupsInFlight() == 0; }, 5s, 1ms));
  EXPECT_TRUE(waiter.shutdown().isOk());
}

// More lookups than the process allows at once fail at once, with a reason; the rest go on.
TEST(HostResolverTest, LookupsBeyondTheCapFailAtOnce) {
  auto gate = std::make_shared<Gate>();
  const GateAndHookReset reset{gate};
  HostResolver::setLookupForTest(
      [gate](const std::string&, uint16_t port) -> Result<std::vector<InetAddress>> {
        std::unique_lock lock(gate->mu);
        gate->cv.wait(lock, [&] { return gate->open; });
        ++gate->left;
        gate->cv.notify_all();
        InetAddress a = *InetAddress::parse("127.0.0.1:1");
        a.setPort(port);
        return std::vector<InetAddress>{a};
      });
  EventLoop loop;
  // Lookups of earlier tests are done (their threads may be a moment from returning).
  ASSERT_TRUE(loop.runUntil([] { return HostResolver::lookupsInFlight() == 0; }, 5s, 1ms));
  std::vector<Outcome> held(HostResolver::kMaxLookupsInFlight);
  for (auto& outcome : held)
    HostResolver::start(loop, "held.invalid", 80, 10s, outcome.done());
  Outcome refused;
  HostResolver::start(loop, "one.more.invalid", 80, 10s, refused.done());
  ASSERT_TRUE(loop.runUntil([&] { return refused.calls > 0; }, 5s));
  EXPECT_EQ(refused.status.code(), Code::UNAVAILABLE);
  EXPECT_NE(refused.status.message().find("lookups already running"), std::string::npos)
      << refused.status;
  {
    std::lock_guard lock(gate->mu);
    gate->open = true;
  }
  gate->cv.notify_all();
  ASSERT_TRUE(loop.runUntil(
      [&] {
        return std::all_of(held.begin(), held.end(), [](const Outcome& o) { return o.calls > 0; });
      },
      5s));
  for (const auto& outcome : held)
    EXPECT_TRUE(outcome.has("127.0.0.1:80"));
  EXPECT_TRUE(loop.shutdown().isOk());
}

}  // namespace
}  // namespace push::net

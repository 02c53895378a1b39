#include "common/net/signal_watcher.h"

#include <uv.h>

#include <csignal>
#include <vector>

#include <gtest/gtest.h>

#include "common/net/event_loop.h"

namespace push::net {
namespace {

using namespace std::chrono_literals;

TEST(SignalWatcherTest, DeliversSigtermAndSigintOnTheLoop) {
  EventLoop loop;
  std::vector<int> got;
  SignalWatcherPtr watcher(SignalWatcher::create(loop, [&](int signum) { got.push_back(signum); }));
  EXPECT_FALSE(uv_loop_alive(loop.uvLoop()));  // does not keep the loop alive by itself
  ASSERT_EQ(::raise(SIGTERM), 0);              // handled by the watcher: the process survives
  EXPECT_TRUE(loop.runUntil([&] { return got.size() == 1; }, 5s));
  ASSERT_EQ(::raise(SIGINT), 0);
  EXPECT_TRUE(loop.runUntil([&] { return got.size() == 2; }, 5s));
  EXPECT_EQ(got, (std::vector<int>{SIGTERM, SIGINT}));
  watcher.reset();  // restores the default dispositions once both handles are closed
  EXPECT_TRUE(loop.shutdown().isOk());
}

TEST(SignalWatcherTest, CloseFreesBothHandles) {
  EventLoop loop;
  // Released from its SignalWatcherPtr: this test drives close() itself.
  SignalWatcher* watcher = SignalWatcher::create(loop, [](int) {}).release();
  watcher->close();
  watcher->close();                     // idempotent
  EXPECT_TRUE(loop.shutdown().isOk());  // both handles closed, the watcher deleted itself
}

}  // namespace
}  // namespace push::net

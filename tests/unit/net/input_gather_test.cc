// EventLoop::setInputGather: after a turn that read, the loop sleeps before it polls again, so
// input that keeps coming is read in few turns; input after idleness is read at once.
#include <atomic>
#include <thread>

#include "tests/unit/net/tcp_connection_fixture.h"

namespace push::net::testing {
namespace {

using Clock = std::chrono::steady_clock;

TEST_F(TcpConnectionTest, InputGatherReadsASteadyTrickleInFewTurns) {
  Fd peer = acceptRaw();
  loop_.setInputGather(30ms);
  // 40 one-byte writes 2 ms apart (80 ms). Without gathering the loop wakes for each of them
  // (one read callback each); with a 30 ms gather it reads what came during each sleep at once.
  // On a loaded machine the writer's sleeps stretch: the bound follows how long it took.
  std::atomic<int64_t> writing_ns{0};
  std::thread writer([&writing_ns, fd = peer.get()] {
    const auto begin = Clock::now();
    for (int i = 0; i < 40; ++i) {
      writeAll(fd, "x");
      std::this_thread::sleep_for(2ms);
    }
    writing_ns = (Clock::now() - begin).count();
  });
  const bool all = loop_.runUntil([&] { return server_.received.size() == 40; }, 10s);
  writer.join();
  ASSERT_TRUE(all) << server_.received.size();
  const auto gathers = static_cast<size_t>(std::chrono::nanoseconds(writing_ns.load()) / 30ms);
  EXPECT_LE(server_.offered.size(), gathers + 4)
      << "writing took " << writing_ns / 1000000 << " ms";
  EXPECT_GE(loop_.gatherSleeps(), 1u);
  EXPECT_LE(loop_.gatherSleeps(), server_.offered.size());
  loop_.setInputGather(0us);
}

TEST_F(TcpConnectionTest, InputAfterIdlenessIsReadWithoutWaitingForAGather) {
  Fd peer = acceptRaw();
  loop_.setInputGather(1s);
  // "a" starts a gather of 1 s; "b" comes 2.5 s later, when the loop has gone back to waiting
  // in the kernel: it is read as soon as it arrives, not a gather later.
  std::atomic<int64_t> b_written_ns{0};
  std::thread writer([&b_written_ns, fd = peer.get()] {
    writeAll(fd, "a");
    std::this_thread::sleep_for(2500ms);
    b_written_ns = Clock::now().time_since_epoch().count();
    writeAll(fd, "b");
  });
  int64_t b_read_ns = 0;
  server_.on_data = [&](TcpConnection&, std::string_view d) {
    if (d.find('b') != std::string_view::npos) b_read_ns = Clock::now().time_since_epoch().count();
    return d.size();
  };
  const bool both = loop_.runUntil([&] { return server_.received == "ab"; }, 10s);
  writer.join();
  ASSERT_TRUE(both) << server_.received;
  EXPECT_EQ(server_.offered.size(), 2u);
  EXPECT_EQ(loop_.gatherSleeps(), 1u);  // after "a"; the turn that read "b" ended the run
  EXPECT_LT(std::chrono::nanoseconds(b_read_ns - b_written_ns.load()), 500ms);
  loop_.setInputGather(0us);  // the teardown's reads need no gathering
}

TEST_F(TcpConnectionTest, ATimerDueDuringAGatherRunsRightAfterIt) {
  Fd peer = acceptRaw();
  loop_.setInputGather(300ms);
  // A timer due 250 ms after a read: the gather holds it back until the sleep ends (300 ms),
  // and the turn after runs it without waiting for input. libuv's poll timeout must count
  // from the end of the sleep: counted from before it, the poll would wait 250 ms more.
  bool fired = false;
  int64_t fired_ns = 0;
  uv_timer_t timer;
  uv_timer_init(loop_.uvLoop(), &timer);
  timer.data = &fired;
  server_.on_data = [&](TcpConnection&, std::string_view d) {
    uv_timer_start(
        &timer, [](uv_timer_t* t) { *static_cast<bool*>(t->data) = true; }, 250, 0);
    return d.size();
  };
  const auto start = Clock::now();
  writeAll(peer.get(), "a");
  // EXPECT, not ASSERT: the stack timer below must be closed whatever happens.
  EXPECT_TRUE(loop_.runUntil(
      [&] {
        if (fired && fired_ns == 0) fired_ns = (Clock::now() - start).count();
        return fired;
      },
      10s));
  EXPECT_EQ(loop_.gatherSleeps(), 1u);
  EXPECT_GE(std::chrono::nanoseconds(fired_ns), 300ms);
  EXPECT_LT(std::chrono::nanoseconds(fired_ns), 500ms);  // not 550 ms
  uv_close(reinterpret_cast<uv_handle_t*>(&timer), nullptr);
  turn(loop_);
  loop_.setInputGather(0us);
}

TEST_F(TcpConnectionTest, BusyPollingTakesPrecedenceOverInputGather) {
  Fd peer = acceptRaw();
  loop_.setInputGather(1s);
  loop_.setBusyPoll(10s);
  // "a" is read by a turn that does not end the run ("b" comes 50 ms later): a gathering loop
  // would sleep 1 s after it; a busy-polling one reads "b" as soon as it comes.
  const auto start = Clock::now();
  writeAll(peer.get(), "a");
  std::thread writer([fd = peer.get()] {
    std::this_thread::sleep_for(50ms);
    writeAll(fd, "b");
  });
  const bool both = loop_.runUntil([&] { return server_.received == "ab"; }, 10s);
  writer.join();
  ASSERT_TRUE(both) << server_.received;
  EXPECT_EQ(server_.offered.size(), 2u);
  EXPECT_EQ(loop_.gatherSleeps(), 0u);
  EXPECT_LT(Clock::now() - start, 900ms);
  loop_.setBusyPoll(0us);
  loop_.setInputGather(0us);
}

}  // namespace
}  // namespace push::net::testing

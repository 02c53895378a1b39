#include "services/coordinator/app_gate.h"

#include <gtest/gtest.h>

#include <vector>

namespace push::coord {
namespace {

// Records what happened to each task: 1 started, -1 dropped, 0 not yet called.
struct Tasks {
  std::vector<int> state;
  AppGate::Task make() {
    const size_t i = state.size();
    state.push_back(0);
    return [this, i](bool start) {
      EXPECT_EQ(state[i], 0) << "task " << i << " called twice";
      state[i] = start ? 1 : -1;
    };
  }
};

TEST(AppGateTest, RunsUpToTheCapAtOnceThenQueuesThenRefuses) {
  Tasks t;  // before the gate: its destructor calls the tasks still waiting
  AppGate gate(2, 1);
  EXPECT_TRUE(gate.submit(t.make()));
  EXPECT_TRUE(gate.submit(t.make()));
  EXPECT_EQ(t.state, (std::vector<int>{1, 1}));  // inside submit()
  EXPECT_TRUE(gate.submit(t.make()));            // queued
  EXPECT_EQ(t.state[2], 0);
  EXPECT_FALSE(gate.submit(t.make()));  // cap and queue full: refused, never called
  EXPECT_EQ(t.state[3], 0);
  EXPECT_EQ(gate.running(), 2u);
  EXPECT_EQ(gate.queued(), 1u);
}

TEST(AppGateTest, ReleaseStartsTheOldestWaitingTask) {
  Tasks t;  // before the gate: its destructor calls the tasks still waiting
  AppGate gate(1, 10);
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(gate.submit(t.make()));
  EXPECT_EQ(t.state, (std::vector<int>{1, 0, 0}));
  gate.release();
  EXPECT_EQ(t.state, (std::vector<int>{1, 1, 0}));
  gate.release();
  EXPECT_EQ(t.state, (std::vector<int>{1, 1, 1}));
  gate.release();
  EXPECT_EQ(gate.running(), 0u);
  EXPECT_EQ(gate.queued(), 0u);
}

TEST(AppGateTest, ANewTaskDoesNotOvertakeWaitingOnes) {
  std::vector<int> order;
  AppGate gate(1, 10);
  ASSERT_TRUE(gate.submit([&](bool) { order.push_back(0); }));
  ASSERT_TRUE(gate.submit([&](bool) { order.push_back(1); }));
  gate.release();                                               // task 1 runs
  ASSERT_TRUE(gate.submit([&](bool) { order.push_back(2); }));  // waits: 1 is running
  EXPECT_EQ(order, (std::vector<int>{0, 1}));
  gate.release();
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2}));
}

TEST(AppGateTest, ZeroQueueRefusesAsSoonAsTheCapIsReached) {
  Tasks t;  // before the gate: its destructor calls the tasks still waiting
  AppGate gate(1, 0);
  EXPECT_TRUE(gate.submit(t.make()));
  EXPECT_FALSE(gate.submit(t.make()));
  gate.release();
  EXPECT_TRUE(gate.submit(t.make()));
  EXPECT_EQ(t.state, (std::vector<int>{1, 0, 1}));
}

TEST(AppGateTest, RaisingTheCapStartsWaitingTasksAtOnce) {
  Tasks t;  // before the gate: its destructor calls the tasks still waiting
  AppGate gate(1, 10);
  for (int i = 0; i < 4; ++i)
    ASSERT_TRUE(gate.submit(t.make()));
  gate.setLimits(3, 10);
  EXPECT_EQ(t.state, (std::vector<int>{1, 1, 1, 0}));
  // Lowering it keeps what runs and waits; nothing new starts until enough are released.
  gate.setLimits(1, 0);
  EXPECT_EQ(gate.running(), 3u);
  EXPECT_EQ(gate.queued(), 1u);
  gate.release();
  gate.release();
  EXPECT_EQ(t.state[3], 0);
  gate.release();
  EXPECT_EQ(t.state[3], 1);
}

TEST(AppGateTest, CancelAndDestructionCallWaitingTasksWithFalse) {
  Tasks t;
  {
    AppGate gate(1, 10);
    for (int i = 0; i < 3; ++i)
      ASSERT_TRUE(gate.submit(t.make()));
    gate.cancelQueued();
    EXPECT_EQ(t.state, (std::vector<int>{1, -1, -1}));
    ASSERT_TRUE(gate.submit(t.make()));  // waits behind task 0
  }
  EXPECT_EQ(t.state, (std::vector<int>{1, -1, -1, -1}));
}

TEST(AppGateTest, ATaskMayReleaseAndSubmitFromInsideItsCall) {
  int ran = 0;
  AppGate gate(1, 10);
  // Each task finishes inside its own call (release): the whole queue drains, each task once.
  std::function<void(bool)> quick = [&](bool start) {
    if (!start) return;
    ++ran;
    gate.release();
  };
  ASSERT_TRUE(gate.submit([&](bool) {}));  // holds the slot
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(gate.submit(quick));
  gate.release();
  EXPECT_EQ(ran, 5);
  EXPECT_EQ(gate.running(), 0u);
}

}  // namespace
}  // namespace push::coord

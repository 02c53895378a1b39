// Tests for common/queue/channel: RDY-limited dispatch, round robin, FIN/REQ/TOUCH and their
// ownership checks, timeouts driven by tick(now), deferred messages, pause, empty, client
// removal, overflow to the disk queue and ephemeral drops. Time is a FakeClock.

#include "common/queue/channel.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "tests/unit/queue/engine/engine_test_util.h"

namespace push::queue {
namespace {

using test::EngineTest;
using test::FakeClient;

constexpr int64_t kTimeoutMs = 1000;

class ChannelTest : public EngineTest {
 protected:
  // A channel of topic "t"; ephemeral names get no disk queue.
  Channel* makeChannel(const std::string& name = "c") { return channel("t", name); }

  // Puts n messages with bodies "<prefix>0".."<prefix>n-1"; returns their ids in order.
  std::vector<uint64_t> putN(Channel* c, int n, const std::string& prefix = "m") {
    std::vector<uint64_t> ids;
    for (int i = 0; i < n; ++i) {
      Message m = message(prefix + std::to_string(i));
      ids.push_back(m.id);
      c->put(std::move(m));
    }
    return ids;
  }
};

TEST_F(ChannelTest, SamplingClientGetsAboutItsRateAndTheRestIsDroppedAndCounted) {
  Channel* c = makeChannel();
  FakeClient sampler;
  c->addClient(&sampler, kTimeoutMs, 30);
  c->setReady(&sampler, 100000);
  putN(c, 2000);
  size_t got = sampler.sent.size();
  // nsqd's rule keeps (rate + 1)% of them: 31% of 2000 = 620 expected.
  EXPECT_GT(got, 500u);
  EXPECT_LT(got, 740u);
  Channel::Stats stats = c->stats();
  EXPECT_EQ(stats.sampled_out_count + got, 2000u) << "each message is sent or sampled out";
  EXPECT_EQ(stats.depth, 0u);
  EXPECT_EQ(stats.in_flight, got);
}

TEST_F(ChannelTest, SampleRateZeroGetsEveryMessage) {
  Channel* c = makeChannel();
  FakeClient a;
  c->addClient(&a, kTimeoutMs, 0);
  c->setReady(&a, 1000);
  putN(c, 500);
  EXPECT_EQ(a.sent.size(), 500u);
  EXPECT_EQ(c->stats().sampled_out_count, 0u);
}

TEST_F(ChannelTest, RdyLimitsInFlight) {
  Channel* c = makeChannel();
  FakeClient a;
  c->addClient(&a, kTimeoutMs);
  std::vector<uint64_t> ids = putN(c, 5);
  EXPECT_TRUE(a.sent.empty()) << "RDY 0 takes nothing";
  EXPECT_EQ(c->stats().depth, 5u);

  c->setReady(&a, 3);
  ASSERT_EQ(a.sent.size(), 3u);
  EXPECT_EQ(a.ids(), (std::vector<uint64_t>{ids[0], ids[1], ids[2]}));
  EXPECT_EQ(a.inFlightCount(), 3);
  EXPECT_EQ(a.readyCount(), 3);
  Channel::Stats stats = c->stats();
  EXPECT_EQ(stats.in_flight, 3u);
  EXPECT_EQ(stats.depth, 2u);
  EXPECT_EQ(stats.message_count, 5u);
  EXPECT_EQ(stats.clients, 1u);

  putN(c, 1, "late");
  EXPECT_EQ(a.sent.size(), 3u) << "still at its RDY count";

  c->setReady(&a, 4);  // one more slot
  EXPECT_EQ(a.sent.size(), 4u);
  EXPECT_EQ(a.last().id, ids[3]);

  c->setReady(&a, 0);
  ASSERT_TRUE(c->finish(&a, ids[0]).isOk());
  EXPECT_EQ(a.sent.size(), 4u) << "RDY 0: finishing frees nothing to take";
  EXPECT_EQ(c->stats().depth, 2u);
}

TEST_F(ChannelTest, EachDeliveryCarriesTheMessage) {
  Channel* c = makeChannel();
  FakeClient a;
  c->addClient(&a, kTimeoutMs);
  c->setReady(&a, 1);
  Message m = message("the body");
  uint64_t id = m.id;
  int64_t timestamp = m.timestamp_ns;
  c->put(std::move(m));
  ASSERT_EQ(a.sent.size(), 1u);
  EXPECT_EQ(a.last().id, id);
  EXPECT_EQ(a.last().body, "the body");
  EXPECT_EQ(a.last().attempts, 1);
  EXPECT_EQ(a.last().timestamp_ns, timestamp);
}

TEST_F(ChannelTest, RoundRobinBetweenTwoClients) {
  Channel* c = makeChannel();
  FakeClient a, b;
  c->addClient(&a, kTimeoutMs);
  c->addClient(&b, kTimeoutMs);
  c->setReady(&a, 10);
  c->setReady(&b, 10);
  std::vector<uint64_t> ids = putN(c, 10);
  ASSERT_EQ(a.sent.size(), 5u);
  ASSERT_EQ(b.sent.size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(a.sent[i].id, ids[2 * i]);
    EXPECT_EQ(b.sent[i].id, ids[2 * i + 1]);
  }
}

TEST_F(ChannelTest, BacklogIsSharedBetweenReadyClients) {
  Channel* c = makeChannel();
  FakeClient a, b;
  c->addClient(&a, kTimeoutMs);
  c->addClient(&b, kTimeoutMs);
  putN(c, 10);
  c->setReady(&a, 3);
  EXPECT_EQ(a.sent.size(), 3u);
  c->setReady(&b, 100);
  EXPECT_EQ(b.sent.size(), 7u);
  EXPECT_EQ(c->stats().depth, 0u);
  EXPECT_EQ(c->stats().in_flight, 10u);
}

TEST_F(ChannelTest, FinishFreesASlotAndDispatchesTheNext) {
  Channel* c = makeChannel();
  FakeClient a;
  c->addClient(&a, kTimeoutMs);
  c->setReady(&a, 1);
  std::vector<uint64_t> ids = putN(c, 3);
  ASSERT_EQ(a.ids(), (std::vector<uint64_t>{ids[0]}));

  ASSERT_TRUE(c->finish(&a, ids[0]).isOk());
  ASSERT_EQ(a.ids(), (std::vector<uint64_t>{ids[0], ids[1]}));
  EXPECT_EQ(a.inFlightCount(), 1);

  ASSERT_TRUE(c->finish(&a, ids[1]).isOk());
  ASSERT_TRUE(c->finish(&a, ids[2]).isOk());
  EXPECT_EQ(a.sent.size(), 3u);
  EXPECT_EQ(a.inFlightCount(), 0);
  EXPECT_EQ(c->stats().in_flight, 0u);
  EXPECT_EQ(c->stats().depth, 0u);

  // Finished means gone: a second FIN is NOT_FOUND, and nothing comes back after a timeout.
  EXPECT_EQ(c->finish(&a, ids[0]).code(), Code::NOT_FOUND);
  advance(10 * kTimeoutMs);
  c->tick(now());
  EXPECT_EQ(a.sent.size(), 3u);
  EXPECT_EQ(c->stats().timeout_count, 0u);
}

TEST_F(ChannelTest, FinishByAnotherClientIsPermissionDenied) {
  Channel* c = makeChannel();
  FakeClient a, b;
  c->addClient(&a, kTimeoutMs);
  c->addClient(&b, kTimeoutMs);
  c->setReady(&a, 1);
  uint64_t id = putN(c, 1)[0];
  ASSERT_EQ(a.sent.size(), 1u);

  Status status = c->finish(&b, id);
  EXPECT_EQ(status.code(), Code::PERMISSION_DENIED);
  EXPECT_EQ(status.message(), "client does not own message");
  EXPECT_EQ(c->requeue(&b, id, 0, now()).code(), Code::PERMISSION_DENIED);
  EXPECT_EQ(c->touch(&b, id, now()).code(), Code::PERMISSION_DENIED);

  // Still a's, still in flight.
  EXPECT_EQ(c->stats().in_flight, 1u);
  EXPECT_EQ(b.inFlightCount(), 0);
  EXPECT_TRUE(c->finish(&a, id).isOk());
}

TEST_F(ChannelTest, UnknownIdIsNotFound) {
  Channel* c = makeChannel();
  FakeClient a;
  c->addClient(&a, kTimeoutMs);
  c->setReady(&a, 1);
  uint64_t id = putN(c, 1)[0];

  Status status = c->finish(&a, id + 1000);
  EXPECT_EQ(status.code(), Code::NOT_FOUND);
  EXPECT_EQ(status.message(), "ID not in flight");
  EXPECT_EQ(c->requeue(&a, id + 1000, 0, now()).code(), Code::NOT_FOUND);
  EXPECT_EQ(c->touch(&a, id + 1000, now()).code(), Code::NOT_FOUND);

  // Queued but never sent is not in flight either.
  uint64_t queued = putN(c, 1)[0];
  EXPECT_EQ(c->finish(&a, queued).code(), Code::NOT_FOUND);
  EXPECT_EQ(c->stats().in_flight, 1u);
}

TEST_F(ChannelTest, TimeoutRequeuesWithAttemptsPlusOne) {
  Channel* c = makeChannel();
  FakeClient a;
  c->addClient(&a, kTimeoutMs);
  c->setReady(&a, 1);
  int64_t start = now();
  uint64_t id = putN(c, 1)[0];
  ASSERT_EQ(a.sent.size(), 1u);
  EXPECT_EQ(a.last().attempts, 1);

  c->tick(start + kTimeoutMs - 1);
  EXPECT_EQ(a.sent.size(), 1u) << "not yet timed out";
  EXPECT_EQ(c->stats().timeout_count, 0u);

  c->tick(start + kTimeoutMs);
  ASSERT_EQ(a.sent.size(), 2u) << "timed out, requeued and redelivered";
  EXPECT_EQ(a.last().id, id);
  EXPECT_EQ(a.last().attempts, 2);
  EXPECT_EQ(a.last().body, "m0");
  EXPECT_EQ(c->stats().timeout_count, 1u);
  EXPECT_EQ(c->stats().requeue_count, 0u) << "a timeout is not a REQ (nsqd counts REQ only)";
  EXPECT_EQ(a.inFlightCount(), 1);

  // The redelivery has its own deadline, counted from the tick that sent it.
  c->tick(start + 2 * kTimeoutMs - 1);
  EXPECT_EQ(a.sent.size(), 2u);
  c->tick(start + 2 * kTimeoutMs);
  ASSERT_EQ(a.sent.size(), 3u);
  EXPECT_EQ(a.last().attempts, 3);
  EXPECT_EQ(c->stats().timeout_count, 2u);

  ASSERT_TRUE(c->finish(&a, id).isOk());
  c->tick(start + 10 * kTimeoutMs);
  EXPECT_EQ(a.sent.size(), 3u);
}

TEST_F(ChannelTest, TimeoutUsesTheClientsMsgTimeout) {
  Channel* c = makeChannel();
  FakeClient fast, slow;
  c->addClient(&fast, 200);
  c->addClient(&slow, 5000);
  c->setReady(&fast, 1);
  int64_t start = now();
  putN(c, 1);
  c->setReady(&fast, 0);
  c->setReady(&slow, 1);
  putN(c, 1);
  ASSERT_EQ(fast.sent.size(), 1u);
  ASSERT_EQ(slow.sent.size(), 1u);

  c->tick(start + 200);
  EXPECT_EQ(c->stats().timeout_count, 1u);  // fast's only
  EXPECT_EQ(c->stats().in_flight, 1u);
  EXPECT_EQ(c->stats().depth, 1u);  // neither client can take it now
  EXPECT_EQ(fast.inFlightCount(), 0);
  EXPECT_EQ(slow.inFlightCount(), 1);
  c->tick(start + 4999);
  EXPECT_EQ(c->stats().timeout_count, 1u);
  c->tick(start + 5000);
  EXPECT_EQ(c->stats().timeout_count, 2u);
}

TEST_F(ChannelTest, TouchPostponesTheTimeout) {
  Channel* c = makeChannel();
  FakeClient a;
  c->addClient(&a, kTimeoutMs);
  c->setReady(&a, 1);
  int64_t start = now();
  uint64_t id = putN(c, 1)[0];

  c->tick(start + 600);
  ASSERT_TRUE(c->touch(&a, id, start + 600).isOk());  // new deadline: start + 1600
  c->tick(start + kTimeoutMs);
  c->tick(start + 1599);
  EXPECT_EQ(a.sent.size(), 1u) << "touched: the old deadline must not fire";
  EXPECT_EQ(c->stats().timeout_count, 0u);
  EXPECT_EQ(c->stats().in_flight, 1u);

  c->tick(start + 1600);
  ASSERT_EQ(a.sent.size(), 2u);
  EXPECT_EQ(a.last().attempts, 2);
  EXPECT_EQ(c->stats().timeout_count, 1u);
}

TEST_F(ChannelTest, RequeueNowRedeliversWithAttemptsPlusOne) {
  Channel* c = makeChannel();
  FakeClient a;
  c->addClient(&a, kTimeoutMs);
  c->setReady(&a, 1);
  std::vector<uint64_t> ids = putN(c, 2);
  ASSERT_EQ(a.ids(), (std::vector<uint64_t>{ids[0]}));

  ASSERT_TRUE(c->requeue(&a, ids[0], 0, now()).isOk());
  // The slot is free again; the requeued message goes behind the one already queued.
  ASSERT_EQ(a.ids(), (std::vector<uint64_t>{ids[0], ids[1]}));
  EXPECT_EQ(c->stats().requeue_count, 1u);
  EXPECT_EQ(c->stats().depth, 1u);
  ASSERT_TRUE(c->finish(&a, ids[1]).isOk());
  ASSERT_EQ(a.sent.size(), 3u);
  EXPECT_EQ(a.last().id, ids[0]);
  EXPECT_EQ(a.last().attempts, 2);
  EXPECT_EQ(c->stats().message_count, 2u) << "a requeue is not a new message";
  // The requeued-from delivery left no stale timeout behind.
  c->tick(now() + kTimeoutMs - 1);
  EXPECT_EQ(c->stats().timeout_count, 0u);
}

TEST_F(ChannelTest, RequeueWithDelayIsDeferredUntilDue) {
  Channel* c = makeChannel();
  FakeClient a;
  c->addClient(&a, kTimeoutMs);
  c->setReady(&a, 1);
  int64_t start = now();
  uint64_t id = putN(c, 1)[0];

  ASSERT_TRUE(c->requeue(&a, id, 500, start).isOk());
  Channel::Stats stats = c->stats();
  EXPECT_EQ(stats.deferred, 1u);
  EXPECT_EQ(stats.in_flight, 0u);
  EXPECT_EQ(stats.depth, 0u);
  EXPECT_EQ(stats.requeue_count, 1u);
  EXPECT_EQ(a.inFlightCount(), 0);
  EXPECT_EQ(a.sent.size(), 1u);

  c->tick(start + 499);
  EXPECT_EQ(a.sent.size(), 1u) << "not due yet";
  c->tick(start + 500);
  ASSERT_EQ(a.sent.size(), 2u);
  EXPECT_EQ(a.last().id, id);
  EXPECT_EQ(a.last().attempts, 2);
  EXPECT_EQ(c->stats().deferred, 0u);
}

TEST_F(ChannelTest, DeferredRequeueDoesNotBlockOtherMessages) {
  Channel* c = makeChannel();
  FakeClient a;
  c->addClient(&a, kTimeoutMs);
  c->setReady(&a, 1);
  std::vector<uint64_t> ids = putN(c, 2);
  ASSERT_TRUE(c->requeue(&a, ids[0], 10'000, now()).isOk());
  ASSERT_EQ(a.ids(), (std::vector<uint64_t>{ids[0], ids[1]}));
}

TEST_F(ChannelTest, PutDeferredWaitsUntilDue) {
  Channel* c = makeChannel();
  FakeClient a;
  c->addClient(&a, kTimeoutMs);
  c->setReady(&a, 10);
  int64_t start = now();
  Message late = message("late");
  Message early = message("early");
  uint64_t late_id = late.id;
  uint64_t early_id = early.id;
  c->putDeferred(std::move(late), start + 300);
  c->putDeferred(std::move(early), start + 100);
  EXPECT_TRUE(a.sent.empty());
  EXPECT_EQ(c->stats().deferred, 2u);
  EXPECT_EQ(c->stats().depth, 0u);

  c->tick(start + 99);
  EXPECT_TRUE(a.sent.empty());
  c->tick(start + 100);
  ASSERT_EQ(a.ids(), (std::vector<uint64_t>{early_id}));
  EXPECT_EQ(a.last().attempts, 1);
  c->tick(start + 299);
  EXPECT_EQ(a.sent.size(), 1u);
  c->tick(start + 1000);
  ASSERT_EQ(a.ids(), (std::vector<uint64_t>{early_id, late_id}));
  EXPECT_EQ(c->stats().deferred, 0u);
  EXPECT_EQ(c->stats().message_count, 2u);
}

TEST_F(ChannelTest, PauseHoldsMessagesUntilUnpause) {
  Channel* c = makeChannel();
  FakeClient a;
  c->addClient(&a, kTimeoutMs);
  c->setReady(&a, 10);
  c->pause();
  EXPECT_TRUE(c->paused());
  std::vector<uint64_t> ids = putN(c, 3);
  c->tick(now() + 100);
  EXPECT_TRUE(a.sent.empty());
  EXPECT_EQ(c->stats().depth, 3u);

  c->unpause();
  EXPECT_FALSE(c->paused());
  EXPECT_EQ(a.ids(), ids);
  EXPECT_EQ(c->stats().depth, 0u);
}

TEST_F(ChannelTest, EmptyDropsQueuedDeferredAndInFlight) {
  Channel* c = makeChannel();
  FakeClient a;
  c->addClient(&a, kTimeoutMs);
  c->setReady(&a, 1);
  int64_t start = now();
  std::vector<uint64_t> ids = putN(c, 3);
  c->putDeferred(message("deferred"), start + 100);
  Channel::Stats before = c->stats();
  ASSERT_EQ(before.in_flight, 1u);
  ASSERT_EQ(before.depth, 2u);
  ASSERT_EQ(before.deferred, 1u);

  ASSERT_TRUE(c->empty().isOk());
  Channel::Stats after = c->stats();
  EXPECT_EQ(after.in_flight, 0u);
  EXPECT_EQ(after.depth, 0u);
  EXPECT_EQ(after.deferred, 0u);
  EXPECT_EQ(a.inFlightCount(), 0);
  EXPECT_EQ(c->finish(&a, ids[0]).code(), Code::NOT_FOUND);

  // Nothing comes back: not the deferred one, not the in-flight one after its timeout.
  c->tick(start + 10 * kTimeoutMs);
  EXPECT_EQ(a.sent.size(), 1u);
  EXPECT_EQ(c->stats().timeout_count, 0u);

  // The client's slot is free again.
  uint64_t next = putN(c, 1, "next")[0];
  ASSERT_EQ(a.sent.size(), 2u);
  EXPECT_EQ(a.last().id, next);
}

TEST_F(ChannelTest, RemoveClientRequeuesItsInFlight) {
  Channel* c = makeChannel();
  FakeClient a, b;
  c->addClient(&a, kTimeoutMs);
  c->addClient(&b, 10 * kTimeoutMs);
  c->setReady(&a, 2);
  int64_t start = now();
  std::vector<uint64_t> ids = putN(c, 3);
  ASSERT_EQ(a.sent.size(), 2u);

  c->removeClient(&a);
  EXPECT_EQ(c->clientCount(), 1u);
  Channel::Stats stats = c->stats();
  EXPECT_EQ(stats.in_flight, 0u);
  EXPECT_EQ(stats.depth, 3u);
  EXPECT_EQ(stats.clients, 1u);

  c->setReady(&b, 10);
  ASSERT_EQ(b.sent.size(), 3u);
  std::vector<uint64_t> b_ids = b.ids();
  std::set<uint64_t> got(b_ids.begin(), b_ids.end());
  EXPECT_EQ(got, std::set<uint64_t>(ids.begin(), ids.end()));
  for (const FakeClient::Sent& s : b.sent) {
    EXPECT_EQ(s.attempts, s.id == ids[2] ? 1 : 2) << s.id;
  }

  // a's old deadlines fire without touching b's deliveries.
  c->tick(start + kTimeoutMs);
  EXPECT_EQ(c->stats().timeout_count, 0u);
  EXPECT_EQ(c->stats().in_flight, 3u);
  EXPECT_EQ(b.sent.size(), 3u);
  EXPECT_EQ(a.sent.size(), 2u) << "a removed: sent nothing more";

  // A removed client owns nothing.
  EXPECT_EQ(c->finish(&a, ids[0]).code(), Code::PERMISSION_DENIED);
  for (uint64_t id : ids)
    EXPECT_TRUE(c->finish(&b, id).isOk());
}

TEST_F(ChannelTest, RemovedClientGetsNoMoreMessages) {
  Channel* c = makeChannel();
  FakeClient a;
  c->addClient(&a, kTimeoutMs);
  c->setReady(&a, 10);
  c->removeClient(&a);
  putN(c, 3);
  EXPECT_TRUE(a.sent.empty());
  EXPECT_EQ(c->stats().depth, 3u);
  c->removeClient(&a);  // twice is harmless
  EXPECT_EQ(c->clientCount(), 0u);
}

TEST_F(ChannelTest, CloseClientsTellsEveryClient) {
  Channel* c = makeChannel();
  FakeClient a, b;
  c->addClient(&a, kTimeoutMs);
  c->addClient(&b, kTimeoutMs);
  c->setReady(&a, 10);
  c->closeClients();
  EXPECT_EQ(a.closing, 1);
  EXPECT_EQ(b.closing, 1);
  EXPECT_EQ(c->clientCount(), 0u);
  putN(c, 2);
  EXPECT_TRUE(a.sent.empty()) << "forgotten clients are not dispatched to";
}

TEST_F(ChannelTest, OverflowToDiskKeepsEveryMessageRoughlyInOrder) {
  constexpr int kMem = 10;
  constexpr int kCount = 1000;
  options_.mem_queue_size = kMem;
  Channel* c = makeChannel();
  std::vector<uint64_t> ids = putN(c, kCount);
  Channel::Stats stats = c->stats();
  EXPECT_EQ(stats.depth, static_cast<uint64_t>(kCount));
  EXPECT_EQ(stats.backend_depth, static_cast<uint64_t>(kCount - kMem));
  EXPECT_EQ(stats.dropped_count, 0u);

  FakeClient a;
  c->addClient(&a, kTimeoutMs);
  c->setReady(&a, 2500);
  ASSERT_EQ(a.sent.size(), static_cast<size_t>(kCount));
  EXPECT_EQ(c->stats().depth, 0u);
  EXPECT_EQ(c->stats().backend_depth, 0u);

  // Every message exactly once, with its body, and none far from its place.
  std::vector<uint64_t> sorted_ids = a.ids();
  std::sort(sorted_ids.begin(), sorted_ids.end());
  EXPECT_EQ(sorted_ids, ids);
  for (size_t pos = 0; pos < a.sent.size(); ++pos) {
    const FakeClient::Sent& s = a.sent[pos];
    size_t index = static_cast<size_t>(std::find(ids.begin(), ids.end(), s.id) - ids.begin());
    EXPECT_EQ(s.body, "m" + std::to_string(index));
    EXPECT_EQ(s.attempts, 1);
    EXPECT_LE(std::abs(static_cast<long>(pos) - static_cast<long>(index)), 2 * kMem)
        << "message " << index << " delivered at " << pos;
  }
  for (uint64_t id : ids)
    ASSERT_TRUE(c->finish(&a, id).isOk());
}

TEST_F(ChannelTest, RequeueOverflowGoesToDiskToo) {
  options_.mem_queue_size = 1;
  Channel* c = makeChannel();
  FakeClient a;
  c->addClient(&a, kTimeoutMs);
  c->setReady(&a, 3);
  std::vector<uint64_t> ids = putN(c, 3);
  c->setReady(&a, 0);
  for (uint64_t id : ids)
    ASSERT_TRUE(c->requeue(&a, id, 0, now()).isOk());
  EXPECT_EQ(c->stats().depth, 3u);
  EXPECT_EQ(c->stats().backend_depth, 2u);
  c->setReady(&a, 10);
  ASSERT_EQ(a.sent.size(), 6u);
  std::set<uint64_t> again;
  for (size_t i = 3; i < 6; ++i) {
    again.insert(a.sent[i].id);
    EXPECT_EQ(a.sent[i].attempts, 2) << "attempts survive the disk round trip";
  }
  EXPECT_EQ(again, std::set<uint64_t>(ids.begin(), ids.end()));
}

TEST_F(ChannelTest, EphemeralChannelDropsOverflowAndCountsIt) {
  options_.mem_queue_size = 5;
  Channel* c = makeChannel("c#ephemeral");
  ASSERT_TRUE(c->ephemeral());
  std::vector<uint64_t> ids = putN(c, 8);
  Channel::Stats stats = c->stats();
  EXPECT_EQ(stats.depth, 5u);
  EXPECT_EQ(stats.backend_depth, 0u);
  EXPECT_EQ(stats.dropped_count, 3u);
  EXPECT_EQ(stats.message_count, 8u);

  FakeClient a;
  c->addClient(&a, kTimeoutMs);
  c->setReady(&a, 100);
  EXPECT_EQ(a.ids(), std::vector<uint64_t>(ids.begin(), ids.begin() + 5));
  // No disk files for an ephemeral channel.
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    EXPECT_EQ(entry.path().filename().string().find("ephemeral"), std::string::npos)
        << entry.path();
  }
}

}  // namespace
}  // namespace push::queue

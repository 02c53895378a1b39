// Tests for common/queue/topic: fan-out to every channel, the backlog kept while the topic has
// no channel or is paused (memory, then disk; dropped for an ephemeral topic), batched draining,
// deferred publishes, channel deletion.

#include "common/queue/topic.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "tests/unit/queue/engine/engine_test_util.h"

namespace push::queue {
namespace {

using test::EngineTest;
using test::FakeClient;

constexpr int64_t kTimeoutMs = 60000;

class TopicTest : public EngineTest {
 protected:
  // Publishes n messages with bodies "<prefix>0".."<prefix>n-1"; returns their ids in order.
  std::vector<uint64_t> publishN(Topic* t, int n, const std::string& prefix = "m") {
    std::vector<uint64_t> ids;
    for (int i = 0; i < n; ++i) {
      Message m = message(prefix + std::to_string(i));
      ids.push_back(m.id);
      t->publish(std::move(m));
    }
    return ids;
  }

  // A client subscribed to `c` with RDY 2500.
  void subscribe(Channel* c, FakeClient* client) {
    c->addClient(client, kTimeoutMs);
    c->setReady(client, 2500);
  }
};

TEST_F(TopicTest, FanOutGivesEachChannelEveryMessage) {
  Topic* t = topic("t");
  Channel* a = channel("t", "a");
  Channel* b = channel("t", "b");
  FakeClient ca1, ca2, cb;
  subscribe(a, &ca1);
  subscribe(a, &ca2);
  subscribe(b, &cb);
  std::vector<uint64_t> ids = publishN(t, 6);

  // b's one client gets all of them in order; a's two clients share them.
  EXPECT_EQ(cb.ids(), ids);
  EXPECT_EQ(cb.bodies(), (std::vector<std::string>{"m0", "m1", "m2", "m3", "m4", "m5"}));
  EXPECT_EQ(ca1.sent.size() + ca2.sent.size(), 6u);
  EXPECT_EQ(ca1.sent.size(), 3u);
  EXPECT_EQ(a->stats().message_count, 6u);
  EXPECT_EQ(b->stats().message_count, 6u);
  Topic::Stats stats = t->stats();
  EXPECT_EQ(stats.message_count, 6u);
  EXPECT_EQ(stats.message_bytes, 12u);
  EXPECT_EQ(stats.depth, 0u);

  // Channels are independent: finishing in one leaves the other's copy in flight.
  for (const FakeClient::Sent& s : cb.sent)
    ASSERT_TRUE(b->finish(&cb, s.id).isOk());
  EXPECT_EQ(b->stats().in_flight, 0u);
  EXPECT_EQ(a->stats().in_flight, 6u);
}

TEST_F(TopicTest, NoChannelBuffersAndDrainsToTheFirstChannel) {
  Topic* t = topic("t");
  std::vector<uint64_t> ids = publishN(t, 5);
  EXPECT_EQ(t->stats().depth, 5u);
  EXPECT_EQ(t->stats().message_count, 5u);

  Channel* c = channel("t", "c");
  EXPECT_EQ(t->stats().depth, 0u);
  EXPECT_EQ(c->stats().depth, 5u);
  FakeClient client;
  subscribe(c, &client);
  EXPECT_EQ(client.ids(), ids);

  // Once flowing, a second channel gets only what is published after it exists.
  Channel* late = channel("t", "late");
  publishN(t, 2, "x");
  EXPECT_EQ(late->stats().depth, 2u);
  EXPECT_EQ(client.sent.size(), 7u);
}

TEST_F(TopicTest, BacklogOverflowsToDiskAndDrainsInOrder) {
  options_.mem_queue_size = 3;
  Topic* t = topic("t");
  std::vector<uint64_t> ids = publishN(t, 20);
  EXPECT_EQ(t->stats().depth, 20u);
  EXPECT_EQ(t->stats().backend_depth, 17u);
  EXPECT_EQ(t->stats().dropped_count, 0u);

  Channel* c = channel("t", "c");
  EXPECT_EQ(t->stats().depth, 0u);
  EXPECT_EQ(t->stats().backend_depth, 0u);
  EXPECT_EQ(c->stats().depth, 20u);
  FakeClient client;
  subscribe(c, &client);
  ASSERT_EQ(client.sent.size(), 20u);
  // The topic hands its backlog over in order (the channel's own overflow may interleave
  // its memory and disk, so compare as a set and check bodies).
  std::vector<uint64_t> got = client.ids();
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, ids);
  for (const FakeClient::Sent& s : client.sent) {
    size_t index = static_cast<size_t>(std::find(ids.begin(), ids.end(), s.id) - ids.begin());
    EXPECT_EQ(s.body, "m" + std::to_string(index));
  }
}

TEST_F(TopicTest, DrainIsBatchedPerTick) {
  options_.topic_drain_batch = 2;
  Topic* t = topic("t");
  publishN(t, 5);
  Channel* c = channel("t", "c");
  EXPECT_EQ(c->stats().depth, 2u);
  EXPECT_EQ(t->stats().depth, 3u);
  engine().tick();
  EXPECT_EQ(c->stats().depth, 4u);
  EXPECT_EQ(t->stats().depth, 1u);
  engine().tick();
  EXPECT_EQ(c->stats().depth, 5u);
  EXPECT_EQ(t->stats().depth, 0u);
}

TEST_F(TopicTest, PublishBehindABacklogKeepsOrder) {
  options_.topic_drain_batch = 2;
  Topic* t = topic("t");
  std::vector<uint64_t> ids = publishN(t, 5);
  Channel* c = channel("t", "c");
  std::vector<uint64_t> more = publishN(t, 3, "x");  // behind the 3 still in the backlog
  ids.insert(ids.end(), more.begin(), more.end());
  for (int i = 0; i < 5 && t->stats().depth > 0; ++i)
    engine().tick();
  ASSERT_EQ(t->stats().depth, 0u);
  FakeClient client;
  subscribe(c, &client);
  EXPECT_EQ(client.ids(), ids);
}

TEST_F(TopicTest, PausedTopicBuffersUntilUnpaused) {
  Topic* t = topic("t");
  Channel* c = channel("t", "c");
  FakeClient client;
  subscribe(c, &client);
  t->pause();
  EXPECT_TRUE(t->paused());
  std::vector<uint64_t> ids = publishN(t, 4);
  engine().tick();
  EXPECT_TRUE(client.sent.empty());
  EXPECT_EQ(t->stats().depth, 4u);
  EXPECT_EQ(c->stats().depth, 0u);

  // A channel created while paused gets nothing yet either.
  Channel* other = channel("t", "other");
  EXPECT_EQ(other->stats().depth, 0u);

  t->unpause();
  EXPECT_FALSE(t->paused());
  EXPECT_EQ(client.ids(), ids);
  EXPECT_EQ(other->stats().depth, 4u);
  EXPECT_EQ(t->stats().depth, 0u);
}

TEST_F(TopicTest, PublishDeferredWaitsInEveryChannel) {
  Topic* t = topic("t");
  Channel* a = channel("t", "a");
  Channel* b = channel("t", "b");
  FakeClient ca, cb;
  subscribe(a, &ca);
  subscribe(b, &cb);
  Message m = message("later");
  uint64_t id = m.id;
  t->publishDeferred(std::move(m), now() + 200);
  EXPECT_EQ(a->stats().deferred, 1u);
  EXPECT_EQ(b->stats().deferred, 1u);
  advance(199);
  engine().tick();
  EXPECT_TRUE(ca.sent.empty());
  EXPECT_TRUE(cb.sent.empty());
  advance(1);
  engine().tick();
  EXPECT_EQ(ca.ids(), (std::vector<uint64_t>{id}));
  EXPECT_EQ(cb.ids(), (std::vector<uint64_t>{id}));
}

TEST_F(TopicTest, DeferredPublishWithoutChannelKeepsItsTime) {
  Topic* t = topic("t");
  t->publishDeferred(message("later"), now() + 500);
  Channel* c = channel("t", "c");
  FakeClient client;
  subscribe(c, &client);
  EXPECT_TRUE(client.sent.empty());
  EXPECT_EQ(c->stats().deferred, 1u);
  advance(500);
  engine().tick();
  EXPECT_EQ(client.sent.size(), 1u);
}

TEST_F(TopicTest, EphemeralTopicDropsOverflow) {
  options_.mem_queue_size = 3;
  Topic* t = topic("e#ephemeral");
  ASSERT_TRUE(t->ephemeral());
  std::vector<uint64_t> ids = publishN(t, 5);
  EXPECT_EQ(t->stats().depth, 3u);
  EXPECT_EQ(t->stats().dropped_count, 2u);
  EXPECT_EQ(t->stats().message_count, 5u);
  Channel* c = channel("e#ephemeral", "c");
  FakeClient client;
  subscribe(c, &client);
  EXPECT_EQ(client.ids(), std::vector<uint64_t>(ids.begin(), ids.begin() + 3));
}

TEST_F(TopicTest, EmptyDropsOnlyTheTopicsBacklog) {
  options_.mem_queue_size = 2;
  Topic* t = topic("t");
  Channel* c = channel("t", "c");
  publishN(t, 3);  // into the channel
  t->pause();
  publishN(t, 5);  // the topic's backlog, 3 of them on disk
  ASSERT_EQ(t->stats().depth, 5u);
  ASSERT_TRUE(t->empty().isOk());
  EXPECT_EQ(t->stats().depth, 0u);
  EXPECT_EQ(t->stats().backend_depth, 0u);
  EXPECT_EQ(c->stats().depth, 3u);
  t->unpause();
  EXPECT_EQ(c->stats().depth, 3u);
}

TEST_F(TopicTest, DeleteChannelClosesItsClients) {
  Topic* t = topic("t");
  Channel* c = channel("t", "c");
  FakeClient client;
  subscribe(c, &client);
  ASSERT_TRUE(t->deleteChannel("c").isOk());
  EXPECT_EQ(client.closing, 1);
  EXPECT_EQ(t->findChannel("c"), nullptr);
  EXPECT_EQ(t->deleteChannel("c").code(), Code::NOT_FOUND);
  // With no channel left the topic buffers again.
  publishN(t, 2);
  EXPECT_EQ(t->stats().depth, 2u);
  EXPECT_TRUE(client.sent.empty());
}

TEST_F(TopicTest, GetOrCreateChannelReturnsTheSameChannel) {
  Topic* t = topic("t");
  Channel* c = channel("t", "c");
  Result<Channel*> again = t->getOrCreateChannel("c");
  ASSERT_TRUE(again.isOk());
  EXPECT_EQ(*again, c);
  EXPECT_EQ(t->findChannel("c"), c);
  EXPECT_EQ(t->findChannel("nope"), nullptr);
  EXPECT_EQ(t->channels().size(), 1u);
}

}  // namespace
}  // namespace push::queue

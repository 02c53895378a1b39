// Tests for common/queue/queue_engine: nsqd.dat metadata (persist, load, ephemeral names left
// out, corrupt files refused, nsqd's own files read), messages in disk queues surviving a
// re-created engine, message ids, tick(), the listener.

#include "common/queue/queue_engine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "tests/unit/queue/engine/engine_test_util.h"

namespace push::queue {
namespace {

using test::EngineTest;
using test::FakeClient;

constexpr int64_t kTimeoutMs = 60000;

class QueueEngineTest : public EngineTest {
 protected:
  std::string metadataPath() const { return dir_ + "/nsqd.dat"; }

  void writeMetadata(const std::string& text) {
    std::ofstream out(metadataPath(), std::ios::binary | std::ios::trunc);
    out << text;
    ASSERT_TRUE(out.good());
  }
  std::string readMetadata() const {
    std::ifstream in(metadataPath(), std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  // "topic[P]: a, b[P]" for every topic, "[P]" marking paused ones: the engine's shape.
  std::vector<std::string> shape() {
    std::vector<std::string> out;
    for (const auto& [name, topic] : engine().topics()) {
      std::string line = name + (topic->paused() ? "[P]" : "") + ":";
      for (const auto& [channel_name, channel] : topic->channels()) {
        line += " " + channel_name + (channel->paused() ? "[P]" : "");
      }
      out.push_back(line);
    }
    return out;
  }

  std::vector<uint64_t> publishN(Topic* t, int n, const std::string& prefix = "m") {
    std::vector<uint64_t> ids;
    for (int i = 0; i < n; ++i) {
      Message m = message(prefix + std::to_string(i));
      ids.push_back(m.id);
      t->publish(std::move(m));
    }
    return ids;
  }
};

TEST_F(QueueEngineTest, MissingMetadataIsAFreshStart) {
  ASSERT_TRUE(engine().load().isOk());
  EXPECT_TRUE(engine().topics().empty());
}

TEST_F(QueueEngineTest, PersistAndLoadRoundTrip) {
  channel("t1", "a");
  channel("t1", "b")->pause();
  channel("t2", "c");
  topic("t2")->pause();
  topic("t3");  // no channels
  channel("t4", "x")->pause();
  topic("t4")->pause();
  ASSERT_TRUE(engine().persistMetadata().isOk());
  std::vector<std::string> before = shape();
  ASSERT_EQ(before, (std::vector<std::string>{"t1: a b[P]", "t2[P]: c", "t3:", "t4[P]: x[P]"}));

  recreateEngine();
  EXPECT_TRUE(engine().topics().empty()) << "nothing before load()";
  ASSERT_TRUE(engine().load().isOk());
  EXPECT_EQ(shape(), before);
  EXPECT_FALSE(engine().loading());

  // Loading rewrote nothing it did not have to, and a second round trip is stable.
  ASSERT_TRUE(engine().persistMetadata().isOk());
  recreateEngine();
  ASSERT_TRUE(engine().load().isOk());
  EXPECT_EQ(shape(), before);
}

TEST_F(QueueEngineTest, CreateAndDeletePersistAtOnce) {
  channel("t", "a");
  channel("t", "b");
  topic("gone");
  // No explicit persistMetadata(): creation persisted.
  recreateEngine();
  ASSERT_TRUE(engine().load().isOk());
  EXPECT_EQ(shape(), (std::vector<std::string>{"gone:", "t: a b"}));

  ASSERT_TRUE(engine().findTopic("t")->deleteChannel("a").isOk());
  ASSERT_TRUE(engine().deleteTopic("gone").isOk());
  EXPECT_EQ(engine().deleteTopic("gone").code(), Code::NOT_FOUND);
  recreateEngine();
  ASSERT_TRUE(engine().load().isOk());
  EXPECT_EQ(shape(), (std::vector<std::string>{"t: b"}));
}

TEST_F(QueueEngineTest, EphemeralTopicsAndChannelsAreNotPersisted) {
  channel("t", "keep");
  channel("t", "c#ephemeral");
  channel("e#ephemeral", "c");
  ASSERT_TRUE(engine().persistMetadata().isOk());
  std::string text = readMetadata();
  EXPECT_EQ(text.find("ephemeral"), std::string::npos) << text;
  EXPECT_NE(text.find("\"keep\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"version\":\"1.3.0\""), std::string::npos) << text;

  recreateEngine();
  ASSERT_TRUE(engine().load().isOk());
  EXPECT_EQ(shape(), (std::vector<std::string>{"t: keep"}));
}

TEST_F(QueueEngineTest, LoadSkipsEphemeralAndInvalidNamesInTheFile) {
  writeMetadata(
      R"({"topics":[{"name":"ok","paused":false,"channels":[{"name":"c#ephemeral","paused":false},)"
      R"({"name":"bad name","paused":false},{"name":"good","paused":true}]},)"
      R"({"name":"e#ephemeral","paused":false,"channels":[]},)"
      R"({"name":"bad/topic","paused":false,"channels":[]}],"version":"1.3.0"})");
  ASSERT_TRUE(engine().load().isOk());
  EXPECT_EQ(shape(), (std::vector<std::string>{"ok: good[P]"}));
}

TEST_F(QueueEngineTest, CorruptMetadataIsAnError) {
  for (std::string text :
       {std::string("{not json"), std::string(R"({"topics":[{"name":)"),
        std::string(R"({"topics":[{"name":"t","paused":"yes"}]})"), std::string(R"({"topics":{}})"),
        std::string("[]"), std::string(R"({"topics":[]} trailing)"), std::string("")}) {
    writeMetadata(text);
    recreateEngine();
    Status status = engine().load();
    EXPECT_FALSE(status.isOk()) << "'" << text << "'";
    EXPECT_TRUE(engine().topics().empty()) << "'" << text << "'";
  }
}

TEST_F(QueueEngineTest, CorruptMetadataIsNotOverwritten) {
  writeMetadata("{garbage");
  ASSERT_FALSE(engine().load().isOk());
  EXPECT_EQ(readMetadata(), "{garbage") << "the refused file must be left for a human";
}

// nsqd v1.3.0 writes "channels":null for a topic without channels (facts §8); queued reads
// nsqd's data path ("nsqd's name and layout", queue_engine.h).
TEST_F(QueueEngineTest, LoadsNsqdsOwnMetadataWithNullChannels) {
  writeMetadata(
      R"({"topics":[{"name":"pt","paused":false,"channels":[{"name":"pc","paused":false},)"
      R"({"name":"pc2","paused":true}]},{"name":"empty_t","paused":false,"channels":null},)"
      R"({"name":"pauset","paused":true,"channels":null}],"version":"1.3.0"})"
      "\n");
  Status status = engine().load();
  ASSERT_TRUE(status.isOk()) << status;
  EXPECT_EQ(shape(), (std::vector<std::string>{"empty_t:", "pauset[P]:", "pt: pc pc2[P]"}));
}

TEST_F(QueueEngineTest, ChannelDiskQueueSurvivesARecreatedEngine) {
  options_.mem_queue_size = 2;
  Channel* c = channel("t", "c");
  std::vector<uint64_t> ids = publishN(topic("t"), 10);
  ASSERT_EQ(c->stats().backend_depth, 8u);
  ASSERT_TRUE(engine().close().isOk());

  recreateEngine();
  ASSERT_TRUE(engine().load().isOk());
  Topic* t = engine().findTopic("t");
  ASSERT_NE(t, nullptr);
  c = t->findChannel("c");
  ASSERT_NE(c, nullptr);
  // All 10 are back: the 8 that were on disk, then the 2 the clean close wrote after them
  // (nsqd's order at a clean stop).
  EXPECT_EQ(c->stats().depth, 10u);
  FakeClient client;
  c->addClient(&client, kTimeoutMs);
  c->setReady(&client, 100);
  ASSERT_EQ(client.sent.size(), 10u);
  std::vector<uint64_t> expected(ids.begin() + 2, ids.end());
  expected.push_back(ids[0]);
  expected.push_back(ids[1]);
  EXPECT_EQ(client.ids(), expected) << "disk order kept, memory after it";
  for (size_t i = 0; i < client.sent.size(); ++i) {
    EXPECT_EQ(client.sent[i].attempts, 1);
  }
}

TEST_F(QueueEngineTest, DiskQueueSurvivesWithoutACleanClose) {
  options_.mem_queue_size = 0;  // everything on disk
  Channel* c = channel("t", "c");
  std::vector<uint64_t> ids = publishN(topic("t"), 50);
  ASSERT_EQ(c->stats().backend_depth, 50u);
  recreateEngine();  // destroyed without close()
  ASSERT_TRUE(engine().load().isOk());
  c = channel("t", "c");
  EXPECT_EQ(c->stats().depth, 50u);
  FakeClient client;
  c->addClient(&client, kTimeoutMs);
  c->setReady(&client, 100);
  EXPECT_EQ(client.ids(), ids);
}

TEST_F(QueueEngineTest, TopicBacklogOnDiskSurvivesARecreatedEngine) {
  options_.mem_queue_size = 0;
  std::vector<uint64_t> ids = publishN(topic("t"), 5);  // no channel: the topic's backlog
  ASSERT_EQ(topic("t")->stats().backend_depth, 5u);
  recreateEngine();
  ASSERT_TRUE(engine().load().isOk());
  ASSERT_EQ(topic("t")->stats().depth, 5u);
  Channel* c = channel("t", "c");
  FakeClient client;
  c->addClient(&client, kTimeoutMs);
  c->setReady(&client, 100);
  EXPECT_EQ(client.ids(), ids);
}

// nsqd flushes in-memory (and in-flight, deferred) messages to the disk queues on a clean
// shutdown (facts §7 "SIGTERM", §8), so they survive a restart.
TEST_F(QueueEngineTest, CleanCloseFlushesMemoryMessagesToDisk) {
  Channel* c = channel("t", "c");
  std::vector<uint64_t> ids = publishN(topic("t"), 3);  // all within mem_queue_size
  topic("other")->publish(message("topic backlog"));
  ASSERT_EQ(c->stats().depth, 3u);
  ASSERT_EQ(c->stats().backend_depth, 0u);
  ASSERT_TRUE(engine().close().isOk());

  recreateEngine();
  ASSERT_TRUE(engine().load().isOk());
  c = channel("t", "c");
  EXPECT_EQ(c->stats().depth, 3u);
  EXPECT_EQ(topic("other")->stats().depth, 1u);
  FakeClient client;
  c->addClient(&client, kTimeoutMs);
  c->setReady(&client, 100);
  EXPECT_EQ(client.ids(), ids);
}

// A paused topic's backlog stays in the topic across a restart (nsqd's LoadMetadata pauses the
// topic before it creates its channels, and topics start pumping only after the whole file is
// loaded), and every channel gets it on unpause.
TEST_F(QueueEngineTest, LoadKeepsAPausedTopicsBacklogForEveryChannel) {
  options_.mem_queue_size = 0;  // the backlog is on disk, so it survives the restart
  channel("t", "a");
  channel("t", "b");
  topic("t")->pause();
  ASSERT_TRUE(engine().persistMetadata().isOk());
  std::vector<uint64_t> ids = publishN(topic("t"), 3);
  ASSERT_EQ(topic("t")->stats().depth, 3u);

  recreateEngine();
  ASSERT_TRUE(engine().load().isOk());
  Topic* t = engine().findTopic("t");
  ASSERT_NE(t, nullptr);
  EXPECT_TRUE(t->paused());
  EXPECT_EQ(t->stats().depth, 3u);
  EXPECT_EQ(t->findChannel("a")->stats().depth, 0u) << "a paused topic must not deliver";
  EXPECT_EQ(t->findChannel("b")->stats().depth, 0u);

  t->unpause();
  engine().tick();
  EXPECT_EQ(t->findChannel("a")->stats().depth, 3u);
  EXPECT_EQ(t->findChannel("b")->stats().depth, 3u);
}

TEST_F(QueueEngineTest, NewMessageIdsStrictlyIncrease) {
  uint64_t last = 0;
  for (int i = 0; i < 10000; ++i) {
    Message m = engine().newMessage("x");
    ASSERT_GT(m.id, last) << i;
    last = m.id;
    if (i % 1000 == 0) advance(1);
  }
  // A restarted engine (one millisecond later) keeps going up.
  advance(1);
  recreateEngine();
  Message after = engine().newMessage("y");
  EXPECT_GT(after.id, last);
}

TEST_F(QueueEngineTest, NewMessageCarriesBodyWallClockAndNoAttempts) {
  clock_.setWallMs(1'700'000'000'123);
  Message m = engine().newMessage("payload");
  EXPECT_EQ(m.body.view(), "payload");
  EXPECT_EQ(m.attempts, 0);
  EXPECT_EQ(m.timestamp_ns, 1'700'000'000'123'000'000LL);
}

TEST_F(QueueEngineTest, NewMessagesOfABatchShareOneTimestampAndTakeConsecutiveIds) {
  clock_.setWallMs(1'700'000'000'500);
  uint64_t before = engine().newMessage("first").id;
  std::vector<std::string_view> bodies{"a", "bb", "", "dddd"};
  std::vector<Message> batch;
  for (Message& m : engine().newMessages(bodies))
    batch.push_back(std::move(m));
  ASSERT_EQ(batch.size(), 4u);
  for (size_t i = 0; i < batch.size(); ++i) {
    EXPECT_EQ(batch[i].id, before + 1 + i);
    EXPECT_EQ(batch[i].body.view(), bodies[i]);
    EXPECT_EQ(batch[i].attempts, 0);
    EXPECT_EQ(batch[i].timestamp_ns, 1'700'000'000'500'000'000LL);
  }
  EXPECT_GT(engine().newMessage("after").id, batch.back().id);
  EXPECT_TRUE(engine().newMessages({}).empty());
}

TEST_F(QueueEngineTest, TickDrivesChannelTimeoutsFromTheClock) {
  Channel* c = channel("t", "c");
  FakeClient client;
  c->addClient(&client, 1000);
  c->setReady(&client, 1);
  publishN(topic("t"), 1);
  advance(999);
  engine().tick();
  EXPECT_EQ(client.sent.size(), 1u);
  advance(1);
  engine().tick();
  ASSERT_EQ(client.sent.size(), 2u);
  EXPECT_EQ(client.last().attempts, 2);
}

TEST_F(QueueEngineTest, ListenerHearsCreatesAndDeletesButNotLoad) {
  std::vector<std::string> events;
  engine().setListener(QueueEngine::Listener{
      [&](const std::string& t, const std::string& c) { events.push_back("+" + t + "/" + c); },
      [&](const std::string& t, const std::string& c) { events.push_back("-" + t + "/" + c); }});
  channel("t", "c");
  ASSERT_TRUE(engine().findTopic("t")->deleteChannel("c").isOk());
  ASSERT_TRUE(engine().deleteTopic("t").isOk());
  EXPECT_EQ(events, (std::vector<std::string>{"+t/", "+t/c", "-t/c", "-t/"}));

  channel("u", "d");
  recreateEngine();
  events.clear();
  engine().setListener(QueueEngine::Listener{
      [&](const std::string& t, const std::string& c) { events.push_back("+" + t + "/" + c); },
      nullptr});
  ASSERT_TRUE(engine().load().isOk());
  EXPECT_TRUE(events.empty());
}

TEST_F(QueueEngineTest, DeleteTopicRemovesItsFiles) {
  options_.mem_queue_size = 0;
  channel("t", "c");
  publishN(topic("t"), 3);
  channel("keep", "c");
  auto files_of = [&](const std::string& prefix) {
    size_t n = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
      if (entry.path().filename().string().rfind(prefix, 0) == 0) ++n;
    }
    return n;
  };
  ASSERT_GT(files_of("t."), 0u);
  ASSERT_GT(files_of("t:c."), 0u);
  ASSERT_TRUE(engine().deleteTopic("t").isOk());
  EXPECT_EQ(files_of("t."), 0u);
  EXPECT_EQ(files_of("t:c."), 0u);
  EXPECT_GT(files_of("keep"), 0u);
  EXPECT_EQ(engine().findTopic("t"), nullptr);
}

}  // namespace
}  // namespace push::queue

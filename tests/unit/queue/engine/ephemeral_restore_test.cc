// Tests for QueueOptions::keep_ephemeral_on_restart (queued only; nsqd loses them): a clean
// close() keeps an ephemeral channel's queued, in-flight and deferred messages in a disk queue
// of its own, listed in queued-ephemeral.dat (never in nsqd.dat); load() recreates the channel
// with them before the topic drains; a restored channel no client claims within
// ephemeral_restore_timeout_ms is deleted with its files; with the option off, nsqd's behaviour.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/unit/queue/engine/engine_test_util.h"

namespace push::queue {
namespace {

using test::EngineTest;
using test::FakeClient;

constexpr int64_t kTimeoutMs = 60000;
constexpr const char* kEphemeral = "c#ephemeral";

class EphemeralRestoreTest : public EngineTest {
 protected:
  std::string readFile(const std::string& name) const {
    std::ifstream in(dir_ + "/" + name, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  bool exists(const std::string& name) const { return std::filesystem::exists(dir_ + "/" + name); }
  // Files in the data dir whose name contains `part`.
  size_t filesWith(const std::string& part) const {
    size_t n = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
      if (entry.path().filename().string().find(part) != std::string::npos) ++n;
    }
    return n;
  }
  std::vector<uint64_t> publishN(Topic* t, int n) {
    std::vector<uint64_t> ids;
    for (int i = 0; i < n; ++i) {
      Message m = message("m" + std::to_string(i));
      ids.push_back(m.id);
      t->publish(std::move(m));
    }
    return ids;
  }
  // close(), a new engine on the same data path, load().
  void cleanRestart() {
    ASSERT_TRUE(engine().close().isOk());
    recreateEngine();
    ASSERT_TRUE(engine().load().isOk());
  }
  Channel* findEphemeral() {
    Topic* t = engine().findTopic("t");
    return t == nullptr ? nullptr : t->findChannel(kEphemeral);
  }
};

TEST_F(EphemeralRestoreTest, CleanStopKeepsQueuedInFlightAndDeferredMessages) {
  Channel* c = channel("t", kEphemeral);
  FakeClient holder;
  c->addClient(&holder, kTimeoutMs);
  c->setReady(&holder, 2);
  std::vector<uint64_t> ids = publishN(topic("t"), 5);
  Message deferred = message("deferred");
  uint64_t deferred_id = deferred.id;
  topic("t")->publishDeferred(std::move(deferred), now() + 3600000);
  ASSERT_EQ(holder.sent.size(), 2u);  // in flight, never finished
  ASSERT_EQ(c->stats().depth, 3u);
  ASSERT_EQ(c->stats().deferred, 1u);

  cleanRestart();
  EXPECT_EQ(readFile("nsqd.dat").find("ephemeral"), std::string::npos)
      << "nsqd would create the channel for good: " << readFile("nsqd.dat");
  EXPECT_NE(readFile("queued-ephemeral.dat").find(R"("channel":"c#ephemeral")"), std::string::npos)
      << readFile("queued-ephemeral.dat");
  EXPECT_GT(filesWith("t:c#ephemeral.diskqueue"), 0u) << "a durable channel's file naming";

  c = findEphemeral();
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(c->ephemeral());
  EXPECT_EQ(c->stats().depth, 6u);
  EXPECT_GT(c->restoreDeadlineMs(), 0);
  FakeClient client;
  c->addClient(&client, kTimeoutMs);
  c->setReady(&client, 100);
  EXPECT_EQ(c->restoreDeadlineMs(), 0) << "claimed";
  std::vector<uint64_t> got = client.ids();
  std::vector<uint64_t> want = ids;
  want.push_back(deferred_id);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, want);
  for (const FakeClient::Sent& sent : client.sent) {
    // The two in flight at the stop are delivered again, as a durable channel's (nsqd too).
    bool was_in_flight = sent.id == holder.sent[0].id || sent.id == holder.sent[1].id;
    EXPECT_EQ(sent.attempts, was_in_flight ? 2 : 1) << sent.body;
  }
}

TEST_F(EphemeralRestoreTest, RestoredChannelIsEphemeralAgainWhenItsLastClientLeaves) {
  channel("t", kEphemeral);
  publishN(topic("t"), 3);
  cleanRestart();
  Channel* c = findEphemeral();
  ASSERT_NE(c, nullptr);
  FakeClient client;
  c->addClient(&client, kTimeoutMs);
  c->setReady(&client, 10);
  EXPECT_EQ(client.sent.size(), 3u);
  // What the protocol does when the last client of an ephemeral channel goes.
  c->removeClient(&client);
  ASSERT_TRUE(engine().findTopic("t")->deleteChannel(kEphemeral).isOk());
  EXPECT_EQ(filesWith("ephemeral"), 0u) << "disk queue files and queued-ephemeral.dat gone";
}

TEST_F(EphemeralRestoreTest, UnclaimedRestoredChannelIsDeletedAtTheTimeout) {
  options_.ephemeral_restore_timeout_ms = 1000;
  channel("t", kEphemeral);
  channel("t", "durable");
  publishN(topic("t"), 3);
  cleanRestart();
  ASSERT_NE(findEphemeral(), nullptr);
  advance(999);
  engine().tick();
  ASSERT_NE(findEphemeral(), nullptr) << "not before the timeout";
  advance(1);
  engine().tick();
  EXPECT_EQ(findEphemeral(), nullptr);
  EXPECT_EQ(filesWith("ephemeral"), 0u) << "no backlog left: files and list removed";
  EXPECT_NE(engine().findTopic("t")->findChannel("durable"), nullptr);
  EXPECT_EQ(engine().findTopic("t")->findChannel("durable")->stats().depth, 3u);

  // And it stays gone across the next restart.
  cleanRestart();
  EXPECT_EQ(findEphemeral(), nullptr);
}

TEST_F(EphemeralRestoreTest, ClaimedRestoredChannelOutlivesTheTimeout) {
  options_.ephemeral_restore_timeout_ms = 1000;
  channel("t", kEphemeral);
  publishN(topic("t"), 3);
  cleanRestart();
  Channel* c = findEphemeral();
  ASSERT_NE(c, nullptr);
  FakeClient client;
  c->addClient(&client, kTimeoutMs);
  advance(5000);
  engine().tick();
  ASSERT_EQ(findEphemeral(), c);
  c->setReady(&client, 10);
  EXPECT_EQ(client.sent.size(), 3u);
  c->removeClient(&client);
}

// The topic's own backlog (here: held while paused) reaches the restored channel, which exists
// before the topic pumps again.
TEST_F(EphemeralRestoreTest, TopicBacklogReachesTheRestoredChannel) {
  options_.mem_queue_size = 2;  // part of the topic's backlog on disk, part in memory
  channel("t", kEphemeral);
  topic("t")->pause();
  std::vector<uint64_t> ids = publishN(topic("t"), 5);
  ASSERT_EQ(topic("t")->stats().depth, 5u);
  cleanRestart();
  Channel* c = findEphemeral();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->stats().depth, 0u);
  engine().findTopic("t")->unpause();
  engine().tick();
  EXPECT_EQ(c->stats().depth, 5u) << "overflow of a restored channel goes to its disk queue";
  FakeClient client;
  c->addClient(&client, kTimeoutMs);
  c->setReady(&client, 10);
  std::vector<uint64_t> got = client.ids();
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, ids);
}

TEST_F(EphemeralRestoreTest, OffLosesThemAsNsqd) {
  options_.keep_ephemeral_on_restart = false;
  channel("t", kEphemeral);
  channel("t", "durable");
  publishN(topic("t"), 3);
  cleanRestart();
  EXPECT_EQ(findEphemeral(), nullptr);
  EXPECT_EQ(filesWith("ephemeral"), 0u);
  EXPECT_EQ(engine().findTopic("t")->findChannel("durable")->stats().depth, 3u);
}

TEST_F(EphemeralRestoreTest, TurnedOffBeforeTheStartDropsWhatWasKept) {
  channel("t", kEphemeral);
  publishN(topic("t"), 3);
  ASSERT_TRUE(engine().close().isOk());
  ASSERT_GT(filesWith("ephemeral"), 0u);
  options_.keep_ephemeral_on_restart = false;
  recreateEngine();
  ASSERT_TRUE(engine().load().isOk());
  EXPECT_EQ(findEphemeral(), nullptr);
  EXPECT_EQ(filesWith("ephemeral"), 0u) << "no backlog left behind";
}

TEST_F(EphemeralRestoreTest, EphemeralTopicsChannelsAreNotKept) {
  channel("e#ephemeral", kEphemeral);
  publishN(topic("e#ephemeral"), 3);
  cleanRestart();
  EXPECT_EQ(engine().findTopic("e#ephemeral"), nullptr);
  EXPECT_EQ(filesWith("ephemeral"), 0u);
}

TEST_F(EphemeralRestoreTest, ACrashAfterTheRestoreFindsItAgain) {
  channel("t", kEphemeral);
  publishN(topic("t"), 3);
  cleanRestart();
  ASSERT_NE(findEphemeral(), nullptr);
  // Restored, its messages are in its disk queue: a crash now (no close()) loses none of them.
  recreateEngine();
  ASSERT_TRUE(engine().load().isOk());
  ASSERT_NE(findEphemeral(), nullptr);
  EXPECT_EQ(findEphemeral()->stats().depth, 3u);
}

TEST_F(EphemeralRestoreTest, CorruptListIsAnError) {
  ASSERT_TRUE(engine().persistMetadata().isOk());
  {
    std::ofstream out(dir_ + "/queued-ephemeral.dat", std::ios::binary);
    out << R"({"channels":[{"topic":)";
  }
  recreateEngine();
  Status status = engine().load();
  EXPECT_EQ(status.code(), Code::INVALID_ARGUMENT) << status;
}

}  // namespace
}  // namespace push::queue

// The NSQ client (common/queue/client) against real daemons: every case runs against the real
// nsqd v1.3.0 (../shared/peers/nsq/nsqd or $NSQD_BIN) and against our queued
// ($PUSH_BIN_DIR/push-queued), started with the same flags; a daemon that is absent skips.

#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/net/event_loop.h"
#include "common/net/periodic_timer.h"
#include "common/queue/client/consumer.h"
#include "common/queue/client/producer.h"
#include "tests/support/nsq_daemon.h"

namespace push::queue {
namespace {

using namespace std::chrono_literals;

uint16_t freePort() {
  return static_cast<uint16_t>(testing::freeLoopbackPort());
}

class QueueClientTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (testing::NsqDaemon::binaryFor(GetParam()).empty()) {
      GTEST_SKIP() << GetParam() << " not found (nsqd: NSQD_BIN or ../shared/peers/nsq; "
                   << "queued: push-queued not built yet)";
    }
  }

  void TearDown() override {
    producer_.reset();
    consumers_.clear();
    daemon_.reset();
    lookupd_.reset();
    EXPECT_TRUE(loop_.shutdown().isOk());
  }

  void startDaemon(std::vector<std::string> extra = {}) {
    auto started = testing::NsqDaemon::start(GetParam(), extra);
    ASSERT_TRUE(started.isOk()) << started.status();
    daemon_ = std::move(started).value();
  }

  Producer& producer(Producer::Options o = {}) {
    if (!producer_) {
      auto p = Producer::create(loop_, daemon_->tcpAddress(), o);
      EXPECT_TRUE(p.isOk()) << p.status();
      producer_ = std::move(p).value();
    }
    return *producer_;
  }

  Consumer::Options consumerOptions(std::string topic, std::string channel) {
    Consumer::Options o;
    o.topic = std::move(topic);
    o.channel = std::move(channel);
    o.nsqd_tcp_addresses = {daemon_->tcpAddress()};
    o.max_in_flight = 50;
    o.reconnect_min = 50ms;
    o.reconnect_max = 500ms;
    o.backoff_base = 50ms;
    o.backoff_max = 200ms;
    o.connection.heartbeat_interval = 1000ms;
    return o;
  }

  Consumer& consumer(Consumer::Options o, Consumer::Handler handler) {
    auto c = Consumer::create(loop_, std::move(o), std::move(handler));
    EXPECT_TRUE(c.isOk()) << c.status();
    consumers_.push_back(std::move(c).value());
    return *consumers_.back();
  }

  // Publishes bodies "<prefix><i>" one PUB each and waits for every answer; returns OKs.
  int publishAll(const std::string& topic, const std::string& prefix, int n) {
    int ok = 0, answered = 0;
    for (int i = 0; i < n; ++i) {
      producer().publish(topic, prefix + std::to_string(i), [&](Status st) {
        ++answered;
        ok += st.isOk();
        EXPECT_TRUE(st.isOk()) << st;
      });
    }
    EXPECT_TRUE(loop_.runUntil([&] { return answered == n; }, 20s));
    return ok;
  }

  void runFor(std::chrono::milliseconds d) {
    loop_.runUntil([] { return false; }, d);
  }

  net::EventLoop loop_;
  std::unique_ptr<testing::NsqDaemon> daemon_;
  std::unique_ptr<testing::NsqDaemon> lookupd_;
  std::unique_ptr<Producer> producer_;
  std::vector<std::unique_ptr<Consumer>> consumers_;
};

TEST_P(QueueClientTest, PublishThousandAndConsumeEachExactlyOnce) {
  startDaemon();
  std::map<std::string, int> seen;
  Consumer& c = consumer(consumerOptions("t1000", "ch"), [&](Message m) {
    ++seen[m.body()];
    EXPECT_EQ(m.attempts(), 1);
    EXPECT_TRUE(m.finish());
  });
  EXPECT_EQ(publishAll("t1000", "m", 1000), 1000);
  ASSERT_TRUE(loop_.runUntil([&] { return seen.size() == 1000; }, 20s)) << seen.size();
  runFor(300ms);  // a duplicate would show here
  EXPECT_EQ(seen.size(), 1000u);
  for (const auto& [body, count] : seen)
    EXPECT_EQ(count, 1) << body;
  EXPECT_EQ(c.stats().received, 1000u);
  EXPECT_EQ(c.stats().finished, 1000u);
  EXPECT_EQ(c.stats().connections, 1u);
  EXPECT_EQ(producer().stats().ok, 1000u);
}

TEST_P(QueueClientTest, MultiPublishOf200) {
  startDaemon();
  std::vector<std::string> bodies;
  for (int i = 0; i < 200; ++i)
    bodies.push_back("b" + std::to_string(i));
  std::optional<Status> result;
  producer().multiPublish("tmpub", bodies, [&](Status st) { result = st; });
  ASSERT_TRUE(loop_.runUntil([&] { return result.has_value(); }, 10s));
  ASSERT_TRUE(result->isOk()) << *result;
  std::set<std::string> seen;
  consumer(consumerOptions("tmpub", "ch"), [&](Message m) { seen.insert(m.body()); });
  ASSERT_TRUE(loop_.runUntil([&] { return seen.size() == 200; }, 10s)) << seen.size();
  EXPECT_EQ(seen, std::set<std::string>(bodies.begin(), bodies.end()));
}

TEST_P(QueueClientTest, RequeuedMessageComesBackWithOneMoreAttempt) {
  startDaemon();
  std::vector<std::pair<std::string, int>> got;
  Consumer* self = nullptr;
  Consumer& c = consumer(consumerOptions("treq", "ch"), [&](Message m) {
    got.emplace_back(m.body(), m.attempts());
    if (m.body() == "r0" && m.attempts() == 1) {
      EXPECT_TRUE(m.requeue(0ms));  // with backoff: RDY 0 for 50 ms, then RDY 1 to probe
      EXPECT_EQ(self->backoffLevel(), 1u);
    } else {
      EXPECT_TRUE(m.finish());
    }
  });
  self = &c;
  EXPECT_EQ(publishAll("treq", "r", 1), 1);
  ASSERT_TRUE(loop_.runUntil([&] { return got.size() == 2; }, 10s));
  EXPECT_EQ(got[0], std::make_pair(std::string("r0"), 1));
  EXPECT_EQ(got[1], std::make_pair(std::string("r0"), 2));
  EXPECT_EQ(c.stats().requeued, 1u);
  // The redelivery may race the RDY 0 (then its finish falls in the pause and does not count,
  // as in go-nsq); a message taken by the probe ends the backoff for sure.
  producer().publish("treq", "next", [](Status st) { EXPECT_TRUE(st.isOk()) << st; });
  ASSERT_TRUE(loop_.runUntil([&] { return got.size() == 3; }, 10s));
  EXPECT_EQ(got[2].first, "next");
  EXPECT_EQ(c.backoffLevel(), 0u);
}

TEST_P(QueueClientTest, UnfinishedMessageComesBackAfterMsgTimeout) {
  startDaemon();
  Consumer::Options o = consumerOptions("ttimeout", "ch");
  o.auto_finish = false;
  o.connection.msg_timeout = 1000ms;
  std::vector<int> attempts;
  std::vector<int64_t> at;
  consumer(o, [&](Message m) {
    attempts.push_back(m.attempts());
    at.push_back(loop_.nowMs());
    if (m.attempts() >= 2) m.finish();  // the first is dropped unanswered
  });
  EXPECT_EQ(publishAll("ttimeout", "x", 1), 1);
  ASSERT_TRUE(loop_.runUntil([&] { return attempts.size() == 2; }, 10s));
  EXPECT_EQ(attempts, (std::vector<int>{1, 2}));
  EXPECT_GE(at[1] - at[0], 900);  // (nsqd: up to its 5 s scan refresh later)
}

TEST_P(QueueClientTest, TouchKeepsAMessage) {
  startDaemon();
  Consumer::Options o = consumerOptions("ttouch", "ch");
  o.auto_finish = false;
  o.connection.msg_timeout = 1000ms;
  std::vector<Message> held;
  int received = 0;
  consumer(o, [&](Message m) {
    ++received;
    held.push_back(std::move(m));
  });
  EXPECT_EQ(publishAll("ttouch", "x", 1), 1);
  ASSERT_TRUE(loop_.runUntil([&] { return received == 1; }, 10s));
  int touches = 0;
  net::PeriodicTimerPtr toucher = net::PeriodicTimer::create(loop_, [&] {
    ++touches;
    EXPECT_TRUE(held.front().touch());
  });
  toucher->start(300ms);
  runFor(2500ms);  // 2.5 msg_timeouts
  toucher.reset();
  EXPECT_GE(touches, 6);
  EXPECT_EQ(received, 1) << "touched message was redelivered";
  EXPECT_TRUE(held.front().finish());
  runFor(1500ms);
  EXPECT_EQ(received, 1);
}

TEST_P(QueueClientTest, DeferredPublishArrivesAfterItsDelayNotBefore) {
  startDaemon();
  std::optional<int64_t> received_at;
  consumer(consumerOptions("tdefer", "ch"), [&](Message m) { received_at = loop_.nowMs(); });
  // The channel must exist before the message (a topic without channels keeps it anyway).
  ASSERT_TRUE(loop_.runUntil([&] { return consumers_[0]->stats().connections == 1; }, 10s));
  std::optional<Status> result;
  const int64_t sent_at = loop_.nowMs();
  producer().deferredPublish("tdefer", 800ms, "later", [&](Status st) { result = st; });
  ASSERT_TRUE(loop_.runUntil([&] { return result.has_value(); }, 10s));
  ASSERT_TRUE(result->isOk()) << *result;
  ASSERT_TRUE(loop_.runUntil([&] { return received_at.has_value(); }, 10s));
  EXPECT_GE(*received_at - sent_at, 780);
  // nsqd scans a new channel's deferred queue only after its next 5 s worker refresh.
  EXPECT_LE(*received_at - sent_at, 10000);
}

TEST_P(QueueClientTest, TwoConsumersOnOneChannelShareTheMessages) {
  startDaemon();
  std::map<std::string, int> seen;
  int a = 0, b = 0;
  Consumer::Options o = consumerOptions("tshare", "ch");
  o.max_in_flight = 5;
  consumer(o, [&](Message m) {
    ++a;
    ++seen[m.body()];
  });
  consumer(o, [&](Message m) {
    ++b;
    ++seen[m.body()];
  });
  ASSERT_TRUE(loop_.runUntil(
      [&] {
        return consumers_[0]->stats().connections == 1 && consumers_[1]->stats().connections == 1;
      },
      10s));
  EXPECT_EQ(publishAll("tshare", "s", 400), 400);
  ASSERT_TRUE(loop_.runUntil([&] { return a + b == 400; }, 20s)) << a + b;
  runFor(300ms);
  EXPECT_EQ(a + b, 400);
  EXPECT_EQ(seen.size(), 400u);
  EXPECT_GT(a, 0);
  EXPECT_GT(b, 0);
}

TEST_P(QueueClientTest, TwoChannelsEachGetEveryMessage) {
  startDaemon();
  std::set<std::string> one, two;
  consumer(consumerOptions("tchan", "one"), [&](Message m) { one.insert(m.body()); });
  consumer(consumerOptions("tchan", "two"), [&](Message m) { two.insert(m.body()); });
  ASSERT_TRUE(loop_.runUntil(
      [&] {
        return consumers_[0]->stats().connections == 1 && consumers_[1]->stats().connections == 1;
      },
      10s));
  EXPECT_EQ(publishAll("tchan", "c", 100), 100);
  ASSERT_TRUE(loop_.runUntil([&] { return one.size() == 100 && two.size() == 100; }, 10s))
      << one.size() << " " << two.size();
  EXPECT_EQ(one, two);
}

TEST_P(QueueClientTest, ConsumerFindsTheDaemonThroughNsqlookupd) {
  if (testing::NsqDaemon::binaryFor("nsqlookupd").empty()) {
    GTEST_SKIP() << "nsqlookupd not found (NSQLOOKUPD_BIN or ../shared/peers/nsq)";
  }
  auto lookupd = testing::NsqDaemon::start("nsqlookupd");
  ASSERT_TRUE(lookupd.isOk()) << lookupd.status();
  lookupd_ = std::move(lookupd).value();
  startDaemon({"--lookupd-tcp-address=" + lookupd_->tcpAddress(), "--broadcast-address=127.0.0.1"});
  EXPECT_EQ(publishAll("tlookup", "l", 20), 20);  // creates the topic: nsqd registers it
  Consumer::Options o = consumerOptions("tlookup", "ch");
  o.nsqd_tcp_addresses.clear();
  o.lookupd_http_addresses = {lookupd_->httpAddress()};
  o.lookup_interval = 200ms;
  std::set<std::string> seen;
  Consumer& c = consumer(o, [&](Message m) { seen.insert(m.body()); });
  ASSERT_TRUE(loop_.runUntil([&] { return seen.size() == 20; }, 15s))
      << seen.size() << " received, " << c.stats().lookups << " lookups";
  EXPECT_EQ(c.stats().connections, 1u);
}

TEST_P(QueueClientTest, ProducerAndConsumerGoOnAfterTheDaemonRestarts) {
  startDaemon();
  Producer::Options po;
  po.reconnect_min = 50ms;
  po.reconnect_max = 200ms;
  producer(po);
  std::set<std::string> seen;
  Consumer& c =
      consumer(consumerOptions("trestart", "ch"), [&](Message m) { seen.insert(m.body()); });
  EXPECT_EQ(publishAll("trestart", "before", 10), 10);
  ASSERT_TRUE(loop_.runUntil([&] { return seen.size() == 10; }, 10s));

  daemon_->stop();
  ASSERT_TRUE(loop_.runUntil([&] { return c.stats().connections == 0; }, 10s));
  ASSERT_TRUE(daemon_->resume().isOk());

  // Publish until the producer is through again (failures while it reconnects are fine).
  int ok = 0;
  for (int i = 0; i < 10;) {
    std::optional<Status> st;
    producer().publish("trestart", "after" + std::to_string(i), [&](Status s) { st = s; });
    ASSERT_TRUE(loop_.runUntil([&] { return st.has_value(); }, 15s));
    if (st->isOk()) {
      ++ok;
      ++i;
    } else {
      runFor(50ms);
    }
  }
  EXPECT_EQ(ok, 10);
  ASSERT_TRUE(loop_.runUntil([&] { return seen.size() == 20; }, 15s)) << seen.size();
  EXPECT_EQ(c.stats().connections, 1u);
  EXPECT_GE(c.stats().connects, 2u);
}

TEST_P(QueueClientTest, EveryCallbackRunsOnceWhenTheDaemonIsKilledMidStream) {
  startDaemon();
  Producer::Options po;
  po.max_inflight = 100'000;
  po.timeout = 5s;
  Producer& p = producer(po);
  constexpr int kCount = 30'000;
  std::vector<int> calls(kCount, 0);
  int answered = 0, ok = 0;
  std::map<Code, int> codes;
  for (int i = 0; i < kCount; ++i) {
    p.publish("tkill", std::string(200, 'k'), [&, i](Status st) {
      ++calls[i];
      ++answered;
      ok += st.isOk();
      ++codes[st.code()];
    });
  }
  ASSERT_TRUE(loop_.runUntil([&] { return ok >= 500; }, 20s));
  daemon_->stop(/*kill=*/true);
  ASSERT_TRUE(loop_.runUntil([&] { return answered == kCount; }, 20s)) << answered;
  runFor(100ms);
  for (int i = 0; i < kCount; ++i)
    ASSERT_EQ(calls[i], 1) << "callback " << i;
  for (const auto& [code, n] : codes) {
    EXPECT_TRUE(code == Code::OK || code == Code::UNAVAILABLE || code == Code::TIMEOUT)
        << codeName(code) << " x" << n;
  }
  EXPECT_EQ(p.inflight(), 0u);
  EXPECT_EQ(p.pendingBytes(), 0u);
  std::string summary;
  for (const auto& [code, n] : codes)
    summary += std::string(codeName(code)) + "=" + std::to_string(n) + " ";
  RecordProperty("outcomes", summary);
  std::printf("outcomes: %s\n", summary.c_str());
}

TEST_P(QueueClientTest, StopWaitsForInFlightMessagesThenCloses) {
  startDaemon();
  Consumer::Options o = consumerOptions("tstop", "ch");
  o.auto_finish = false;
  std::vector<Message> held;
  Consumer& c = consumer(o, [&](Message m) { held.push_back(std::move(m)); });
  EXPECT_EQ(publishAll("tstop", "x", 3), 3);
  ASSERT_TRUE(loop_.runUntil([&] { return held.size() == 3; }, 10s));
  bool stopped = false;
  c.stop([&] { stopped = true; });
  EXPECT_FALSE(stopped);
  runFor(300ms);
  EXPECT_FALSE(stopped) << "stopped with messages in flight";
  for (Message& m : held)
    EXPECT_TRUE(m.finish());
  ASSERT_TRUE(loop_.runUntil([&] { return stopped; }, 5s));
  EXPECT_EQ(c.stats().finished, 3u);
  EXPECT_EQ(c.stats().connections, 0u);
}

INSTANTIATE_TEST_SUITE_P(Daemons, QueueClientTest, ::testing::Values("nsqd", "queued"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

// ---- without a daemon ----

class QueueClientNoDaemonTest : public ::testing::Test {
 protected:
  void TearDown() override { EXPECT_TRUE(loop_.shutdown().isOk()); }
  net::EventLoop loop_;
};

TEST_F(QueueClientNoDaemonTest, RefusedConnectionFailsWaitingCommandsUnavailable) {
  const uint16_t port = freePort();  // nothing listens there
  auto p = Producer::create(loop_, "127.0.0.1:" + std::to_string(port), {});
  ASSERT_TRUE(p.isOk()) << p.status();
  std::vector<Status> results;
  for (int i = 0; i < 3; ++i)
    (*p)->publish("t", "x", [&](Status st) { results.push_back(st); });
  EXPECT_TRUE(results.empty()) << "done ran inside publish()";
  ASSERT_TRUE(loop_.runUntil([&] { return results.size() == 3; }, 10s));
  for (const Status& st : results)
    EXPECT_EQ(st.code(), Code::UNAVAILABLE) << st;
}

TEST_F(QueueClientNoDaemonTest, BadArgumentsAndOverloadFailInsideTheCall) {
  Producer::Options o;
  o.max_inflight = 2;
  auto p = Producer::create(loop_, "127.0.0.1:" + std::to_string(freePort()), o);
  ASSERT_TRUE(p.isOk());
  std::vector<Status> results;
  auto record = [&](Status st) { results.push_back(st); };
  (*p)->publish("bad topic", "x", record);
  (*p)->publish("t", "", record);
  (*p)->multiPublish("t", {}, record);
  ASSERT_EQ(results.size(), 3u);
  for (const Status& st : results)
    EXPECT_EQ(st.code(), Code::INVALID_ARGUMENT) << st;
  results.clear();
  (*p)->publish("t", "1", record);
  (*p)->publish("t", "2", record);
  (*p)->publish("t", "3", record);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].code(), Code::OVERLOADED);
  p->reset();  // the two waiting complete CANCELLED
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[1].code(), Code::CANCELLED);
  EXPECT_EQ(results[2].code(), Code::CANCELLED);
}

TEST_F(QueueClientNoDaemonTest, ConsumerOptionsAreChecked) {
  Consumer::Options o;
  o.topic = "t";
  o.channel = "c";
  auto handler = [](Message) {};
  EXPECT_EQ(Consumer::create(loop_, o, handler).status().code(), Code::INVALID_ARGUMENT);
  o.nsqd_tcp_addresses = {"nonsense"};
  EXPECT_EQ(Consumer::create(loop_, o, handler).status().code(), Code::INVALID_ARGUMENT);
  o.nsqd_tcp_addresses = {"127.0.0.1:1"};
  o.channel = "bad channel";
  EXPECT_EQ(Consumer::create(loop_, o, handler).status().code(), Code::INVALID_ARGUMENT);
  o.channel = "c";
  o.connection.snappy = true;  // needs common/queue/codec
  EXPECT_EQ(Consumer::create(loop_, o, handler).status().code(), Code::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace push::queue

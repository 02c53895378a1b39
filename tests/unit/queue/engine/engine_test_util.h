#pragma once

// Shared by the engine tests: a ChannelClient that records what it is sent, and a fixture that
// owns a temp data dir, a FakeClock and a QueueEngine on them (re-creatable, as after a restart).

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/queue/channel.h"
#include "common/queue/message.h"
#include "common/queue/queue_engine.h"
#include "common/queue/queue_options.h"
#include "common/queue/topic.h"
#include "tests/mocks/fake_clock.h"

namespace push::queue::test {

// Records every message the channel sends it. Not owned by the channel; tests call
// removeClient() or let the engine go first.
class FakeClient final : public ChannelClient {
 public:
  struct Sent {
    uint64_t id;
    uint16_t attempts;
    int64_t timestamp_ns;
    std::string body;
  };

  void sendMessage(const Message& message) override {
    sent.push_back(
        Sent{message.id, message.attempts, message.timestamp_ns, std::string(message.body.view())});
  }
  void onChannelClosing() override { ++closing; }

  std::vector<uint64_t> ids() const {
    std::vector<uint64_t> out;
    for (const Sent& s : sent)
      out.push_back(s.id);
    return out;
  }
  std::vector<std::string> bodies() const {
    std::vector<std::string> out;
    for (const Sent& s : sent)
      out.push_back(s.body);
    return out;
  }
  const Sent& last() const { return sent.back(); }

  std::vector<Sent> sent;
  int closing = 0;
};

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "queue_engine_test_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    options_.data_path = dir_;
    options_.sync_every = 0;  // the tests fsync nothing they do not need to
  }
  void TearDown() override {
    engine_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // The engine, created on first use with the options as they are then.
  QueueEngine& engine() {
    if (!engine_) engine_ = std::make_unique<QueueEngine>(options_, clock_);
    return *engine_;
  }
  // Destroys the engine (its disk queues sync on destruction) and builds a new one on the same
  // data path; load() is the caller's.
  QueueEngine& recreateEngine() {
    engine_.reset();
    return engine();
  }

  Topic* topic(const std::string& name) {
    Result<Topic*> t = engine().getOrCreateTopic(name);
    EXPECT_TRUE(t.isOk()) << t.status();
    return t.isOk() ? *t : nullptr;
  }
  Channel* channel(const std::string& topic_name, const std::string& name) {
    Topic* t = topic(topic_name);
    if (t == nullptr) return nullptr;
    Result<Channel*> c = t->getOrCreateChannel(name);
    EXPECT_TRUE(c.isOk()) << c.status();
    return c.isOk() ? *c : nullptr;
  }

  Message message(const std::string& body) { return engine().newMessage(body); }

  int64_t now() const { return clock_.monoMillis(); }
  void advance(int64_t ms) { clock_.advance(std::chrono::milliseconds(ms)); }

  push::testing::FakeClock clock_;
  QueueOptions options_;
  std::string dir_;
  std::unique_ptr<QueueEngine> engine_;
};

}  // namespace push::queue::test

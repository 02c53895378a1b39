#pragma once

// Shared by the SDK tests: a thread-safe recorder of client callbacks, and a fixture that
// runs a FakeRoom on the test thread's loop next to a client on its own thread.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/net/event_loop.h"
#include "sdk/client.h"
#include "tests/unit/sdk/fake_room.h"

namespace push::sdk::testing {

// "127.0.0.1:<port>" of a port nothing listens on: bound, then closed (the kernel refuses
// connections to it).
inline std::string deadAddress() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
}

using namespace std::chrono_literals;

// How often runUntil() wakes to look at state the test loop does not watch (the client's
// callbacks run on the SDK thread).
constexpr std::chrono::milliseconds kPoll{5};

// Everything the client reported, guarded by a mutex (callbacks run on the SDK thread).
class Recorder {
 public:
  struct UpstreamAck {
    uint64_t seq;
    int code;
    std::string message;
    std::string reply;
  };

  Client::Callbacks callbacks() {
    Client::Callbacks cb;
    cb.on_message = [this](const Message& m) {
      {
        std::lock_guard lock(mu_);
        messages_.push_back(m);
      }
      if (on_message_hook) on_message_hook(m);
    };
    cb.on_state = [this](State s, const std::string& detail) {
      std::lock_guard lock(mu_);
      states_.emplace_back(s, detail);
    };
    cb.on_error = [this](int code, const std::string& message) {
      std::lock_guard lock(mu_);
      errors_.emplace_back(code, message);
    };
    cb.on_upstream_ack = [this](uint64_t seq, int code, const std::string& message,
                                const std::string& reply) {
      std::lock_guard lock(mu_);
      upstream_acks_.push_back({seq, code, message, reply});
    };
    cb.on_bind = [this](const std::string& app, int code, const std::string& message) {
      std::lock_guard lock(mu_);
      binds_.emplace_back(app, code, message);
    };
    cb.on_subscribe = [this](uint64_t seq, const std::string& app, int code, const std::string&,
                             const std::vector<std::string>& tags) {
      std::lock_guard lock(mu_);
      subscribes_.push_back({seq, app, code, tags});
    };
    return cb;
  }

  // Runs on the SDK thread inside on_message, after the message was recorded.
  std::function<void(const Message&)> on_message_hook;

  size_t stateCount(State s) const {
    std::lock_guard lock(mu_);
    return static_cast<size_t>(
        std::count_if(states_.begin(), states_.end(), [&](const auto& e) { return e.first == s; }));
  }
  bool saw(State s) const { return stateCount(s) > 0; }
  std::vector<std::pair<State, std::string>> states() const {
    std::lock_guard lock(mu_);
    return states_;
  }
  std::vector<Message> messages() const {
    std::lock_guard lock(mu_);
    return messages_;
  }
  size_t messageCount(uint64_t id) const {
    std::lock_guard lock(mu_);
    return static_cast<size_t>(std::count_if(messages_.begin(), messages_.end(),
                                             [&](const Message& m) { return m.id == id; }));
  }
  size_t errorCount(int code) const {
    std::lock_guard lock(mu_);
    return static_cast<size_t>(std::count_if(errors_.begin(), errors_.end(),
                                             [&](const auto& e) { return e.first == code; }));
  }
  std::vector<UpstreamAck> upstreamAcks() const {
    std::lock_guard lock(mu_);
    return upstream_acks_;
  }
  std::vector<std::tuple<std::string, int, std::string>> binds() const {
    std::lock_guard lock(mu_);
    return binds_;
  }
  struct SubscribeResult {
    uint64_t seq;
    std::string app;
    int code;
    std::vector<std::string> tags;
  };
  std::vector<SubscribeResult> subscribes() const {
    std::lock_guard lock(mu_);
    return subscribes_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::pair<State, std::string>> states_;
  std::vector<Message> messages_;
  std::vector<std::pair<int, std::string>> errors_;
  std::vector<UpstreamAck> upstream_acks_;
  std::vector<std::tuple<std::string, int, std::string>> binds_;
  std::vector<SubscribeResult> subscribes_;
};

// A gate a callback waits at until the test opens it (opened on scope exit too, so a failed
// test never leaves the SDK thread stuck).
class Gate {
 public:
  ~Gate() { open(); }
  void open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  void wait() {
    waiting_ = true;
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return open_; });
  }
  bool waiting() const { return waiting_; }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  std::atomic<bool> waiting_{false};
};

class ClientTestBase : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(room_.start().isOk()); }

  void TearDown() override {
    closeClient();
    room_.stop();
    EXPECT_TRUE(loop_.runUntil([&] { return room_.openConnections() == 0; }, 5s));
    EXPECT_TRUE(loop_.shutdown().isOk());
  }

  ClientOptions options() {
    ClientOptions o;
    o.servers = {room_.address()};
    o.token = "tok";
    o.network = Network::Wifi;
    o.backoff_initial = 100ms;
    o.backoff_max = 5s;
    o.heartbeat_min_s = 1;  // the fake room proposes 1 s, to keep heartbeat tests short
    return o;
  }

  void startClient(ClientOptions o) {
    auto c = Client::create(std::move(o));
    ASSERT_TRUE(c.isOk()) << c.status().toString();
    client_ = std::move(c).value();
    ASSERT_TRUE(client_->setCallbacks(rec_.callbacks()).isOk());
    ASSERT_TRUE(client_->connect().isOk());
  }

  // Drives the fake room's loop until `done` (which may look at the recorder).
  bool until(const std::function<bool()>& done, std::chrono::milliseconds timeout = 5s) {
    return loop_.runUntil(done, timeout, kPoll);
  }

  bool online() {
    return until([&] { return rec_.saw(State::Online); });
  }

  // close() blocks until the SDK thread ended, which needs the room to answer the graceful
  // close: run it on another thread while this one drives the room.
  void closeClient() {
    if (!client_) return;
    std::atomic<bool> done{false};
    std::thread closer([&] {
      client_->close();
      done = true;
    });
    EXPECT_TRUE(until([&] { return done.load(); }, 10s));
    closer.join();
    client_.reset();
  }

  net::EventLoop loop_;
  FakeRoom room_{loop_};
  Recorder rec_;
  std::unique_ptr<Client> client_;
};

}  // namespace push::sdk::testing

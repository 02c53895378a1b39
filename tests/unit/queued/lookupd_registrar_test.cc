#include "services/queued/lookupd_registrar.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "common/net/event_loop.h"
#include "common/net/tcp_connection.h"
#include "common/net/tcp_server.h"
#include "common/queue/wire.h"
#include "tests/support/http_client.h"
#include "tests/support/nsq_daemon.h"
#include "tests/support/subprocess.h"

namespace push::queued {
namespace {

using namespace std::chrono_literals;
using Registrations = std::vector<std::pair<std::string, std::string>>;

// ---- an in-process lookupd that records bytes and answers like nsqlookupd ----

// Speaks lookupd's side of the protocol on the test's loop: after "  V1", answers IDENTIFY with
// a JSON document and every other line with "OK" ([u32 size][data], no frame type). Switches
// make it misbehave. Records everything each connection sent, and the loop time of accepts.
class FakeLookupd final : public net::TcpConnection::Handler {
 public:
  struct Conn {
    std::string received;   // every byte, in order
    size_t first_read = 0;  // bytes in the first onData call
    size_t parsed = 0;      // bytes of `received` answered so far
    bool magic_seen = false;
    net::TcpConnection* conn = nullptr;  // null once closed
  };

  explicit FakeLookupd(net::EventLoop& loop) : loop_(loop) {
    auto server = net::TcpServer::listen(loop, {}, [this](net::TcpConnection& c) {
      accept_ms.push_back(loop_.nowMs());
      if (close_on_accept) {
        c.close();
        return;
      }
      auto state = std::make_unique<Conn>();
      state->conn = &c;
      c.setContext(state.get());
      conns.push_back(std::move(state));
      c.start(this, &limits_);
    });
    EXPECT_TRUE(server.isOk()) << server.status().toString();
    server_ = std::move(*server);
  }

  std::string address() const { return server_->address().toString(); }
  Conn& last() { return *conns.back(); }
  size_t liveConns() const {
    return static_cast<size_t>(
        std::count_if(conns.begin(), conns.end(), [](const auto& c) { return c->conn; }));
  }
  // Stops listening, closes every connection and waits for their close callbacks (they call
  // this object): call before destroying it.
  void closeAll() {
    server_.reset();
    for (auto& c : conns) {
      if (c->conn) c->conn->close();
    }
    EXPECT_TRUE(loop_.runUntil([&] { return liveConns() == 0; }));
  }
  // Answers what is buffered (after answer_identify was turned back on).
  void answerPending() {
    for (auto& c : conns) {
      if (c->conn) process(*c);
    }
  }

  size_t onData(net::TcpConnection& conn, const char* data, size_t len) override {
    Conn& c = *static_cast<Conn*>(conn.context());
    if (c.received.empty()) c.first_read = len;
    c.received.append(data, len);
    process(c);
    return len;
  }
  void onClosed(net::TcpConnection& conn, net::TcpConnection::CloseReason) override {
    static_cast<Conn*>(conn.context())->conn = nullptr;
  }

  // Switches.
  bool close_on_accept = false;
  bool answer_identify = true;  // false: IDENTIFY (and all after it) wait for answerPending()
  bool answer_commands = true;  // false: lines after IDENTIFY get no reply
  bool stop_reading_after_identify = false;
  std::string identify_reply =
      R"({"broadcast_address":"vm","hostname":"vm","http_port":4161,"tcp_port":4160,"version":"1.3.0"})";

  std::vector<std::unique_ptr<Conn>> conns;
  std::vector<int64_t> accept_ms;

 private:
  void reply(Conn& c, std::string_view data) {
    char size[4];
    queue::wire::putU32(size, static_cast<uint32_t>(data.size()));
    c.conn->send(size, 4);
    c.conn->send(data);
  }
  void process(Conn& c) {
    std::string_view in = std::string_view(c.received).substr(c.parsed);
    if (!c.magic_seen) {
      if (in.size() < 4) return;
      EXPECT_EQ(in.substr(0, 4), "  V1");
      c.magic_seen = true;
      c.parsed += 4;
      in.remove_prefix(4);
    }
    while (c.conn) {
      const size_t nl = in.find('\n');
      if (nl == std::string_view::npos) return;
      const std::string_view line = in.substr(0, nl);
      size_t used = nl + 1;
      if (line == "IDENTIFY") {
        if (!answer_identify) return;
        if (in.size() < used + 4) return;
        const uint32_t size = queue::wire::getU32(in.data() + used);
        if (in.size() < used + 4 + size) return;
        used += 4 + size;
        reply(c, identify_reply);
        if (stop_reading_after_identify) c.conn->stopReading();
      } else if (answer_commands) {
        reply(c, "OK");
      }
      c.parsed += used;
      in.remove_prefix(used);
    }
  }

  net::EventLoop& loop_;
  net::TcpConnection::Limits limits_;
  net::TcpServerPtr server_;
};

// The fact sheet's wire capture of nsqd v1.3.0 (broadcast "bcast.example", hostname "vm").
const std::string kCapturedHello = std::string("  V1IDENTIFY\n\x00\x00\x00j", 17) +
                                   R"({"broadcast_address":"bcast.example","hostname":"vm",)"
                                   R"("http_port":39713,"tcp_port":57289,"version":"1.3.0"})";

LookupdRegistrar::Identity capturedIdentity() {
  LookupdRegistrar::Identity id;
  id.broadcast_address = "bcast.example";
  id.hostname = "vm";
  id.tcp_port = 57289;
  id.http_port = 39713;
  return id;
}

LookupdRegistrar::Options fastOptions() {
  LookupdRegistrar::Options o;
  o.reconnect_min = 20ms;
  o.reconnect_max = 80ms;
  return o;
}

class LookupdRegistrarFakeTest : public ::testing::Test {
 protected:
  void TearDown() override {
    registrar_.reset();
    fake_->closeAll();
    fake_.reset();
    EXPECT_TRUE(loop_.shutdown().isOk());
  }
  void start(LookupdRegistrar::Options options = fastOptions()) {
    registrar_ = std::make_unique<LookupdRegistrar>(
        loop_, capturedIdentity(), [this] { return state_; }, options);
    registrar_->setAddresses({fake_->address()});
  }
  // Everything after the hello on the fake's newest connection.
  std::string commandsSent() {
    if (fake_->conns.empty()) return "";
    const std::string& r = fake_->last().received;
    return r.size() < kCapturedHello.size() ? "" : r.substr(kCapturedHello.size());
  }

  net::EventLoop loop_;
  std::unique_ptr<FakeLookupd> fake_ = std::make_unique<FakeLookupd>(loop_);
  Registrations state_;
  std::unique_ptr<LookupdRegistrar> registrar_;
};

TEST_F(LookupdRegistrarFakeTest, SendsNsqdsHelloInOneWriteThenResyncsTheSnapshot) {
  state_ = {{"t1", ""}, {"t2", "c1"}, {"t2", "c2"}};
  start();
  const std::string resync = "REGISTER t1\nREGISTER t2 c1\nREGISTER t2 c2\n";
  ASSERT_TRUE(loop_.runUntil([&] { return !fake_->conns.empty() && commandsSent() == resync; }))
      << (fake_->conns.empty() ? "" : fake_->last().received);
  const auto& c = fake_->last();
  EXPECT_EQ(c.received.substr(0, kCapturedHello.size()), kCapturedHello);
  // Magic and IDENTIFY left in one write; the resync waited for lookupd's answer.
  EXPECT_EQ(c.first_read, kCapturedHello.size());
  EXPECT_EQ(registrar_->connectedCount(), 1u);
  EXPECT_EQ(registrar_->addresses(), std::vector<std::string>{fake_->address()});

  registrar_->registered("t3", "");
  registrar_->unregistered("t2", "c1");
  registrar_->registered("t2", "c3");
  registrar_->unregistered("t3", "");
  const std::string expected =
      resync + "REGISTER t3\nUNREGISTER t2 c1\nREGISTER t2 c3\nUNREGISTER t3\n";
  ASSERT_TRUE(loop_.runUntil([&] { return commandsSent() == expected; })) << commandsSent();
  EXPECT_EQ(fake_->conns.size(), 1u);
}

TEST_F(LookupdRegistrarFakeTest, ChangesWhileIdentifyingAreCoveredByTheResyncOnly) {
  fake_->answer_identify = false;
  start();
  ASSERT_TRUE(loop_.runUntil([&] {
    return !fake_->conns.empty() && fake_->last().received.size() == kCapturedHello.size();
  }));
  // Not answered yet: not connected, and nothing is sent for changes made now.
  state_.push_back({"early", ""});
  registrar_->registered("early", "");
  loop_.runUntil([] { return false; }, 50ms);
  EXPECT_EQ(registrar_->connectedCount(), 0u);
  EXPECT_EQ(fake_->last().received, kCapturedHello);

  fake_->answer_identify = true;
  fake_->answerPending();
  ASSERT_TRUE(loop_.runUntil([&] { return commandsSent() == "REGISTER early\n"; }))
      << commandsSent();
  EXPECT_EQ(registrar_->connectedCount(), 1u);
  loop_.runUntil([] { return false; }, 50ms);
  EXPECT_EQ(commandsSent(), "REGISTER early\n");  // once, not twice
}

TEST_F(LookupdRegistrarFakeTest, PingsEveryInterval) {
  auto options = fastOptions();
  options.ping_interval = 30ms;
  start(options);
  ASSERT_TRUE(loop_.runUntil([&] { return commandsSent() == "PING\nPING\nPING\n"; }, 5s))
      << commandsSent();
  EXPECT_EQ(fake_->conns.size(), 1u);
}

TEST_F(LookupdRegistrarFakeTest, DropsALookupdThatStopsAnsweringAndReconnects) {
  fake_->answer_commands = false;
  auto options = fastOptions();
  options.ping_interval = 30ms;
  start(options);
  // The first PING stays unanswered: at the next ping the connection is dropped and made again.
  ASSERT_TRUE(loop_.runUntil([&] { return fake_->conns.size() >= 2; }, 5s));
  EXPECT_EQ(fake_->conns[0]->received.substr(kCapturedHello.size(), 5), "PING\n");
  ASSERT_TRUE(loop_.runUntil([&] { return fake_->conns[0]->conn == nullptr; }));
}

TEST_F(LookupdRegistrarFakeTest, ReconnectsWithDoublingBackoffUpToTheMaximum) {
  fake_->close_on_accept = true;
  start();  // 20 ms doubling to 80 ms
  ASSERT_TRUE(loop_.runUntil([&] { return fake_->accept_ms.size() >= 6; }, 5s));
  const auto& t = fake_->accept_ms;
  const int64_t expected[] = {20, 40, 80, 80, 80};
  for (size_t i = 0; i + 1 < 6; ++i) {
    const int64_t gap = t[i + 1] - t[i];
    EXPECT_GE(gap, expected[i] - 2) << "gap " << i;
    EXPECT_LT(gap, expected[i] + 500) << "gap " << i;
  }
  EXPECT_EQ(registrar_->connectedCount(), 0u);
}

TEST_F(LookupdRegistrarFakeTest, AnIdentifyErrorIsNotAConnection) {
  fake_->identify_reply = "E_BAD_BODY IDENTIFY missing fields";
  start();
  ASSERT_TRUE(loop_.runUntil([&] { return fake_->conns.size() >= 2; }, 5s));
  EXPECT_EQ(registrar_->connectedCount(), 0u);
  EXPECT_EQ(fake_->conns[0]->received, kCapturedHello);  // no REGISTER after the refusal
}

TEST_F(LookupdRegistrarFakeTest, DropsAConnectionThatFallsTooFarBehindRatherThanQueueing) {
  fake_->stop_reading_after_identify = true;
  auto options = fastOptions();
  options.max_pending_bytes = 64 << 10;
  options.ping_interval = 60s;  // the drop must come from the bound, not from missing replies
  start(options);
  ASSERT_TRUE(loop_.runUntil([&] { return registrar_->connectedCount() == 1; }));
  // lookupd reads nothing more: the kernel buffers fill, then 256 KiB queued, then 64 KiB held
  // back, then the connection goes. Bounded: 200k registrations are ~17 MB.
  const std::string topic(60, 'x');
  int sent = 0;
  ASSERT_TRUE(loop_.runUntil(
      [&] {
        for (int i = 0; i < 2000 && registrar_->connectedCount() == 1; ++i, ++sent)
          registrar_->registered(topic, std::to_string(sent));
        return registrar_->connectedCount() == 0 || sent >= 200'000;
      },
      30s, 1ms));  // the loop has nothing to wake it up once the socket is full
  EXPECT_EQ(registrar_->connectedCount(), 0u) << sent << " registrations sent";
  // It comes back: the new connection identifies and resyncs (an empty snapshot here).
  fake_->stop_reading_after_identify = false;
  ASSERT_TRUE(loop_.runUntil([&] { return registrar_->connectedCount() == 1; }, 5s));
  EXPECT_GE(fake_->conns.size(), 2u);
}

TEST_F(LookupdRegistrarFakeTest, SetAddressesConnectsAddsAndDrops) {
  start();
  ASSERT_TRUE(loop_.runUntil([&] { return registrar_->connectedCount() == 1; }));
  FakeLookupd second(loop_);
  registrar_->setAddresses({fake_->address(), second.address(), fake_->address(), "nonsense"});
  EXPECT_EQ(registrar_->addresses(),
            (std::vector<std::string>{fake_->address(), second.address(), "nonsense"}));
  ASSERT_TRUE(loop_.runUntil([&] { return registrar_->connectedCount() == 2; }));
  EXPECT_EQ(fake_->conns.size(), 1u);  // the kept address was left alone

  registrar_->registered("both", "");
  ASSERT_TRUE(loop_.runUntil([&] {
    return commandsSent() == "REGISTER both\n" &&
           second.last().received == kCapturedHello + "REGISTER both\n";
  }));

  registrar_->setAddresses({second.address()});
  EXPECT_EQ(registrar_->connectedCount(), 1u);
  ASSERT_TRUE(loop_.runUntil([&] { return fake_->liveConns() == 0; }));
  registrar_->setAddresses({});
  EXPECT_EQ(registrar_->connectedCount(), 0u);
  EXPECT_TRUE(registrar_->addresses().empty());
  ASSERT_TRUE(loop_.runUntil([&] { return second.liveConns() == 0; }));
  second.closeAll();
}

TEST_F(LookupdRegistrarFakeTest, DestroyingWhileConnectingLeavesNothingOpen) {
  fake_->answer_identify = false;
  start();
  registrar_->setAddresses({fake_->address(), "127.0.0.1:1", "some-name.invalid:4160"});
  ASSERT_TRUE(loop_.runUntil([&] { return !fake_->conns.empty(); }));
  registrar_.reset();  // TearDown's shutdown() checks that every handle was closed
  ASSERT_TRUE(loop_.runUntil([&] { return fake_->liveConns() == 0; }));
}

// ---- against the real nsqlookupd ----

std::string nsqlookupdPath() {
  if (const char* env = std::getenv("NSQLOOKUPD_BIN"); env && *env) return env;
  std::string found =
      push::testing::NsqDaemon::binaryFor("nsqlookupd");  // also where the workplace keeps it
  return found.empty() ? std::string(PUSH_SOURCE_DIR) + "/../shared/peers/nsq/nsqlookupd" : found;
}

// One nsqlookupd process; stderr (its log) goes to stdout so the ports can be read.
struct Nsqlookupd {
  std::unique_ptr<testing::Subprocess> process;
  std::string tcp, http;  // "127.0.0.1:port"

  static Result<Nsqlookupd> start(const std::string& tcp = "127.0.0.1:0",
                                  const std::string& http = "127.0.0.1:0") {
    const std::string cmd = "exec '" + nsqlookupdPath() + "' --tcp-address=" + tcp +
                            " --http-address=" + http + " 2>&1";
    ASSIGN_OR_RETURN(auto process, testing::Subprocess::start({"/bin/sh", "-c", cmd}));
    Nsqlookupd d;
    d.process = std::move(process);
    for (size_t n = 1; n <= 10 && (d.tcp.empty() || d.http.empty()); ++n) {
      ASSIGN_OR_RETURN(auto lines, d.process->waitForLines("[nsqlookupd]", n));
      for (const std::string& line : lines) {
        for (auto [what, out] :
             {std::pair{"TCP: listening on ", &d.tcp}, std::pair{"HTTP: listening on ", &d.http}}) {
          const size_t at = line.find(what);
          if (at != std::string::npos) *out = line.substr(at + std::string_view(what).size());
        }
      }
    }
    if (d.tcp.empty() || d.http.empty()) return unavailable("nsqlookupd printed no addresses");
    return d;
  }

  std::string get(const std::string& path) const {
    auto reply = testing::httpRequest(http, "GET", path, "", {}, 2s);
    if (!reply.isOk()) return "error: " + reply.status().toString();
    return std::to_string(reply->status) + " " + reply->body;
  }
};

class LookupdRegistrarRealTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access(nsqlookupdPath().c_str(), X_OK) != 0) {
      GTEST_SKIP() << "nsqlookupd not found at " << nsqlookupdPath()
                   << " (set NSQLOOKUPD_BIN to run these tests)";
    }
    auto d = Nsqlookupd::start();
    ASSERT_TRUE(d.isOk()) << d.status().toString();
    lookupd_ = std::move(*d);
    LookupdRegistrar::Identity id;
    id.broadcast_address = "queued.test";
    id.hostname = "queued-host";
    id.tcp_port = 14150;
    id.http_port = 14151;
    auto options = fastOptions();
    options.reconnect_max = 200ms;
    registrar_ = std::make_unique<LookupdRegistrar>(
        loop_, id, [this] { return state_; }, options);
  }
  void TearDown() override {
    registrar_.reset();
    EXPECT_TRUE(loop_.shutdown().isOk());
  }

  // What queued does: update its state, then tell the registrar.
  void add(const std::string& topic, const std::string& channel) {
    if (!channel.empty()) {
      std::erase(state_, std::pair<std::string, std::string>{topic, ""});
    }
    state_.push_back({topic, channel});
    registrar_->registered(topic, channel);
  }
  void remove(const std::string& topic, const std::string& channel) {
    std::erase_if(state_, [&](const auto& r) {
      return r.first == topic && (channel.empty() || r.second == channel);
    });
    registrar_->unregistered(topic, channel);
  }
  // Runs the loop until lookupd's answer to `path` contains every one of `parts`.
  ::testing::AssertionResult awaitHttp(const std::string& path,
                                       const std::vector<std::string>& parts,
                                       const std::vector<std::string>& absent = {}) {
    std::string last;
    const bool ok = loop_.runUntil(
        [&] {
          last = lookupd_.get(path);
          for (const auto& p : parts) {
            if (last.find(p) == std::string::npos) return false;
          }
          for (const auto& p : absent) {
            if (last.find(p) != std::string::npos) return false;
          }
          return true;
        },
        10s, 20ms);
    if (ok) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << path << " answered: " << last;
  }

  static constexpr std::string_view kProducer =
      R"("hostname":"queued-host","broadcast_address":"queued.test","tcp_port":14150,)"
      R"("http_port":14151,"version":"1.3.0")";

  net::EventLoop loop_;
  Nsqlookupd lookupd_;
  Registrations state_;
  std::unique_ptr<LookupdRegistrar> registrar_;
};

TEST_F(LookupdRegistrarRealTest, TopicsAndChannelsAppearAndGo) {
  registrar_->setAddresses({lookupd_.tcp});
  ASSERT_TRUE(loop_.runUntil([&] { return registrar_->connectedCount() == 1; }));
  add("t1", "");
  add("t2", "c1");
  EXPECT_TRUE(
      awaitHttp("/lookup?topic=t2", {"200 ", R"("channels":["c1"])", std::string(kProducer)}));
  EXPECT_TRUE(awaitHttp("/lookup?topic=t1", {"200 ", std::string(kProducer)}));
  EXPECT_TRUE(awaitHttp("/topics", {R"("t1")", R"("t2")"}));
  EXPECT_TRUE(awaitHttp("/nodes", {R"("t1")", R"("t2")"}));  // lookupd's order varies

  remove("t1", "");
  EXPECT_TRUE(awaitHttp("/lookup?topic=t1", {R"(200 {"channels":[],"producers":[]})"}));
  EXPECT_TRUE(awaitHttp("/nodes", {R"("topics":["t2"])"}));
  remove("t2", "c1");
  remove("t2", "");
  EXPECT_TRUE(awaitHttp("/lookup?topic=t2", {R"("producers":[])"}));
  EXPECT_TRUE(awaitHttp("/nodes", {R"("topics":[])"}));
  EXPECT_EQ(registrar_->connectedCount(), 1u);  // no command was refused
}

TEST_F(LookupdRegistrarRealTest, ReconnectsAndResyncsAfterLookupdRestarts) {
  registrar_->setAddresses({lookupd_.tcp});
  ASSERT_TRUE(loop_.runUntil([&] { return registrar_->connectedCount() == 1; }));
  add("t1", "");
  add("t2", "c1");
  ASSERT_TRUE(awaitHttp("/lookup?topic=t2", {R"("channels":["c1"])", std::string(kProducer)}));

  lookupd_.process->sendSignal(SIGKILL);
  EXPECT_EQ(lookupd_.process->wait(), 128 + SIGKILL);
  ASSERT_TRUE(loop_.runUntil([&] { return registrar_->connectedCount() == 0; }));
  // Down for a few retries (refused), then back on the same ports with nothing registered.
  loop_.runUntil([] { return false; }, 300ms);
  auto again = Nsqlookupd::start(lookupd_.tcp, lookupd_.http);
  ASSERT_TRUE(again.isOk()) << again.status().toString();
  lookupd_ = std::move(*again);
  ASSERT_TRUE(loop_.runUntil([&] { return registrar_->connectedCount() == 1; }, 10s));
  EXPECT_TRUE(awaitHttp("/lookup?topic=t2", {R"("channels":["c1"])", std::string(kProducer)}));
  EXPECT_TRUE(awaitHttp("/lookup?topic=t1", {std::string(kProducer)}));
  EXPECT_TRUE(awaitHttp("/nodes", {R"("t1")", R"("t2")"}));
}

TEST_F(LookupdRegistrarRealTest, EmptyAddressListDropsTheConnection) {
  registrar_->setAddresses({lookupd_.tcp});
  ASSERT_TRUE(loop_.runUntil([&] { return registrar_->connectedCount() == 1; }));
  add("t1", "");
  ASSERT_TRUE(awaitHttp("/nodes", {std::string(kProducer), R"("topics":["t1"])"}));
  registrar_->setAddresses({});
  EXPECT_EQ(registrar_->connectedCount(), 0u);
  // lookupd forgets a producer whose connection closed.
  EXPECT_TRUE(awaitHttp("/nodes", {R"(200 {"producers":[]})"}));
  EXPECT_TRUE(awaitHttp("/lookup?topic=t1", {R"("producers":[])"}));
}

}  // namespace
}  // namespace push::queued

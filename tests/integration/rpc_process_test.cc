// The RPC layer against real server processes: killed mid-call, restarted, shut down by signal.
#include <gtest/gtest.h>
#include <signal.h>

#include <memory>
#include <string>
#include <vector>

#include "common/net/event_loop.h"
#include "common/net/inet_address.h"
#include "common/rpc/channel.h"
#include "common/rpc/controller.h"
#include "proto/echo.pb.h"
#include "tests/support/subprocess.h"

namespace push::rpc {
namespace {

using namespace std::chrono_literals;
using testing::Subprocess;

struct Call {
  Controller controller;
  echo::EchoRequest request;
  echo::EchoResponse response;
  bool done = false;
};

std::unique_ptr<Subprocess> startEchoServer(const std::string& listen, std::string* address) {
  auto p = Subprocess::start(
      {testing::binPath("push-echo-server"), "--listen", listen, "--server-id", "child"});
  EXPECT_TRUE(p.isOk()) << p.status().toString();
  if (!p.isOk()) return nullptr;
  auto addr = (*p)->waitForLine("RPC_ADDRESS");
  EXPECT_TRUE(addr.isOk()) << addr.status().toString();
  if (addr.isOk()) *address = *addr;
  return std::move(p).value();
}

class RpcProcessTest : public ::testing::Test {
 protected:
  void TearDown() override {
    channel_.reset();
    Status st = loop_.shutdown();
    EXPECT_TRUE(st.isOk()) << st.toString();
  }
  Channel* channel(const std::string& address) {
    Channel::Options options;
    options.timeout = 10s;  // far longer than any wait below: failures must come from the break
    options.reconnect_min = 20ms;
    options.reconnect_max = 200ms;
    auto ch = Channel::create(loop_, options);
    EXPECT_TRUE(ch.isOk());
    channel_ = std::move(ch).value();
    EXPECT_TRUE(channel_->setEndpoints(std::vector<std::string>{address}).isOk());
    return channel_.get();
  }
  void echo(Call& call) {
    echo::EchoService_Stub(channel_.get())
        .Echo(&call.controller, &call.request, &call.response,
              newCallback([&call] { call.done = true; }));
  }

  net::EventLoop loop_;
  ChannelPtr channel_;
};

TEST_F(RpcProcessTest, ServerKilledMidCallFailsEveryPendingCallWithUnavailable) {
  std::string address;
  auto server = startEchoServer("127.0.0.1:0", &address);
  ASSERT_TRUE(server);
  Channel* ch = channel(address);
  ASSERT_TRUE(loop_.runUntil([&] { return ch->usableEndpoints() == 1; }));
  std::vector<std::unique_ptr<Call>> calls;
  for (int i = 0; i < 200; ++i) {
    calls.push_back(std::make_unique<Call>());
    calls.back()->request.set_delay_ms(8000);  // the server holds them all
    echo(*calls.back());
  }
  // Let the requests reach the server, then kill it without warning.
  loop_.runUntil([] { return false; }, 100ms);
  server->sendSignal(SIGKILL);
  EXPECT_EQ(server->wait(), 128 + SIGKILL);
  const auto killed_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(loop_.runUntil(
      [&] {
        for (auto& c : calls) {
          if (!c->done) return false;
        }
        return true;
      },
      5s))
      << "pending calls hung after the server died";
  EXPECT_LT(std::chrono::steady_clock::now() - killed_at, 2s);
  for (auto& c : calls) {
    EXPECT_EQ(c->controller.code(), Code::UNAVAILABLE) << c->controller.status().toString();
  }
  EXPECT_EQ(ch->inflight(), 0u);
}

TEST_F(RpcProcessTest, PoolRecoversAfterServerRestartsOnTheSamePort) {
  std::string address;
  auto server = startEchoServer("127.0.0.1:0", &address);
  ASSERT_TRUE(server);
  Channel* ch = channel(address);
  Call first;
  first.request.set_message("before");
  echo(first);
  ASSERT_TRUE(loop_.runUntil([&] { return first.done; }));
  ASSERT_TRUE(first.controller.status().isOk()) << first.controller.status().toString();

  server->sendSignal(SIGKILL);
  server->wait();
  ASSERT_TRUE(loop_.runUntil([&] { return ch->usableEndpoints() == 0; }));
  // While it is down, calls fail fast (no hang until the 10 s deadline).
  Call down;
  echo(down);
  ASSERT_TRUE(loop_.runUntil([&] { return down.done; }, 2s));
  EXPECT_EQ(down.controller.code(), Code::UNAVAILABLE);

  std::string again;
  server = startEchoServer(address, &again);
  ASSERT_TRUE(server);
  ASSERT_EQ(again, address);
  ASSERT_TRUE(loop_.runUntil([&] { return ch->usableEndpoints() == 1; }, 5s))
      << "channel did not reconnect to the restarted server";
  Call after;
  after.request.set_message("after");
  echo(after);
  ASSERT_TRUE(loop_.runUntil([&] { return after.done; }));
  ASSERT_TRUE(after.controller.status().isOk()) << after.controller.status().toString();
  EXPECT_EQ(after.response.message(), "after");
}

TEST_F(RpcProcessTest, SigtermLetsRunningCallsFinish) {
  std::string address;
  auto server = startEchoServer("127.0.0.1:0", &address);
  ASSERT_TRUE(server);
  Channel* ch = channel(address);
  ASSERT_TRUE(loop_.runUntil([&] { return ch->usableEndpoints() == 1; }));
  Call slow;
  slow.request.set_delay_ms(300);
  slow.request.set_message("finished");
  echo(slow);
  loop_.runUntil([] { return false; }, 50ms);  // the request reaches the server
  server->sendSignal(SIGTERM);
  ASSERT_TRUE(loop_.runUntil([&] { return slow.done; }, 5s));
  EXPECT_TRUE(slow.controller.status().isOk()) << slow.controller.status().toString();
  EXPECT_EQ(slow.response.message(), "finished");
  EXPECT_EQ(server->wait(), 0);
}

}  // namespace
}  // namespace push::rpc

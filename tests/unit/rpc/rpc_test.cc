// Server and Channel together on one loop, over real loopback sockets.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <unistd.h>
#include "common/base/metrics.h"

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/base/hash.h"
#include "tests/unit/rpc/rpc_test_util.h"

namespace push::rpc {
namespace {

using namespace std::chrono_literals;
using test::Call;
using test::counterValue;

class RpcTest : public test::RpcFixture {};

TEST_F(RpcTest, EchoRoundTrip) {
  Channel* ch = makeChannel({startServer()});
  Call call;
  call.request.set_message("hello");
  echo(ch, call);
  ASSERT_TRUE(loop_.runUntil([&] { return call.done; }));
  ASSERT_TRUE(call.controller.status().isOk()) << call.controller.status().toString();
  EXPECT_EQ(call.response.message(), "hello");
  EXPECT_GT(call.controller.latencyUs(), 0);
}

TEST_F(RpcTest, ResponsesComeBackOutOfOrderOnOneConnection) {
  Channel::Options options;
  options.connections_per_endpoint = 1;
  Channel* ch = makeChannel({startServer()}, options);
  int counter = 0;
  std::vector<std::unique_ptr<Call>> calls;
  for (int delay : {300, 0, 150, 0}) {
    calls.push_back(std::make_unique<Call>());
    calls.back()->request.set_delay_ms(static_cast<uint32_t>(delay));
    calls.back()->request.set_message("d" + std::to_string(delay));
    echo(ch, *calls.back(), &counter);
  }
  ASSERT_TRUE(waitAll(calls));
  for (auto& c : calls) {
    ASSERT_TRUE(c->controller.status().isOk()) << c->controller.status().toString();
    EXPECT_EQ(c->response.message(), c->request.message());  // matched by id, not position
  }
  EXPECT_EQ(servers_[0]->connectionCount(), 1u);
  EXPECT_GT(calls[0]->order, calls[2]->order);  // 300 ms finished after 150 ms
  EXPECT_GT(calls[2]->order, calls[1]->order);  // 150 ms after the immediate ones
  EXPECT_GT(calls[2]->order, calls[3]->order);
  EXPECT_EQ(calls[0]->order, 3);
}

TEST_F(RpcTest, CallSecondsTimesEveryCallInABatchAndDelayedOnesOnTheirOwn) {
  // The server reads the clock once per read batch: calls answered within the batch are timed
  // to its end, a delayed one to its own answer. Every call is observed once either way.
  metrics::Histogram& seconds = metrics::Registry::global().histogram(
      "push_rpc_server_call_seconds", "", metrics::latencyBuckets(),
      R"(method="push.echo.EchoService.Echo")");
  const uint64_t count_before = seconds.count();
  const double sum_before = seconds.sum();
  Channel::Options options;
  options.connections_per_endpoint = 1;
  Channel* ch = makeChannel({startServer()}, options);
  int counter = 0;
  std::vector<std::unique_ptr<Call>> calls;
  for (int delay : {0, 250, 0, 0, 0}) {
    calls.push_back(std::make_unique<Call>());
    calls.back()->request.set_delay_ms(static_cast<uint32_t>(delay));
    calls.back()->request.set_message("d" + std::to_string(delay));
    echo(ch, *calls.back(), &counter);
  }
  ASSERT_TRUE(waitAll(calls));
  EXPECT_EQ(seconds.count(), count_before + 5);
  // The delayed call's 250 ms is in the sum; the four others add little.
  EXPECT_GE(seconds.sum() - sum_before, 0.24);
  EXPECT_LT(seconds.sum() - sum_before, 1.5);
}

TEST_F(RpcTest, TenThousandConcurrentCallsComplete) {
  Channel::Options options;
  options.timeout = 20s;
  Channel* ch = makeChannel({startServer()}, options);
  std::vector<std::unique_ptr<Call>> calls;
  for (int i = 0; i < 10000; ++i) {
    calls.push_back(std::make_unique<Call>());
    calls.back()->request.set_message(std::to_string(i));
    echo(ch, *calls.back());
  }
  EXPECT_EQ(ch->inflight(), 10000u);
  ASSERT_TRUE(waitAll(calls, 30s));
  int ok = 0;
  for (size_t i = 0; i < calls.size(); ++i) {
    ok += calls[i]->controller.status().isOk() && calls[i]->response.message() == std::to_string(i);
  }
  EXPECT_EQ(ok, 10000);
  EXPECT_EQ(ch->inflight(), 0u);
}

TEST_F(RpcTest, ClientMetricsCountEveryCallOnceWhetherTalliedInAReadOrNot) {
  // OK completions within a read are tallied without atomics and added at the read's end;
  // errors are counted at once. Either way each call counts once, by its code.
  metrics::Histogram& seconds = metrics::Registry::global().histogram(
      "push_rpc_client_call_seconds", "", metrics::latencyBuckets());
  const uint64_t ok_before = counterValue("push_rpc_client_calls_total", R"(code="OK")");
  const uint64_t denied_before =
      counterValue("push_rpc_client_calls_total", R"(code="PERMISSION_DENIED")");
  const uint64_t seconds_before = seconds.count();
  Channel* ch = makeChannel({startServer()});
  std::vector<std::unique_ptr<Call>> calls;
  for (int i = 0; i < 300; ++i) {
    calls.push_back(std::make_unique<Call>());
    if (i % 100 == 7) calls.back()->request.set_fail_with(Code::PERMISSION_DENIED);
    echo(ch, *calls.back());
  }
  ASSERT_TRUE(waitAll(calls));
  EXPECT_EQ(counterValue("push_rpc_client_calls_total", R"(code="OK")") - ok_before, 297u);
  EXPECT_EQ(
      counterValue("push_rpc_client_calls_total", R"(code="PERMISSION_DENIED")") - denied_before,
      3u);
  EXPECT_EQ(seconds.count() - seconds_before, 300u);
}

TEST_F(RpcTest, DeadlineExpiresWithTimeoutAndLateReplyIsIgnored) {
  Channel* ch = makeChannel({startServer()});
  Call slow;
  slow.request.set_delay_ms(400);
  slow.controller.setTimeout(50ms);
  echo(ch, slow);
  ASSERT_TRUE(loop_.runUntil([&] { return slow.done; }));
  EXPECT_EQ(slow.controller.code(), Code::TIMEOUT) << slow.controller.status().toString();
  EXPECT_GE(slow.controller.latencyUs(), 45'000);
  EXPECT_LT(slow.controller.latencyUs(), 300'000);
  // The late reply arrives and is dropped; the connection keeps working.
  Call after;
  after.request.set_delay_ms(450);
  after.request.set_message("still fine");
  echo(ch, after);
  ASSERT_TRUE(loop_.runUntil([&] { return after.done; }));
  EXPECT_TRUE(after.controller.status().isOk()) << after.controller.status().toString();
  EXPECT_EQ(after.response.message(), "still fine");
}

TEST_F(RpcTest, DeadlinesOfCallsSharingATimeoutAndOfAShorterOneEachFireOnTime) {
  // Calls with the channel's timeout share deadline runs (one wheel entry per run); a call
  // with a shorter timeout is due before them and has its own. Each stalled call times out at
  // its own deadline, and a completed neighbour in its run is not touched.
  Channel::Options options;
  options.timeout = 300ms;
  options.connections_per_endpoint = 1;
  Channel* ch = makeChannel({startServer()}, options);
  int counter = 0;
  std::vector<std::unique_ptr<Call>> quick, stalled;
  const auto add = [&](std::vector<std::unique_ptr<Call>>& list, uint32_t delay_ms) {
    list.push_back(std::make_unique<Call>());
    list.back()->request.set_delay_ms(delay_ms);
    return list.back().get();
  };
  for (int i = 0; i < 50; ++i)
    echo(ch, *add(quick, 0), &counter);
  Call* long_stall = add(stalled, 1500);
  echo(ch, *long_stall, &counter);
  Call* short_stall = add(stalled, 1500);
  short_stall->controller.setTimeout(100ms);
  echo(ch, *short_stall, &counter);
  for (int i = 0; i < 50; ++i)
    echo(ch, *add(quick, 0), &counter);
  ASSERT_TRUE(waitAll(quick));
  ASSERT_TRUE(waitAll(stalled, 3s));
  for (auto& c : quick)
    EXPECT_TRUE(c->controller.status().isOk()) << c->controller.status().toString();
  EXPECT_EQ(short_stall->controller.code(), Code::TIMEOUT);
  EXPECT_GE(short_stall->controller.latencyUs(), 95'000);
  EXPECT_LT(short_stall->controller.latencyUs(), 290'000);
  EXPECT_EQ(long_stall->controller.code(), Code::TIMEOUT);
  EXPECT_GE(long_stall->controller.latencyUs(), 295'000);
  EXPECT_LT(long_stall->controller.latencyUs(), 1'000'000);
  EXPECT_LT(short_stall->order, long_stall->order);
  EXPECT_EQ(ch->inflight(), 0u);
}

TEST_F(RpcTest, InflightCapFailsFastWithOverloaded) {
  Channel::Options options;
  options.max_inflight = 5;
  Channel* ch = makeChannel({startServer()}, options);
  std::vector<std::unique_ptr<Call>> calls;
  for (int i = 0; i < 8; ++i) {
    calls.push_back(std::make_unique<Call>());
    calls.back()->request.set_delay_ms(100);
    echo(ch, *calls.back());
  }
  // The three over the cap completed before CallMethod returned.
  for (int i = 5; i < 8; ++i) {
    EXPECT_TRUE(calls[i]->done);
    EXPECT_EQ(calls[i]->controller.code(), Code::OVERLOADED);
  }
  ASSERT_TRUE(waitAll(calls));
  for (int i = 0; i < 5; ++i)
    EXPECT_TRUE(calls[i]->controller.status().isOk());
}

TEST_F(RpcTest, ServerStatusCodesReachTheCaller) {
  Channel* ch = makeChannel({startServer()});
  Call call;
  call.request.set_fail_with(Code::PERMISSION_DENIED);
  echo(ch, call);
  ASSERT_TRUE(loop_.runUntil([&] { return call.done; }));
  EXPECT_EQ(call.controller.code(), Code::PERMISSION_DENIED);
  EXPECT_EQ(call.controller.status().message(), "failed as asked");
}

TEST_F(RpcTest, UnknownMethodIsNotFound) {
  ServerPtr server = Server::create(loop_, {});  // no services registered
  ASSERT_TRUE(server->start().isOk());
  servers_.push_back(std::move(server));
  Channel* ch = makeChannel({servers_.back()->address().toString()});
  Call call;
  echo(ch, call);
  ASSERT_TRUE(loop_.runUntil([&] { return call.done; }));
  EXPECT_EQ(call.controller.code(), Code::NOT_FOUND);
}

TEST_F(RpcTest, NoServerFailsFastWithUnavailable) {
  // A port nobody listens on: bind a socket to get a free port, then close it.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  Channel::Options options;
  options.timeout = 5s;
  Channel* ch = makeChannel({"127.0.0.1:" + std::to_string(ntohs(addr.sin_port))}, options);
  Call call;
  echo(ch, call);  // waits for the first connection attempt, which is refused
  ASSERT_TRUE(loop_.runUntil([&] { return call.done; }, 3s));
  EXPECT_EQ(call.controller.code(), Code::UNAVAILABLE) << call.controller.status().toString();
  Call second;  // now known down: fails before CallMethod returns
  echo(ch, second);
  EXPECT_TRUE(second.done);
  EXPECT_EQ(second.controller.code(), Code::UNAVAILABLE);
}

TEST_F(RpcTest, RoundRobinSpreadsAndConsistentHashSticks) {
  std::vector<std::string> eps = {startServer({}, "a"), startServer({}, "b"), startServer({}, "c")};
  Channel* rr = makeChannel(eps);
  ASSERT_TRUE(loop_.runUntil([&] { return rr->usableEndpoints() == 3; }));
  std::vector<std::unique_ptr<Call>> calls;
  for (int i = 0; i < 30; ++i) {
    calls.push_back(std::make_unique<Call>());
    echo(rr, *calls.back());
  }
  ASSERT_TRUE(waitAll(calls));
  std::map<std::string, int> per_server;
  for (auto& c : calls)
    per_server[c->response.server_id()]++;
  EXPECT_EQ(per_server, (std::map<std::string, int>{{"a", 10}, {"b", 10}, {"c", 10}}));

  Channel::Options options;
  options.load_balancer = "consistent_hash";
  Channel* ch = makeChannel(eps, options);
  ASSERT_TRUE(loop_.runUntil([&] { return ch->usableEndpoints() == 3; }));
  calls.clear();
  for (int i = 0; i < 40; ++i) {
    calls.push_back(std::make_unique<Call>());
    calls.back()->controller.setHashKey(hash64("user-" + std::to_string(i % 4)));
    echo(ch, *calls.back());
  }
  ASSERT_TRUE(waitAll(calls));
  for (int i = 4; i < 40; ++i) {
    EXPECT_EQ(calls[i]->response.server_id(), calls[i % 4]->response.server_id());
  }
}

TEST_F(RpcTest, GarbageAndOversizedFramesCloseOnlyThatConnection) {
  Server::Options options;
  options.max_frame_bytes = 4096;
  std::string addr = startServer(options);
  Channel* ch = makeChannel({addr});
  uint16_t port = servers_[0]->address().port();
  auto rawSend = [&](const std::string& bytes) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    EXPECT_EQ(::send(fd, bytes.data(), bytes.size(), 0), static_cast<ssize_t>(bytes.size()));
    return fd;
  };
  auto closedByServer = [&](int fd) {
    // Drive the server until it closes: recv() then returns 0 (or ECONNRESET).
    bool closed = loop_.runUntil(
        [&] {
          char b;
          ssize_t n = ::recv(fd, &b, 1, MSG_DONTWAIT);
          return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
        },
        3s, 1ms);
    ::close(fd);
    return closed;
  };
  EXPECT_TRUE(closedByServer(rawSend("GET / HTTP/1.1\r\nHost: x\r\n\r\n")));
  std::string huge = {'P', 'R', 1, 0, 0, 0, 0, 10, 0, 0x10, 0, 0};  // 1 MiB body announced
  EXPECT_TRUE(closedByServer(rawSend(huge)));
  std::string bad_version = {'P', 'R', 9, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_TRUE(closedByServer(rawSend(bad_version)));
  std::string bad_meta = {'P', 'R', 1, 0, 0, 0, 0, 3, 0, 0, 0, 0, '\xff', '\xff', '\xff'};
  EXPECT_TRUE(closedByServer(rawSend(bad_meta)));
  // The server is fine and so is the well-behaved client's connection.
  Call call;
  call.request.set_message("after garbage");
  echo(ch, call);
  ASSERT_TRUE(loop_.runUntil([&] { return call.done; }));
  EXPECT_TRUE(call.controller.status().isOk()) << call.controller.status().toString();
}

TEST_F(RpcTest, UnparsableRequestBodyIsInvalidArgumentNotAClose) {
  startServer();
  uint16_t port = servers_[0]->address().port();
  RpcMeta meta;
  meta.set_request_id(42);
  meta.set_method("push.echo.EchoService.Echo");
  std::string meta_bytes = meta.SerializeAsString();
  std::string body = "\xff\xff\xff\xff";  // a truncated varint: not an EchoRequest
  std::string frame(detail::kHeaderBytes, '\0');
  detail::writeHeader(detail::FrameHeader{0, static_cast<uint32_t>(meta_bytes.size()),
                                          static_cast<uint32_t>(body.size())},
                      frame.data());
  frame += meta_bytes + body;
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  ASSERT_EQ(::send(fd, frame.data(), frame.size(), 0), static_cast<ssize_t>(frame.size()));
  std::string reply;
  ASSERT_TRUE(loop_.runUntil(
      [&] {
        char buf[512];
        ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) reply.append(buf, static_cast<size_t>(n));
        detail::FrameHeader h;
        return detail::parseHeader(reply.data(), reply.size(), 1 << 20, &h) ==
                   detail::HeaderStatus::Ok &&
               reply.size() >= h.frameBytes();
      },
      3s, 1ms));
  ::close(fd);
  detail::FrameHeader h;
  ASSERT_EQ(detail::parseHeader(reply.data(), reply.size(), 1 << 20, &h), detail::HeaderStatus::Ok);
  EXPECT_TRUE(h.flags & detail::kFlagResponse);
  RpcMeta answer;
  ASSERT_TRUE(
      answer.ParseFromArray(reply.data() + detail::kHeaderBytes, static_cast<int>(h.meta_len)));
  EXPECT_EQ(answer.request_id(), 42u);
  EXPECT_EQ(answer.code(), Code::INVALID_ARGUMENT);
  EXPECT_TRUE(answer.not_executed());
}

TEST_F(RpcTest, GracefulShutdownFinishesRunningCallsAndRetriesNewOnesElsewhere) {
  std::string a = startServer({}, "a");
  std::string b = startServer({}, "b");
  Channel::Options options;
  options.connections_per_endpoint = 1;
  Channel* ch = makeChannel({a, b}, options);
  ASSERT_TRUE(loop_.runUntil([&] { return ch->usableEndpoints() == 2; }));
  // Two slow calls, one on each server (round robin).
  std::vector<std::unique_ptr<Call>> slow;
  for (int i = 0; i < 2; ++i) {
    slow.push_back(std::make_unique<Call>());
    slow.back()->request.set_delay_ms(200);
    echo(ch, *slow.back());
  }
  ASSERT_TRUE(loop_.runUntil([&] { return servers_[0]->callsRunning() == 1; }));
  bool a_stopped = false;
  shutdownServer(0, 5s, &a_stopped);
  // New calls during a's shutdown: whichever lands on a is refused as not executed and
  // re-sent to b.
  std::vector<std::unique_ptr<Call>> fresh;
  for (int i = 0; i < 6; ++i) {
    fresh.push_back(std::make_unique<Call>());
    echo(ch, *fresh.back());
  }
  ASSERT_TRUE(waitAll(fresh));
  for (auto& c : fresh) {
    EXPECT_TRUE(c->controller.status().isOk()) << c->controller.status().toString();
    EXPECT_EQ(c->response.server_id(), "b");
  }
  ASSERT_TRUE(waitAll(slow));
  for (auto& c : slow)
    EXPECT_TRUE(c->controller.status().isOk()) << c->controller.status().toString();
  ASSERT_TRUE(loop_.runUntil([&] { return a_stopped; }));
}

TEST_F(RpcTest, ServerConcurrencyCapAnswersOverloaded) {
  Server::Options options;
  options.max_concurrency = 2;
  Channel* ch = makeChannel({startServer(options)});
  std::vector<std::unique_ptr<Call>> calls;
  for (int i = 0; i < 4; ++i) {
    calls.push_back(std::make_unique<Call>());
    calls.back()->request.set_delay_ms(100);
    echo(ch, *calls.back());
  }
  ASSERT_TRUE(waitAll(calls));
  int ok = 0, overloaded = 0;
  for (auto& c : calls) {
    ok += c->controller.status().isOk();
    overloaded += c->controller.code() == Code::OVERLOADED;
  }
  EXPECT_EQ(ok, 2);
  EXPECT_EQ(overloaded, 2);
}

TEST_F(RpcTest, SynchronousCallFromAnotherThread) {
  Channel* ch = makeChannel({startServer()});
  Call call;
  call.request.set_message("sync");
  std::atomic<bool> finished{false};
  std::thread caller([&] {
    echo::EchoService_Stub stub(ch);
    stub.Echo(&call.controller, &call.request, &call.response, nullptr);  // blocks
    finished = true;
  });
  ASSERT_TRUE(loop_.runUntil([&] { return finished.load(); }, std::chrono::seconds(10),
                             std::chrono::milliseconds(5)));
  caller.join();
  EXPECT_TRUE(call.controller.status().isOk()) << call.controller.status().toString();
  EXPECT_EQ(call.response.message(), "sync");
  // On the loop thread a synchronous call would deadlock: it is refused at once.
  Call refused;
  echo::EchoService_Stub(ch).Echo(&refused.controller, &refused.request, &refused.response,
                                  nullptr);
  EXPECT_EQ(refused.controller.code(), Code::INTERNAL);
}

TEST_F(RpcTest, ClosingTheChannelCancelsPendingCalls) {
  auto created = Channel::create(loop_, {});
  ASSERT_TRUE(created.isOk());
  ChannelPtr ch = std::move(created).value();
  ASSERT_TRUE(ch->setEndpoints(std::vector<std::string>{startServer()}).isOk());
  Call call;
  call.request.set_delay_ms(1000);
  echo(ch.get(), call);
  ch.reset();  // closes it
  EXPECT_TRUE(call.done);
  EXPECT_EQ(call.controller.code(), Code::CANCELLED);
}

TEST_F(RpcTest, ClosingTheChannelFromADeadlineCallbackEndsTheRestOfItsRunOnce) {
  // Three calls share a deadline run. The first to time out closes the channel from its done
  // callback, while the run is being expired: every call ends exactly once, the two others
  // cancelled by the close, and nothing is touched after it (ASan).
  auto created = Channel::create(loop_, {});
  ASSERT_TRUE(created.isOk());
  ChannelPtr ch = std::move(created).value();
  ASSERT_TRUE(ch->setEndpoints(std::vector<std::string>{startServer()}).isOk());
  ASSERT_TRUE(loop_.runUntil([&] { return ch->usableEndpoints() > 0; }));
  struct Stalled {
    Controller controller;
    echo::EchoRequest request;
    echo::EchoResponse response;
    int runs = 0;
  };
  std::vector<Stalled> calls(3);
  echo::EchoService_Stub stub(ch.get());
  for (Stalled& c : calls) {
    c.request.set_delay_ms(500);
    c.controller.setTimeout(100ms);
    stub.Echo(&c.controller, &c.request, &c.response, newCallback([&c, &ch] {
      ++c.runs;
      if (c.controller.code() == Code::TIMEOUT) ch.reset();  // closes it
    }));
  }
  ASSERT_TRUE(loop_.runUntil([&] { return calls[0].runs && calls[1].runs && calls[2].runs; }, 3s));
  EXPECT_EQ(ch, nullptr);
  EXPECT_EQ(calls[0].controller.code(), Code::TIMEOUT);
  for (size_t i = 1; i < calls.size(); ++i)
    EXPECT_EQ(calls[i].controller.code(), Code::CANCELLED) << i;
  for (const Stalled& c : calls)
    EXPECT_EQ(c.runs, 1);
}

}  // namespace
}  // namespace push::rpc

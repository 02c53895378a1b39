// Channel hardening: request size limit, refused cluster keys, connections the server closes
// (idle goaway). Real loop, real loopback sockets (port 0).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "common/rpc/detail/frame.h"
#include "common/rpc/detail/meta_codec.h"
#include "proto/config.pb.h"
#include "tests/unit/rpc/rpc_test_util.h"

namespace push::rpc {
namespace {

using namespace std::chrono_literals;
using test::Call;
using test::counterValue;

class ChannelTest : public test::RpcFixture {
 protected:
  static const google::protobuf::MethodDescriptor* echoMethod() {
    return echo::EchoService::descriptor()->FindMethodByName("Echo");
  }
};

// ---- request size ----

TEST_F(ChannelTest, OversizedRequestFailsFastAndTheConnectionKeepsServing) {
  // The server would close the connection (and fail the slow call) on a frame over 4096.
  Server::Options so;
  so.max_frame_bytes = 4096;
  Channel::Options co;
  co.connections_per_endpoint = 1;
  co.max_request_bytes = 4096;
  Channel* ch = makeChannel({startServer(so)}, co);
  ASSERT_TRUE(loop_.runUntil([&] { return ch->usableEndpoints() == 1; }));
  const uint64_t before = counterValue("push_rpc_client_oversized_requests_total");

  Call slow, big;
  slow.request.set_delay_ms(200);
  slow.request.set_message("slow");
  echo(ch, slow);
  big.request.set_payload(std::string(5000, 'x'));
  echo(ch, big);
  EXPECT_TRUE(big.done);  // before CallMethod returned: nothing was written
  EXPECT_EQ(big.controller.code(), Code::INVALID_ARGUMENT) << big.controller.status().toString();
  EXPECT_NE(big.controller.status().message().find("over the limit 4096"), std::string::npos)
      << big.controller.status().message();
  EXPECT_EQ(counterValue("push_rpc_client_oversized_requests_total"), before + 1);
  EXPECT_EQ(ch->inflight(), 1u);

  ASSERT_TRUE(loop_.runUntil([&] { return slow.done; }));
  EXPECT_TRUE(slow.controller.status().isOk()) << slow.controller.status().toString();
  EXPECT_EQ(slow.response.message(), "slow");
  EXPECT_EQ(services_[0]->calls(), 1u);  // the big one never reached the server
  EXPECT_EQ(servers_[0]->connectionCount(), 1u);
}

TEST_F(ChannelTest, MaxRequestBodyBytesIsTheExactLimit) {
  Server::Options so;
  so.max_frame_bytes = 4096;
  Channel::Options co;
  co.max_request_bytes = 4096;
  Channel* ch = makeChannel({startServer(so)}, co);
  const size_t max_body = ch->maxRequestBodyBytes(echoMethod());
  ASSERT_GT(max_body, 3000u);
  ASSERT_LT(max_body, 4096u);
  EXPECT_EQ(ch->options().max_request_bytes, 4096u);

  Call fits;
  size_t n = max_body;
  do {
    fits.request.set_payload(std::string(--n, 'f'));
  } while (fits.request.ByteSizeLong() > max_body);
  ASSERT_EQ(fits.request.ByteSizeLong(), max_body);
  echo(ch, fits);
  ASSERT_TRUE(loop_.runUntil([&] { return fits.done; }));
  EXPECT_TRUE(fits.controller.status().isOk()) << fits.controller.status().toString();
  EXPECT_EQ(fits.response.payload().size(), n);

  Call over;
  over.request.set_payload(std::string(n + 1, 'o'));
  echo(ch, over);
  ASSERT_TRUE(over.done);
  EXPECT_EQ(over.controller.code(), Code::INVALID_ARGUMENT);
}

TEST_F(ChannelTest, OptionsAreChecked) {
  Channel::Options o;
  o.max_request_bytes = 10;
  EXPECT_EQ(Channel::create(loop_, o).status().code(), Code::INVALID_ARGUMENT);
  o = {};
  o.cluster_key = std::string(1025, 'k');
  EXPECT_EQ(Channel::create(loop_, o).status().code(), Code::INVALID_ARGUMENT);

  config::RpcChannelConfig c;
  auto from = Channel::Options::fromConfig(c);
  ASSERT_TRUE(from.isOk());
  EXPECT_EQ(from->max_request_bytes, 16u << 20);
  EXPECT_TRUE(from->cluster_key.empty());
  c.set_max_request_bytes(65536);
  c.set_cluster_key("secret");
  from = Channel::Options::fromConfig(c);
  ASSERT_TRUE(from.isOk()) << from.status().toString();
  EXPECT_EQ(from->max_request_bytes, 65536u);
  EXPECT_EQ(from->cluster_key, "secret");
  c.set_max_request_bytes(100);
  from = Channel::Options::fromConfig(c);
  ASSERT_FALSE(from.isOk());
  EXPECT_NE(from.status().message().find("max_request_bytes"), std::string::npos);
}

// ---- cluster key ----

TEST_F(ChannelTest, RefusedKeyFailsCallsWithItsStatusAndReconnectsWithBackoff) {
  Server::Options so;
  so.cluster_key = "right";
  const std::string addr = startServer(so);
  Channel::Options co;
  co.cluster_key = "wrong";
  co.connections_per_endpoint = 1;
  co.reconnect_min = 20ms;
  co.reconnect_max = 5000ms;
  const uint64_t refused_before = counterValue("push_rpc_client_refused_connections_total");
  const uint64_t wrong_before =
      counterValue("push_rpc_server_handshake_failures_total", R"(reason="wrong")");
  Channel* ch = makeChannel({addr}, co);
  Call first;
  echo(ch, first);
  ASSERT_TRUE(loop_.runUntil([&] { return first.done; }));
  EXPECT_EQ(first.controller.code(), Code::UNAUTHENTICATED) << first.controller.status().toString();

  // Over the next 600 ms the slot keeps reconnecting, each time refused; the backoff doubles
  // (20, 40, 80, 160, 320 ms: about 5 attempts) instead of restarting at 20 ms on every
  // successful TCP connect (about 30).
  const auto until = std::chrono::steady_clock::now() + 600ms;
  loop_.runUntil([&] { return std::chrono::steady_clock::now() >= until; }, 1s, 5ms);
  const uint64_t refusals =
      counterValue("push_rpc_server_handshake_failures_total", R"(reason="wrong")") - wrong_before;
  EXPECT_GE(refusals, 2u);
  EXPECT_LE(refusals, 10u);
  EXPECT_GE(counterValue("push_rpc_client_refused_connections_total"), refused_before + 2);

  // Later calls fail with the refusal's status too (fast while backing off), never UNAVAILABLE.
  Call later;
  echo(ch, later);
  ASSERT_TRUE(loop_.runUntil([&] { return later.done; }));
  EXPECT_EQ(later.controller.code(), Code::UNAUTHENTICATED) << later.controller.status().toString();
  EXPECT_EQ(services_[0]->calls(), 0u);
}

// ---- connections closed by the server ----

TEST_F(ChannelTest, IdleConnectionClosedByTheServerIsReplacedAndTheNextCallSucceeds) {
  Server::Options so;
  so.idle_timeout = 100ms;
  Channel::Options co;
  co.connections_per_endpoint = 1;
  Channel* ch = makeChannel({startServer(so)}, co);
  Call first;
  first.request.set_message("first");
  echo(ch, first);
  ASSERT_TRUE(loop_.runUntil([&] { return first.done; }));
  ASSERT_TRUE(first.controller.status().isOk()) << first.controller.status().toString();

  const uint64_t idle_before = counterValue("push_rpc_server_idle_closed_total");
  const uint64_t goaways_before = counterValue("push_rpc_client_goaways_total");
  // The server closes the idle connection; the channel reconnects at once, not after a backoff.
  ASSERT_TRUE(loop_.runUntil([&] {
    return counterValue("push_rpc_client_goaways_total") > goaways_before &&
           ch->usableEndpoints() == 1 && servers_[0]->connectionCount() == 1;
  }));
  EXPECT_GT(counterValue("push_rpc_server_idle_closed_total"), idle_before);

  Call next;
  next.request.set_message("next");
  echo(ch, next);
  ASSERT_TRUE(loop_.runUntil([&] { return next.done; }));
  EXPECT_TRUE(next.controller.status().isOk()) << next.controller.status().toString();
  EXPECT_EQ(next.response.message(), "next");
}

TEST_F(ChannelTest, CompletionReplacingTheEndpointsWhileAConnectionClosesIsSafe) {
  // The broken call's `done` retires the endpoint whose connection just closed; with nothing
  // left open the channel frees it, and onClosed must not touch it afterwards (ASan).
  const std::string a = startServer({}, "a");
  const std::string b = startServer({}, "b");
  Channel::Options co;
  co.connections_per_endpoint = 1;
  Channel* ch = makeChannel({a}, co);
  Call slow;
  slow.request.set_delay_ms(300);
  echo::EchoService_Stub stub(ch);
  bool replaced = false;
  stub.Echo(&slow.controller, &slow.request, &slow.response, newCallback([&] {
    slow.done = true;
    replaced = ch->setEndpoints(std::vector<std::string>{b}).isOk();
  }));
  ASSERT_TRUE(loop_.runUntil([&] { return servers_[0]->callsRunning() == 1; }));
  bool a_stopped = false;
  shutdownServer(0, 0ms, &a_stopped);  // closes the connection under the call
  ASSERT_TRUE(loop_.runUntil([&] { return slow.done; }));
  EXPECT_EQ(slow.controller.code(), Code::UNAVAILABLE) << slow.controller.status().toString();
  EXPECT_TRUE(replaced);
  Call next;
  next.request.set_message("to b");
  echo(ch, next);
  ASSERT_TRUE(loop_.runUntil([&] { return next.done; }));
  EXPECT_TRUE(next.controller.status().isOk()) << next.controller.status().toString();
  EXPECT_EQ(next.response.server_id(), "b");
  ASSERT_TRUE(loop_.runUntil([&] { return a_stopped; }));
}

// A listening socket the test drives by hand: it accepts, reads request frames and answers
// whatever the test writes (here: a goaway instead of an answer).
class FakeServer {
 public:
  FakeServer() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    EXPECT_EQ(::listen(listen_fd_, 16), 0);
    socklen_t len = sizeof sa;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&sa), &len);
    port_ = ntohs(sa.sin_port);
  }
  ~FakeServer() {
    for (int fd : conns_)
      ::close(fd);
    ::close(listen_fd_);
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  // Accepts a pending connection; false if none.
  bool accept() {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK);
    if (fd < 0) return false;
    conns_.push_back(fd);
    in_.emplace_back();
    return true;
  }
  size_t connections() const { return conns_.size(); }
  // Reads connection `i`; pops one complete request frame's meta; false if none yet.
  bool nextRequest(size_t i, RpcMeta* meta) {
    char buf[4096];
    ssize_t n;
    while ((n = ::recv(conns_[i], buf, sizeof buf, 0)) > 0)
      in_[i].append(buf, static_cast<size_t>(n));
    detail::FrameHeader h;
    if (detail::parseHeader(in_[i].data(), in_[i].size(), 1 << 20, &h) !=
            detail::HeaderStatus::Ok ||
        in_[i].size() < h.frameBytes()) {
      return false;
    }
    EXPECT_TRUE(
        meta->ParseFromArray(in_[i].data() + detail::kHeaderBytes, static_cast<int>(h.meta_len)));
    in_[i].erase(0, h.frameBytes());
    return true;
  }
  // True once the peer closed connection `i`.
  bool peerClosed(size_t i) {
    char b;
    ssize_t n = ::recv(conns_[i], &b, 1, MSG_PEEK);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
  }
  void send(size_t i, const RpcMeta& meta) { sendMetaBytes(i, meta.SerializeAsString()); }
  // For what libprotobuf would not write (an error text that is not UTF-8).
  void send(size_t i, const detail::MetaView& meta) {
    std::string m(detail::encodedMetaSize(meta), '\0');
    detail::encodeMeta(meta, m.data());
    sendMetaBytes(i, m);
  }
  void sendMetaBytes(size_t i, const std::string& m) {
    std::string frame(detail::kHeaderBytes, '\0');
    detail::writeHeader(
        detail::FrameHeader{detail::kFlagResponse, static_cast<uint32_t>(m.size()), 0},
        frame.data());
    frame += m;
    EXPECT_EQ(::send(conns_[i], frame.data(), frame.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(frame.size()));
  }

 private:
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::vector<int> conns_;
  std::vector<std::string> in_;
};

TEST_F(ChannelTest, CallsCaughtByAGoawayAreSentAgainNotFailed) {
  // The race the goaway exists for: a call written just as the server gives up an idle
  // connection. The server answers nothing after the goaway, so the call did not run and the
  // channel sends it again elsewhere; without that it would hang until its deadline.
  FakeServer fake;
  const std::string real = startServer({}, "real");
  Channel::Options co;
  co.connections_per_endpoint = 1;
  co.timeout = 3s;
  Channel* ch = makeChannel({fake.address(), real}, co);
  ASSERT_TRUE(loop_.runUntil([&] { return ch->usableEndpoints() == 2; }));
  ASSERT_TRUE(loop_.runUntil(test::latch([&] { return fake.accept(); }), 3s, 1ms));
  const uint64_t goaways_before = counterValue("push_rpc_client_goaways_total");

  std::vector<std::unique_ptr<Call>> calls;
  for (int i = 0; i < 2; ++i) {  // round robin: one of them goes to the fake server
    calls.push_back(std::make_unique<Call>());
    calls.back()->request.set_message("m" + std::to_string(i));
    echo(ch, *calls.back());
  }
  RpcMeta request;
  ASSERT_TRUE(loop_.runUntil(test::latch([&] { return fake.nextRequest(0, &request); }), 3s, 1ms));
  EXPECT_EQ(request.method(), "push.echo.EchoService.Echo");
  RpcMeta goaway;
  goaway.set_code(Code::UNAVAILABLE);
  goaway.set_error("connection idle for 600000 ms");
  goaway.set_not_executed(true);
  goaway.set_goaway(true);
  fake.send(0, goaway);

  ASSERT_TRUE(waitAll(calls, 2s));
  for (auto& c : calls) {
    EXPECT_TRUE(c->controller.status().isOk()) << c->controller.status().toString();
    EXPECT_EQ(c->response.server_id(), "real");
    EXPECT_EQ(c->response.message(), c->request.message());
  }
  EXPECT_EQ(counterValue("push_rpc_client_goaways_total"), goaways_before + 1);
  // The channel closed the connection it was told to leave, and reconnected at once.
  ASSERT_TRUE(loop_.runUntil([&] { return fake.peerClosed(0); }, 3s, 1ms));
  ASSERT_TRUE(loop_.runUntil(test::latch([&] { return fake.accept(); }), 1s, 1ms));
}

TEST_F(ChannelTest, AServersErrorTextReachesTheCallerAsValidUtf8OfBoundedSize) {
  // The channel does not trust the server's bytes: whatever the error text, the caller's
  // Status holds valid UTF-8 of at most 1 KiB (RpcMeta.error, rpc.proto).
  FakeServer fake;
  Channel::Options co;
  co.connections_per_endpoint = 1;
  Channel* ch = makeChannel({fake.address()}, co);
  ASSERT_TRUE(loop_.runUntil([&] { return ch->usableEndpoints() == 1; }));
  ASSERT_TRUE(loop_.runUntil(test::latch([&] { return fake.accept(); }), 3s, 1ms));
  Call call;
  echo(ch, call);
  RpcMeta request;
  ASSERT_TRUE(loop_.runUntil(test::latch([&] { return fake.nextRequest(0, &request); }), 3s, 1ms));
  const std::string error = "bad \xff\xfe byte" + std::string(3000, 'x');
  detail::MetaView answer;
  answer.request_id = request.request_id();
  answer.code = static_cast<int32_t>(Code::INTERNAL);
  answer.error = error;
  fake.send(0, answer);
  ASSERT_TRUE(loop_.runUntil([&] { return call.done; }, 3s));
  EXPECT_EQ(call.controller.status().code(), Code::INTERNAL);
  const std::string& got = call.controller.status().message();
  EXPECT_EQ(got.substr(0, 14), "bad ?? bytexxx");
  EXPECT_EQ(got.size(), detail::kMaxErrorBytes);
  RpcMeta check;  // a proto3 string field refuses invalid UTF-8 when parsed
  check.set_error(got);
  EXPECT_TRUE(RpcMeta().ParseFromString(check.SerializeAsString()));
}

}  // namespace
}  // namespace push::rpc

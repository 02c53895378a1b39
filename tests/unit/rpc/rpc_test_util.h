// Shared by the RPC tests: a fixture running Servers and Channels on one loop over real
// loopback sockets, and a raw TCP client for the bytes a well-behaved Channel never sends.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/metrics.h"
#include "common/net/event_loop.h"
#include "common/rpc/channel.h"
#include "common/rpc/controller.h"
#include "common/rpc/detail/frame.h"
#include "common/rpc/detail/meta_codec.h"
#include "common/rpc/server.h"
#include "examples/rpc_echo/echo_service.h"
#include "proto/echo.pb.h"
#include "proto/rpc.pb.h"

namespace push::rpc::test {

using namespace std::chrono_literals;

struct Call {
  Controller controller;
  echo::EchoRequest request;
  echo::EchoResponse response;
  bool done = false;
  int order = -1;
};

// An EchoService whose Echo runs `fn` (set before the first call), counting invocations.
class ScriptedEchoService final : public echo::EchoService {
 public:
  using Fn = std::function<void(Controller*, const echo::EchoRequest*, echo::EchoResponse*,
                                google::protobuf::Closure*)>;
  explicit ScriptedEchoService(Fn fn) : fn_(std::move(fn)) {}
  void Echo(google::protobuf::RpcController* controller, const echo::EchoRequest* request,
            echo::EchoResponse* response, google::protobuf::Closure* done) override {
    ++calls_;
    fn_(static_cast<Controller*>(controller), request, response, done);
  }
  int calls() const { return calls_; }

 private:
  Fn fn_;
  int calls_ = 0;
};

// For EventLoop::runUntil, which checks its predicate once more before returning: a predicate
// with side effects (it pops the frame or accepts the connection it finds) latches its first
// true.
inline std::function<bool()> latch(std::function<bool()> fn) {
  return [fn = std::move(fn), hit = false]() mutable { return hit || (hit = fn()); };
}

inline uint64_t counterValue(std::string_view name, std::string_view labels = "") {
  return metrics::Registry::global().counter(name, "", labels).value();
}

// Serializes one request frame the way Channel does. `method` is any bytes (a Channel only
// ever sends registered names).
inline std::string requestFrame(uint64_t request_id, std::string_view method,
                                const google::protobuf::Message& body) {
  detail::MetaView meta;
  meta.request_id = request_id;
  meta.method = method;
  std::string meta_bytes(detail::encodedMetaSize(meta), '\0');
  detail::encodeMeta(meta, meta_bytes.data());
  const std::string body_bytes = body.SerializeAsString();
  std::string frame(detail::kHeaderBytes, '\0');
  detail::writeHeader(detail::FrameHeader{0, static_cast<uint32_t>(meta_bytes.size()),
                                          static_cast<uint32_t>(body_bytes.size())},
                      frame.data());
  return frame + meta_bytes + body_bytes;
}

inline std::string helloFrame(const std::string& key) {
  Hello hello;
  hello.set_cluster_key(key);
  return requestFrame(0, detail::kHelloMethod, hello);
}

// A blocking-connect, non-blocking-read TCP client driven from the test thread while the
// loop runs (loop.runUntil polls it).
class RawClient {
 public:
  explicit RawClient(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
  }
  ~RawClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connected() const { return connected_; }
  bool send(const std::string& bytes) {
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(bytes.size());
  }
  // Reads what is available; true once the peer has closed (EOF or reset).
  bool poll() {
    char buf[4096];
    for (;;) {
      ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) {
        in_.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) closed_ = true;
      return closed_;
    }
  }
  // Pops one complete response frame into `meta` (and its body); false if none yet.
  bool nextFrame(RpcMeta* meta, std::string* body = nullptr) {
    detail::FrameHeader h;
    if (detail::parseHeader(in_.data(), in_.size(), 1 << 24, &h) != detail::HeaderStatus::Ok ||
        in_.size() < h.frameBytes()) {
      return false;
    }
    EXPECT_TRUE(h.flags & detail::kFlagResponse);
    EXPECT_TRUE(
        meta->ParseFromArray(in_.data() + detail::kHeaderBytes, static_cast<int>(h.meta_len)));
    if (body) body->assign(in_.data() + detail::kHeaderBytes + h.meta_len, h.body_len);
    in_.erase(0, h.frameBytes());
    return true;
  }
  bool closed() const { return closed_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
  bool closed_ = false;
  std::string in_;
};

class RpcFixture : public ::testing::Test {
 protected:
  void TearDown() override {
    channels_.clear();  // closes them
    servers_.clear();   // closes them
    // Runs the loop until every server, channel and connection has closed and deleted itself.
    Status st = loop_.shutdown();
    EXPECT_TRUE(st.isOk()) << st.toString();
  }

  // A server with the echo service; returns its address.
  std::string startServer(Server::Options options = {}, std::string id = "") {
    ServerPtr server = Server::create(loop_, options);
    services_.push_back(std::make_unique<examples::EchoServiceImpl>(
        loop_, id.empty() ? "s" + std::to_string(servers_.size()) : id));
    EXPECT_TRUE(server->addService(services_.back().get()).isOk());
    Status st = server->start();
    EXPECT_TRUE(st.isOk()) << st.toString();
    servers_.push_back(std::move(server));
    return servers_.back()->address().toString();
  }

  // A ScriptedEchoService owned by the fixture (it outlives the servers, closed in TearDown).
  ScriptedEchoService* scripted(ScriptedEchoService::Fn fn) {
    scripted_.push_back(std::make_unique<ScriptedEchoService>(std::move(fn)));
    return scripted_.back().get();
  }

  // A server with `service`, which must outlive it (see scripted()); returns its address.
  std::string startServerWith(google::protobuf::Service* service, Server::Options options = {}) {
    ServerPtr server = Server::create(loop_, options);
    EXPECT_TRUE(server->addService(service).isOk());
    Status st = server->start();
    EXPECT_TRUE(st.isOk()) << st.toString();
    servers_.push_back(std::move(server));
    return servers_.back()->address().toString();
  }

  // Shuts a server down and forgets it (TearDown does not close it again).
  void shutdownServer(size_t index, std::chrono::milliseconds grace, bool* done_flag) {
    Server* s = servers_[index].release();  // handed over: it deletes itself when done
    servers_.erase(servers_.begin() + static_cast<long>(index));
    s->shutdown(grace, [done_flag] {
      if (done_flag) *done_flag = true;
    });
  }

  Channel* makeChannel(const std::vector<std::string>& endpoints, Channel::Options options = {}) {
    auto ch = Channel::create(loop_, options);
    EXPECT_TRUE(ch.isOk()) << ch.status().toString();
    if (!ch.isOk()) return nullptr;
    channels_.push_back(std::move(ch).value());
    EXPECT_TRUE(channels_.back()->setEndpoints(endpoints).isOk());
    return channels_.back().get();
  }

  void echo(Channel* ch, Call& call, int* counter = nullptr) {
    echo::EchoService_Stub stub(ch);
    stub.Echo(&call.controller, &call.request, &call.response, newCallback([&call, counter] {
      call.done = true;
      if (counter) call.order = (*counter)++;
    }));
  }

  bool waitAll(std::vector<std::unique_ptr<Call>>& calls, std::chrono::milliseconds timeout = 5s) {
    return loop_.runUntil(
        [&] {
          for (auto& c : calls) {
            if (!c->done) return false;
          }
          return true;
        },
        timeout);
  }

  net::EventLoop loop_;
  std::vector<std::unique_ptr<examples::EchoServiceImpl>> services_;
  std::vector<std::unique_ptr<ScriptedEchoService>> scripted_;
  std::vector<ServerPtr> servers_;  // after the services: they outlive the servers
  std::vector<ChannelPtr> channels_;
};

}  // namespace push::rpc::test

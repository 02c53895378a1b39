// Center end to end with real processes: push-register and push-room from a LocalCluster, and
// push-center (and, for the batch test, a second push-room) started here with their own
// configs. Covers center's graceful stop (SIGTERM with pushes in flight, alone and with
// --workers) and the cutting of Room.DeliverBatch calls under the room's RPC frame limit.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <google/protobuf/util/json_util.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/net/inet_address.h"
#include "proto/center.pb.h"
#include "proto/client.pb.h"
#include "tests/support/frame_client.h"
#include "tests/support/http_client.h"
#include "tests/support/local_cluster.h"
#include "tests/support/subprocess.h"

namespace push::testing {
namespace {

using namespace std::chrono_literals;

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return pred();
}

// One keep-alive HTTP/1.1 connection that sends many requests at once (pipelined) and reads
// the answers back in order.
class PipelinedHttp {
 public:
  static Result<std::unique_ptr<PipelinedHttp>> connect(const std::string& address) {
    ASSIGN_OR_RETURN(net::InetAddress addr, net::InetAddress::parse(address));
    int fd = ::socket(addr.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return unavailable("socket");
    if (::connect(fd, addr.sockaddrPtr(), addr.length()) != 0) {
      ::close(fd);
      return unavailable("connect " + address);
    }
    return std::unique_ptr<PipelinedHttp>(new PipelinedHttp(fd, address));
  }
  ~PipelinedHttp() { ::close(fd_); }

  static std::string post(const std::string& host, const std::string& path, const std::string& body,
                          const std::string& key) {
    return "POST " + path + " HTTP/1.1\r\nHost: " + host + "\r\nAuthorization: Bearer " + key +
           "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\n\r\n" + body;
  }
  const std::string& host() const { return host_; }

  Status send(const std::string& bytes) {
    size_t sent = 0;
    while (sent < bytes.size()) {
      ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return unavailable("send failed");
      sent += static_cast<size_t>(n);
    }
    return Status::ok();
  }

  // The next `count` answers, in order; fewer when the connection closes or `timeout` passes.
  std::vector<HttpReply> read(size_t count, std::chrono::milliseconds timeout = 20s) {
    std::vector<HttpReply> out;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (out.size() < count) {
      if (auto reply = parseOne()) {
        out.push_back(std::move(*reply));
        continue;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      char buf[65536];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      in_.append(buf, static_cast<size_t>(n));
    }
    return out;
  }

 private:
  PipelinedHttp(int fd, std::string host) : fd_(fd), host_(std::move(host)) {}

  std::optional<HttpReply> parseOne() {
    const size_t head_end = in_.find("\r\n\r\n");
    if (head_end == std::string::npos) return std::nullopt;
    HttpReply reply;
    std::istringstream head(in_.substr(0, head_end));
    std::string line;
    std::getline(head, line);
    if (line.size() < 12) return std::nullopt;
    reply.status = std::atoi(line.c_str() + 9);
    size_t length = 0;
    while (std::getline(head, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      const size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon);
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ')
        value.erase(0, 1);
      if (strcasecmp(name.c_str(), "Content-Length") == 0) length = std::stoul(value);
      reply.headers.emplace_back(std::move(name), std::move(value));
    }
    if (in_.size() < head_end + 4 + length) return std::nullopt;
    reply.body = in_.substr(head_end + 4, length);
    in_.erase(0, head_end + 4 + length);
    return reply;
  }

  int fd_;
  std::string host_;
  std::string in_;
};

// "key=value key=value" -> value of key.
std::string field(const std::string& line, const std::string& key) {
  std::istringstream in(line);
  std::string token;
  while (in >> token) {
    if (token.compare(0, key.size() + 1, key + "=") == 0) return token.substr(key.size() + 1);
  }
  return "";
}

// The "pending" count in a center /status document; -1 when unreadable.
int pendingIn(const Result<HttpReply>& status) {
  if (!status.isOk() || status->status != 200) return -1;
  const size_t i = status->body.find("\"pending\":");
  return i == std::string::npos ? -1 : std::atoi(status->body.c_str() + i + 10);
}

class CenterE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LocalCluster::Options options;
    options.start_center = false;
    options.apps[0].rate_per_s = 100'000;
    auto c = LocalCluster::start(std::move(options));
    ASSERT_TRUE(c.isOk()) << c.status().toString();
    cluster_ = std::move(c).value();
  }

  void TearDown() override {
    // A register stopped by a test must be able to exit.
    if (cluster_) cluster_->registerProcess().sendSignal(SIGCONT);
    room_.reset();
    center_.reset();
    cluster_.reset();
  }

  std::string appsConfig() const {
    return "apps { name: \"demo\" api_keys: \"" + cluster_->apiKey() +
           "\" push_rate_per_s: 100000 }\n";
  }

  // push-center with its own config: an admin port (ADMIN_ADDRESS per worker), a register
  // channel deadline long enough for a test to hold register stopped, and `extra`.
  // `key_config` replaces the cluster's cluster_key line.
  void startCenter(const std::string& extra, int workers = 1,
                   std::optional<std::string> key_config = std::nullopt) {
    const std::string cfg =
        "http { listen { address: \"127.0.0.1:0\" } }\n"
        "admin { listen { address: \"127.0.0.1:0\" } }\n"
        "register { shards { address: \"" +
        cluster_->registerAddress() + "\" slots: \"0-1023\" } channel { timeout_ms: 20000 } }\n" +
        appsConfig() + key_config.value_or(cluster_->clusterKeyConfig()) + extra;
    const std::string path = cluster_->dir() + "/center-e2e.conf";
    std::ofstream(path) << cfg;
    auto p = Subprocess::start(
        {binPath("push-center"), "--config", path, "--workers", std::to_string(workers)});
    ASSERT_TRUE(p.isOk()) << p.status().toString();
    center_ = std::move(p).value();
    auto http = center_->waitForLines("HTTP_ADDRESS", static_cast<size_t>(workers));
    ASSERT_TRUE(http.isOk()) << http.status().toString();
    center_address_ = http->at(0);
    auto admin = center_->waitForLines("ADMIN_ADDRESS", static_cast<size_t>(workers));
    ASSERT_TRUE(admin.isOk()) << admin.status().toString();
    center_admins_ = *admin;
  }

  // A second push-room, registered with the cluster's register, with `rpc_extra` inside its
  // rpc { } section. Fills room_tcp_ and room_admin_.
  void startRoom(const std::string& rpc_extra) {
    const std::string cfg =
        "name: \"room-e2e\"\n"
        "tcp { address: \"127.0.0.1:0\" }\n"
        "rpc { listen { address: \"127.0.0.1:0\" } " +
        rpc_extra +
        " }\n"
        "admin { listen { address: \"127.0.0.1:0\" } }\n"
        "register { shards { address: \"" +
        cluster_->registerAddress() + "\" slots: \"0-1023\" } }\n" +
        "apps { name: \"demo\" secret: \"demo-secret-0123456789\" }\n" +
        cluster_->clusterKeyConfig();
    const std::string path = cluster_->dir() + "/room-e2e.conf";
    std::ofstream(path) << cfg;
    auto p = Subprocess::start({binPath("push-room"), "--config", path});
    ASSERT_TRUE(p.isOk()) << p.status().toString();
    room_ = std::move(p).value();
    auto line = room_->waitForLine("ROOM");
    ASSERT_TRUE(line.isOk()) << line.status().toString();
    room_tcp_ = field(*line, "tcp");
    room_admin_ = field(*line, "admin");
    ASSERT_FALSE(room_tcp_.empty()) << *line;
  }

  std::unique_ptr<FrameClient> online(const std::string& address, const std::string& user,
                                      const std::string& device) {
    auto c = FrameClient::connect(address);
    EXPECT_TRUE(c.isOk()) << c.status().toString();
    if (!c.isOk()) return nullptr;
    auto r = (*c)->auth(cluster_->token(user, device));
    EXPECT_TRUE(r.isOk()) << r.status().toString();
    if (!r.isOk()) return nullptr;
    return std::move(c).value();
  }

  // Sessions of `user` as center sees them (through register).
  int sessionsOf(const std::string& user) {
    auto reply = httpRequest(center_address_, "GET", "/v1/apps/demo/users/" + user, "",
                             {{"Authorization", "Bearer " + cluster_->apiKey()}});
    if (!reply.isOk() || reply->status != 200) return -1;
    center::UserResponse u;
    if (!google::protobuf::util::JsonStringToMessage(reply->body, &u).ok()) return -1;
    return u.sessions_size();
  }

  // Sum of "pending" over every center worker's /status; -1 if one cannot be read.
  int pendingOnCenter() {
    int total = 0;
    for (const auto& admin : center_admins_) {
      const int p = pendingIn(httpRequest(admin, "GET", "/status"));
      if (p < 0) return -1;
      total += p;
    }
    return total;
  }

  // `per_connection` pipelined pushes to alice on each of `connections` connections, sent
  // while register is stopped: they all wait in center, for sure, when this returns.
  std::vector<std::unique_ptr<PipelinedHttp>> pushesStuckInCenter(int connections,
                                                                  int per_connection) {
    cluster_->registerProcess().sendSignal(SIGSTOP);
    std::vector<std::unique_ptr<PipelinedHttp>> conns;
    for (int c = 0; c < connections; ++c) {
      auto conn = PipelinedHttp::connect(center_address_);
      EXPECT_TRUE(conn.isOk()) << conn.status().toString();
      if (!conn.isOk()) return conns;
      std::string bytes;
      for (int i = 0; i < per_connection; ++i) {
        bytes += PipelinedHttp::post(center_address_, "/v1/push",
                                     R"({"app":"demo","users":["alice"],"payload":"m-)" +
                                         std::to_string(c) + "-" + std::to_string(i) + "\"}",
                                     cluster_->apiKey());
      }
      EXPECT_TRUE((*conn)->send(bytes).isOk());
      conns.push_back(std::move(conn).value());
    }
    const int total = connections * per_connection;
    EXPECT_TRUE(eventually([&] { return pendingOnCenter() == total; }))
        << "center holds " << pendingOnCenter() << " of " << total << " pushes";
    return conns;
  }

  std::unique_ptr<LocalCluster> cluster_;
  std::unique_ptr<Subprocess> center_;
  std::unique_ptr<Subprocess> room_;
  std::string center_address_;
  std::vector<std::string> center_admins_;
  std::string room_tcp_, room_admin_;
};

// SIGTERM while pushes wait for register: each gets its 200 once register answers, then
// center exits 0.
TEST_F(CenterE2eTest, SigtermLetsEveryPushInFlightFinishThenExitsZero) {
  ASSERT_NO_FATAL_FAILURE(startCenter("stop_grace_ms: 20000\n"));
  auto alice = online(cluster_->roomTcp(), "alice", "phone");
  ASSERT_TRUE(alice);
  ASSERT_TRUE(eventually([&] { return sessionsOf("alice") == 1; })) << "alice never online";

  constexpr int kConnections = 4, kPerConnection = 40, kTotal = kConnections * kPerConnection;
  auto conns = pushesStuckInCenter(kConnections, kPerConnection);
  ASSERT_EQ(conns.size(), static_cast<size_t>(kConnections));
  center_->sendSignal(SIGTERM);
  // Stopping, not stopped: the pushes are still waiting, the admin port says so.
  ASSERT_TRUE(eventually([&] {
    auto h = httpRequest(center_admins_[0], "GET", "/healthz");
    return h.isOk() && h->status == 503;
  })) << "center did not start stopping";
  EXPECT_TRUE(center_->running());
  EXPECT_EQ(pendingOnCenter(), kTotal);
  cluster_->registerProcess().sendSignal(SIGCONT);

  int ok = 0;
  for (auto& conn : conns) {
    auto replies = conn->read(kPerConnection);
    EXPECT_EQ(replies.size(), static_cast<size_t>(kPerConnection));
    for (const auto& r : replies) {
      EXPECT_EQ(r.status, 200) << r.body;
      center::PushResponse res;
      EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(r.body, &res).ok()) << r.body;
      ok += res.delivered() == 1 ? 1 : 0;
    }
  }
  EXPECT_EQ(ok, kTotal);
  conns.clear();  // the clients close: center has nothing left to wait for
  EXPECT_EQ(center_->wait(15s), 0);
  for (int i = 0; i < kTotal; ++i) {
    auto f = alice->readUntil(client::Frame::kPush);
    ASSERT_TRUE(f.isOk()) << "push " << i << ": " << f.status().toString();
  }
}

TEST_F(CenterE2eTest, SigtermWithWorkersIsForwardedAndEveryWorkerFinishesItsPushes) {
  ASSERT_NO_FATAL_FAILURE(startCenter("stop_grace_ms: 20000\n", /*workers=*/2));
  auto alice = online(cluster_->roomTcp(), "alice", "phone");
  ASSERT_TRUE(alice);
  ASSERT_TRUE(eventually([&] { return sessionsOf("alice") == 1; })) << "alice never online";
  constexpr int kConnections = 6, kPerConnection = 20;
  auto conns = pushesStuckInCenter(kConnections, kPerConnection);
  ASSERT_EQ(conns.size(), static_cast<size_t>(kConnections));
  center_->sendSignal(SIGTERM);  // the supervisor: it forwards to both workers
  ASSERT_TRUE(eventually([&] {
    for (const auto& admin : center_admins_) {
      auto h = httpRequest(admin, "GET", "/healthz");
      // A worker the kernel (SO_REUSEPORT) gave none of the stuck connections has nothing to
      // wait for and is gone already: its admin port refuses, as after any finished stop.
      if (h.isOk() && h->status != 503) return false;
    }
    return true;
  })) << "the workers did not start stopping";
  cluster_->registerProcess().sendSignal(SIGCONT);
  for (auto& conn : conns) {
    auto replies = conn->read(kPerConnection);
    ASSERT_EQ(replies.size(), static_cast<size_t>(kPerConnection));
    for (const auto& r : replies)
      EXPECT_EQ(r.status, 200) << r.body;
  }
  conns.clear();
  EXPECT_EQ(center_->wait(15s), 0);
}

TEST_F(CenterE2eTest, PastStopGraceTheRestAre503AndCenterStillExitsZero) {
  ASSERT_NO_FATAL_FAILURE(startCenter("stop_grace_ms: 300\n"));
  auto alice = online(cluster_->roomTcp(), "alice", "phone");
  ASSERT_TRUE(alice);
  ASSERT_TRUE(eventually([&] { return sessionsOf("alice") == 1; })) << "alice never online";
  constexpr int kPerConnection = 30;
  auto conns = pushesStuckInCenter(2, kPerConnection);
  ASSERT_EQ(conns.size(), 2u);
  center_->sendSignal(SIGTERM);  // register stays stopped: nothing can finish
  for (auto& conn : conns) {
    auto replies = conn->read(kPerConnection);
    ASSERT_EQ(replies.size(), static_cast<size_t>(kPerConnection));
    for (const auto& r : replies) {
      EXPECT_EQ(r.status, 503) << r.body;
      EXPECT_NE(r.body.find("stopping"), std::string::npos) << r.body;
    }
  }
  EXPECT_EQ(center_->wait(10s), 0);
}

// The room accepts RPC frames of at most 16 KiB (its max_frame_bytes) and closes a connection
// that sends more. Center cuts its DeliverBatch calls at 8 KiB and 16 targets: many 2 KB
// pushes of one loop turn, and one push to 70 devices with long names (~19 KB of targets),
// all arrive, and the room never sees a frame over its limit.
TEST_F(CenterE2eTest, DeliverBatchesStayUnderTheRoomsFrameLimit) {
  ASSERT_NO_FATAL_FAILURE(startRoom("max_frame_bytes: 16384"));
  ASSERT_NO_FATAL_FAILURE(
      startCenter("deliver_batch_max_bytes: 8192\ndeliver_batch_max_targets: 16\n"));

  // Many large pushes in one go: pipelined on one connection, so center reads dozens per
  // loop turn and coalesces their deliveries (64 x 2 KB: 128 KB for one room).
  auto alice = online(room_tcp_, "alice", "phone");
  ASSERT_TRUE(alice);
  ASSERT_TRUE(eventually([&] { return sessionsOf("alice") == 1; })) << "alice never online";
  constexpr int kPushes = 64;
  auto conn = PipelinedHttp::connect(center_address_);
  ASSERT_TRUE(conn.isOk());
  std::string bytes;
  for (int i = 0; i < kPushes; ++i) {
    const std::string payload = std::to_string(i) + "-" + std::string(2000, 'p');
    bytes += PipelinedHttp::post(center_address_, "/v1/push",
                                 R"({"app":"demo","users":["alice"],"payload":")" + payload + "\"}",
                                 cluster_->apiKey());
  }
  ASSERT_TRUE((*conn)->send(bytes).isOk());
  auto replies = (*conn)->read(kPushes);
  ASSERT_EQ(replies.size(), static_cast<size_t>(kPushes));
  for (const auto& r : replies) {
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_NE(r.body.find("\"delivered\":1"), std::string::npos) << r.body;
  }
  for (int i = 0; i < kPushes; ++i) {
    auto f = alice->readUntil(client::Frame::kPush);
    ASSERT_TRUE(f.isOk()) << "push " << i << ": " << f.status().toString();
    EXPECT_EQ(f->push().payload().size(), std::to_string(i).size() + 2001);
  }

  // One push to 70 devices: 70 x ~260 bytes of names would be one 18 KB item.
  constexpr int kDevices = 70;
  std::vector<std::unique_ptr<FrameClient>> clients;
  std::string devices;
  for (int i = 0; i < kDevices; ++i) {
    std::string user = "u" + std::to_string(i) + "-" + std::string(120, 'u');
    std::string device = "d" + std::to_string(i) + "-" + std::string(120, 'd');
    clients.push_back(online(room_tcp_, user, device));
    ASSERT_TRUE(clients.back()) << i;
    devices +=
        std::string(i ? "," : "") + R"({"user":")" + user + R"(","device":")" + device + "\"}";
  }
  ASSERT_TRUE(eventually([&] {
    return sessionsOf("u" + std::to_string(kDevices - 1) + "-" + std::string(120, 'u')) == 1;
  }));
  auto res = httpRequest(center_address_, "POST", "/v1/push",
                         R"({"app":"demo","devices":[)" + devices + R"(],"payload":"to all"})",
                         {{"Authorization", "Bearer " + cluster_->apiKey()}});
  ASSERT_TRUE(res.isOk()) << res.status().toString();
  ASSERT_EQ(res->status, 200) << res->body;
  center::PushResponse out;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(res->body, &out).ok()) << res->body;
  EXPECT_EQ(out.delivered(), static_cast<uint32_t>(kDevices)) << res->body;
  for (int i = 0; i < kDevices; ++i) {
    auto f = clients[static_cast<size_t>(i)]->readUntil(client::Frame::kPush);
    ASSERT_TRUE(f.isOk()) << "device " << i << ": " << f.status().toString();
    EXPECT_EQ(f->push().payload(), "to all");
  }

  // The room never closed center's channel for an oversized frame; center sent many calls.
  auto room_metrics = httpRequest(room_admin_, "GET", "/metrics");
  ASSERT_TRUE(room_metrics.isOk());
  EXPECT_EQ(counterIn(room_metrics->body, "push_rpc_server_protocol_errors_total"), 0u);
  auto center_metrics = httpRequest(center_admins_[0], "GET", "/metrics");
  ASSERT_TRUE(center_metrics.isOk());
  EXPECT_GE(counterIn(center_metrics->body, "push_center_deliver_batches_total"), 5u + 16u);
  EXPECT_EQ(counterIn(center_metrics->body, R"(push_center_target_results_total{status="error"})"),
            0u);
}

// The cluster's register and rooms require the cluster key: a center with a wrong key, or
// none, is refused at the RPC handshake and can look up nobody (503), while a center with the
// key pushes through the same register and room.
TEST_F(CenterE2eTest, RpcPortsRefuseACenterWithoutTheClusterKey) {
  auto alice = online(cluster_->roomTcp(), "alice", "phone");
  ASSERT_TRUE(alice);
  const std::string push = R"({"app":"demo","users":["alice"],"payload":"keyed"})";
  for (const std::string& key_config :
       {std::string("cluster_key: \"not-the-cluster-key-123\"\n"), std::string()}) {
    ASSERT_NO_FATAL_FAILURE(startCenter("", 1, key_config));
    auto res = httpRequest(center_address_, "POST", "/v1/push", push,
                           {{"Authorization", "Bearer " + cluster_->apiKey()}});
    ASSERT_TRUE(res.isOk()) << res.status().toString();
    EXPECT_EQ(res->status, 503) << key_config << " -> " << res->body;
    EXPECT_NE(res->body.find("UNAUTHENTICATED"), std::string::npos) << res->body;
    center_->sendSignal(SIGTERM);
    EXPECT_EQ(center_->wait(10s), 0);
    center_.reset();
  }
  ASSERT_NO_FATAL_FAILURE(startCenter(""));
  ASSERT_TRUE(eventually([&] { return sessionsOf("alice") == 1; }));
  auto res = httpRequest(center_address_, "POST", "/v1/push", push,
                         {{"Authorization", "Bearer " + cluster_->apiKey()}});
  ASSERT_TRUE(res.isOk()) << res.status().toString();
  EXPECT_EQ(res->status, 200) << res->body;
  auto f = alice->readUntil(client::Frame::kPush);
  ASSERT_TRUE(f.isOk()) << f.status().toString();
  EXPECT_EQ(f->push().payload(), "keyed");
}

}  // namespace
}  // namespace push::testing

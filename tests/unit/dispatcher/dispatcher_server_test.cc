// DispatcherServer over HTTP: static mode, bad input, no rooms, /status and /metrics; and
// against a real ZooKeeper: a room registered later is routed within 2 s, a room whose
// session ends disappears, a full room is skipped, regions with retry.
#include <gtest/gtest.h>

#include <atomic>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/base/json_reader.h"
#include "common/discovery/service_registry.h"
#include "common/discovery/zk_client.h"
#include "services/dispatcher/dispatcher_server.h"
#include "tests/support/http_client.h"
#include "tests/unit/dispatcher/zk_fixture.h"

namespace push::dispatcher {
namespace {

using discovery::ServiceInstance;
using testing::HttpReply;

struct Answer {
  struct Room {
    std::string id, region;
    std::vector<std::string> tcp, ws;
  };
  std::vector<Room> rooms;
  std::vector<std::string> tcp, ws;
  uint64_t heartbeat_s = 0, ttl_s = 0;
};

Status readStrings(JsonReader& r, std::vector<std::string>* out) {
  RETURN_IF_ERROR(r.beginArray());
  while (r.nextElement()) {
    std::string s;
    RETURN_IF_ERROR(r.readString(&s));
    out->push_back(std::move(s));
  }
  return r.status();
}

Result<Answer> parseAnswer(std::string_view body) {
  Answer a;
  JsonReader r(body);
  RETURN_IF_ERROR(r.beginObject());
  std::string key;
  while (r.nextKey(&key)) {
    if (key == "rooms") {
      RETURN_IF_ERROR(r.beginArray());
      while (r.nextElement()) {
        Answer::Room room;
        RETURN_IF_ERROR(r.beginObject());
        std::string k;
        while (r.nextKey(&k)) {
          if (k == "id") {
            RETURN_IF_ERROR(r.readString(&room.id));
          } else if (k == "region") {
            RETURN_IF_ERROR(r.readString(&room.region));
          } else if (k == "tcp") {
            RETURN_IF_ERROR(readStrings(r, &room.tcp));
          } else if (k == "ws") {
            RETURN_IF_ERROR(readStrings(r, &room.ws));
          } else {
            return invalidArgument("unexpected room key " + k);
          }
        }
        RETURN_IF_ERROR(r.status());
        a.rooms.push_back(std::move(room));
      }
      RETURN_IF_ERROR(r.status());
    } else if (key == "tcp") {
      RETURN_IF_ERROR(readStrings(r, &a.tcp));
    } else if (key == "ws") {
      RETURN_IF_ERROR(readStrings(r, &a.ws));
    } else if (key == "heartbeat_s") {
      RETURN_IF_ERROR(r.readUint(&a.heartbeat_s, 100000));
    } else if (key == "ttl_s") {
      RETURN_IF_ERROR(r.readUint(&a.ttl_s, 100000));
    } else {
      return invalidArgument("unexpected key " + key);
    }
  }
  RETURN_IF_ERROR(r.finish());
  return a;
}

ServiceInstance room(std::string id, std::string region, int port, double load = 0) {
  ServiceInstance in;
  in.id = std::move(id);
  in.region = std::move(region);
  in.load = load;
  in.endpoints["tcp"] = "127.0.0.1:" + std::to_string(port);
  in.endpoints["tcp.1"] = "127.0.0.2:" + std::to_string(port + 1);
  in.endpoints["ws"] = "127.0.0.1:" + std::to_string(port + 2);
  in.endpoints["rpc"] = "127.0.0.1:" + std::to_string(port + 3);
  return in;
}

// What every test does: a server on the fixture's loop, requests from a client thread.
class DispatcherServerTest : public DispatcherZkTest {
 protected:
  void destroyAll() override {
    registries_.clear();
    server_under_test_.reset();
    zk_rooms_.reset();
  }

  void startServer(DispatcherOptions o) {
    o.http.address = "127.0.0.1:0";
    auto s = DispatcherServer::create(loop_, std::move(o));
    ASSERT_TRUE(s.isOk()) << s.status();
    server_under_test_ = std::move(s).value();
    ASSERT_TRUE(server_under_test_->start().isOk());
  }
  DispatcherOptions staticOptions(std::vector<ServiceInstance> rooms) {
    DispatcherOptions o;
    o.static_rooms = std::move(rooms);
    return o;
  }
  DispatcherOptions zkOptionsForServer() {
    DispatcherOptions o;
    o.zk_hosts = server_->address();
    o.zk_root = root_;
    o.zk_session_timeout = 2s;
    return o;
  }

  HttpReply get(const std::string& path) {
    std::optional<Result<HttpReply>> reply;
    std::atomic<bool> finished{false};
    const std::string address = server_under_test_->address().toString();
    std::thread client([&] {
      reply.emplace(::push::testing::httpRequest(address, "GET", path, "", {}, 5s));
      finished = true;
      loop_.post([] {});  // wake the loop
    });
    const bool ok = loop_.runUntil([&] { return finished.load(); }, 10s);
    client.join();
    EXPECT_TRUE(ok);
    if (!reply || !reply->isOk()) {
      ADD_FAILURE() << "no reply to " << path;
      return HttpReply{};
    }
    return std::move(**reply);
  }
  Answer route(const std::string& query) {
    HttpReply r = get("/v1/route?" + query);
    EXPECT_EQ(r.status, 200) << r.body;
    auto a = parseAnswer(r.body);
    EXPECT_TRUE(a.isOk()) << a.status() << ": " << r.body;
    return a.isOk() ? std::move(a).value() : Answer{};
  }

  // Registers `in` as a room in ZooKeeper from a session of its own (one per room, so a room
  // can be taken away by closing its session).
  void registerRoom(const ServiceInstance& in) {
    auto zk = connectedClient();
    ASSERT_TRUE(zk);
    discovery::ServiceRegistry::Options o;
    o.service = "room";
    o.instance = in;
    auto reg = discovery::ServiceRegistry::create(*zk, o);
    ASSERT_TRUE(reg.isOk()) << reg.status();
    (*reg)->start();
    registries_.push_back({std::move(zk), std::move(reg).value()});
  }
  bool waitForRooms(size_t n, std::chrono::milliseconds within) {
    return loop_.runUntil([&] { return server_under_test_->table()->rooms().size() == n; }, within);
  }

  struct Registered {
    std::unique_ptr<discovery::ZkClient> zk;
    std::unique_ptr<discovery::ServiceRegistry> registry;
    ~Registered() { registry.reset(); }  // before its client
    Registered(std::unique_ptr<discovery::ZkClient> z,
               std::unique_ptr<discovery::ServiceRegistry> r)
        : zk(std::move(z)), registry(std::move(r)) {}
    Registered(Registered&&) = default;
  };
  std::vector<Registered> registries_;
  std::unique_ptr<DispatcherServer> server_under_test_;
  std::unique_ptr<discovery::ZkClient> zk_rooms_;
};

// Static mode: no ZooKeeper.
class DispatcherStaticTest : public DispatcherServerTest {
 protected:
  bool needsZk() const override { return false; }
};

TEST_F(DispatcherStaticTest, StaticRoomsAnswerInOrderWithHints) {
  DispatcherOptions o =
      staticOptions({room("a", "east", 7000), room("b", "east", 7100), room("c", "west", 7200)});
  o.heartbeat.cellular_s = 170;
  o.ttl_s = 42;
  startServer(std::move(o));
  Answer a = route("app=app1&user=alice&net=cellular&region=east");
  ASSERT_EQ(a.rooms.size(), 2u);
  for (const auto& r : a.rooms)
    EXPECT_EQ(r.region, "east");
  EXPECT_EQ(a.heartbeat_s, 170u);
  EXPECT_EQ(a.ttl_s, 42u);
  // Each room carries both TCP endpoints and its WebSocket URL; rpc is never shown.
  ASSERT_EQ(a.rooms[0].tcp.size(), 2u);
  ASSERT_EQ(a.rooms[0].ws.size(), 1u);
  EXPECT_EQ(a.rooms[0].ws[0].rfind("ws://127.0.0.1:", 0), 0u);
  EXPECT_EQ(a.rooms[0].ws[0].substr(a.rooms[0].ws[0].size() - 3), "/ws");
  EXPECT_EQ(a.tcp.size(), 4u);
  EXPECT_EQ(a.ws.size(), 2u);
  EXPECT_EQ(a.tcp[0], a.rooms[0].tcp[0]);  // the sticky room's first endpoint leads
  // Same user -> same answer; the default heartbeat per network.
  Answer again = route("app=app1&user=alice&net=cellular&region=east");
  EXPECT_EQ(again.tcp, a.tcp);
  EXPECT_EQ(route("app=app1&user=alice&net=wifi&region=east").heartbeat_s, 60u);
  EXPECT_EQ(route("app=app1&user=alice&region=east").heartbeat_s, 90u);
  // retry=1: the west room after the east ones.
  Answer retry = route("app=app1&user=alice&region=east&retry=1");
  ASSERT_EQ(retry.rooms.size(), 3u);
  EXPECT_EQ(retry.rooms[0].id, a.rooms[0].id);
  EXPECT_EQ(retry.rooms[2].region, "west");
}

TEST_F(DispatcherStaticTest, BadInputIs400AndNoRoomIs503) {
  startServer(staticOptions({room("a", "east", 7000, /*load=*/1.0)}));
  for (const char* bad :
       {"/v1/route", "/v1/route?user=u", "/v1/route?app=a", "/v1/route?app=a&user=u&net=lte",
        "/v1/route?app=a&user=u%0A", "/v1/route?app=a&user=u&retry=one"}) {
    HttpReply r = get(bad);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(r.body.rfind("{\"error\":", 0), 0u) << r.body;
    EXPECT_EQ(r.header("Content-Type").rfind("application/json", 0), 0u);
  }
  // The only room is full.
  HttpReply r = get("/v1/route?app=a&user=u");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, R"({"error":"no room available"})");
  EXPECT_EQ(get("/healthz").status, 503);
  // /status shows it as skipped.
  HttpReply status = get("/status");
  EXPECT_NE(status.body.find("\"skipped\":[{\"id\":\"a\""), std::string::npos) << status.body;
  HttpReply metrics = get("/metrics");
  EXPECT_NE(metrics.body.find("push_dispatcher_answers_total{status=\"400\"}"), std::string::npos);
  EXPECT_NE(metrics.body.find("push_dispatcher_route_seconds_bucket"), std::string::npos);
  EXPECT_NE(metrics.body.find("push_dispatcher_rooms 0"), std::string::npos);
}

TEST_F(DispatcherServerTest, RoomRegisteredLaterIsRoutedWithin2s) {
  startServer(zkOptionsForServer());
  ASSERT_TRUE(loop_.runUntil([&] { return server_under_test_->tableUpdates() > 0; }, 10s));
  EXPECT_EQ(get("/v1/route?app=a&user=u").status, 503);
  registerRoom(room("r1", "east", 7000));
  const auto begin = std::chrono::steady_clock::now();
  ASSERT_TRUE(waitForRooms(1, 2s));
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 2s);
  Answer a = route("app=a&user=u");
  ASSERT_EQ(a.rooms.size(), 1u);
  EXPECT_EQ(a.rooms[0].id, "r1");
  EXPECT_EQ(get("/healthz").status, 200);

  registerRoom(room("r2", "east", 7100));
  ASSERT_TRUE(waitForRooms(2, 2s));
  HttpReply status = get("/status");
  EXPECT_NE(status.body.find("\"source\":\"zookeeper\""), std::string::npos);
  EXPECT_NE(status.body.find("\"id\":\"r2\""), std::string::npos) << status.body;
}

TEST_F(DispatcherServerTest, RoomWhoseSessionEndsDisappears) {
  startServer(zkOptionsForServer());
  registerRoom(room("r1", "east", 7000));
  registerRoom(room("r2", "east", 7100));
  ASSERT_TRUE(waitForRooms(2, 5s));
  // r2's process "dies": its session closes, its ephemeral node goes.
  registries_.back().registry.reset();
  registries_.back().zk.reset();
  ASSERT_TRUE(waitForRooms(1, 5s));
  EXPECT_EQ(server_under_test_->table()->rooms()[0].id, "r1");
  for (int u = 0; u < 20; ++u) {
    Answer a = route("app=a&user=u" + std::to_string(u));
    ASSERT_EQ(a.rooms.size(), 1u);
    EXPECT_EQ(a.rooms[0].id, "r1");
  }
}

TEST_F(DispatcherServerTest, FullRoomSkippedAndRegionsWithRetry) {
  startServer(zkOptionsForServer());
  registerRoom(room("e1", "east", 7000));
  registerRoom(room("w1", "west", 7100));
  registerRoom(room("full", "east", 7200, /*load=*/1.0));
  ASSERT_TRUE(loop_.runUntil(
      [&] {
        auto t = server_under_test_->table();
        return t->rooms().size() == 2 && t->skipped().size() == 1;
      },
      5s));
  Answer own = route("app=a&user=u&region=east&retry=0");
  ASSERT_EQ(own.rooms.size(), 1u);
  EXPECT_EQ(own.rooms[0].id, "e1");
  Answer retry = route("app=a&user=u&region=east&retry=1");
  ASSERT_EQ(retry.rooms.size(), 2u);
  EXPECT_EQ(retry.rooms[0].id, "e1");
  EXPECT_EQ(retry.rooms[1].id, "w1");
  Answer twice = route("app=a&user=u&region=east&retry=2");
  ASSERT_EQ(twice.rooms.size(), 2u);
  EXPECT_EQ(twice.rooms[0].id, "w1");
}

}  // namespace
}  // namespace push::dispatcher

// RegisterServer on a real loop: the RPC listener and the admin port on 127.0.0.1 port 0,
// called through an rpc::Channel and a blocking HTTP client on a helper thread.
#include "services/register/register_server.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "common/base/json_reader.h"
#include "common/net/event_loop.h"
#include "common/rpc/channel.h"
#include "common/rpc/controller.h"
#include "common/rpc/server.h"
#include "tests/unit/register/admin_test_util.h"
#include "tests/unit/register/register_test_util.h"

namespace push::reg {
namespace {

using namespace std::chrono_literals;
using testing::callSync;
using testing::makeSession;
using testing::portFree;

// Fields of the rooms in a /status document, read back with JsonReader.
struct StatusRoom {
  std::string id, address;
  uint64_t sessions = 0;
};
Result<std::vector<StatusRoom>> roomsOf(const std::string& json) {
  std::vector<StatusRoom> rooms;
  JsonReader r(json);
  RETURN_IF_ERROR(r.beginObject());
  std::string key;
  while (r.nextKey(&key)) {
    if (key != "rooms") {
      RETURN_IF_ERROR(r.skipValue());
      continue;
    }
    RETURN_IF_ERROR(r.beginArray());
    while (r.nextElement()) {
      StatusRoom room;
      RETURN_IF_ERROR(r.beginObject());
      while (r.nextKey(&key)) {
        if (key == "id") {
          RETURN_IF_ERROR(r.readString(&room.id));
        } else if (key == "address") {
          RETURN_IF_ERROR(r.readString(&room.address));
        } else if (key == "sessions") {
          RETURN_IF_ERROR(r.readUint(&room.sessions, 1u << 30));
        } else {
          RETURN_IF_ERROR(r.skipValue());
        }
      }
      rooms.push_back(std::move(room));
    }
  }
  RETURN_IF_ERROR(r.finish());
  return rooms;
}

// Valid JSON for protobuf's parser too (which also insists on valid UTF-8).
bool protobufParses(const std::string& json) {
  google::protobuf::Struct doc;
  return google::protobuf::util::JsonStringToMessage(json, &doc).ok();
}

class RegisterServerTest : public ::testing::Test {
 protected:
  void TearDown() override {
    channel_.reset();
    if (server_ && !stopped_) {
      bool done = false;
      server_->stop([&] { done = true; });
      EXPECT_TRUE(loop_.runUntil([&] { return done; }, 10s));
    }
    server_.reset();
    Status st = loop_.shutdown();
    EXPECT_TRUE(st.isOk()) << st.toString();
  }

  static RegisterServer::Options options(bool admin = true) {
    RegisterServer::Options o;
    o.rpc.address = "127.0.0.1:0";
    if (admin) o.admin.address = "127.0.0.1:0";
    o.shutdown_grace = 2s;
    return o;
  }

  void start(RegisterServer::Options o = options()) {
    auto created = RegisterServer::create(loop_, std::move(o));
    ASSERT_TRUE(created.isOk()) << created.status().toString();
    server_ = std::move(created).value();
    Status st = server_->start();
    ASSERT_TRUE(st.isOk()) << st.toString();
    auto ch = rpc::Channel::create(loop_, {});
    ASSERT_TRUE(ch.isOk());
    channel_ = std::move(ch).value();
    ASSERT_TRUE(
        channel_->setEndpoints(std::vector<std::string>{server_->address().toString()}).isOk());
  }

  Result<::push::testing::HttpReply> get(const std::string& path) {
    return testing::httpGet(loop_, server_->adminAddress().toString(), path);
  }

  Status online(const Session& s) {
    Register_Stub stub(channel_.get());
    OnlineRequest req;
    *req.add_sessions() = s;
    OnlineResponse resp;
    return callSync(loop_, stub, &Register_Stub::Online, req, &resp);
  }

  net::EventLoop loop_;
  std::unique_ptr<RegisterServer> server_;
  rpc::ChannelPtr channel_;
  bool stopped_ = false;
};

TEST_F(RegisterServerTest, ServesRpcAndTheAdminPort) {
  start();
  EXPECT_NE(server_->address().port(), 0);
  EXPECT_NE(server_->adminAddress().port(), 0);
  ASSERT_TRUE(online(makeSession("app", "alice", "d", "room-1", "127.0.0.1:1", 7)).isOk());
  EXPECT_EQ(server_->service().table().sessionCount(), 1u);

  auto health = get("/healthz");
  ASSERT_TRUE(health.isOk()) << health.status().toString();
  EXPECT_EQ(health->status, 200);
  auto metrics = get("/metrics");
  ASSERT_TRUE(metrics.isOk());
  EXPECT_NE(metrics->body.find("push_register_online_total"), std::string::npos);
  auto status = get("/status");
  ASSERT_TRUE(status.isOk());
  EXPECT_EQ(status->status, 200);
  EXPECT_EQ(status->header("Content-Type"), "application/json");
  EXPECT_TRUE(protobufParses(status->body)) << status->body;
  EXPECT_NE(status->body.find("\"rpc\":\"" + server_->address().toString() + "\""),
            std::string::npos)
      << status->body;
  auto rooms = roomsOf(status->body);
  ASSERT_TRUE(rooms.isOk()) << rooms.status().toString() << " in " << status->body;
  ASSERT_EQ(rooms->size(), 1u);
  EXPECT_EQ((*rooms)[0].id, "room-1");
  EXPECT_EQ((*rooms)[0].sessions, 1u);
}

TEST_F(RegisterServerTest, WithoutAnAdminAddressThereIsNoAdminPort) {
  start(options(false));
  EXPECT_EQ(server_->adminAddress().port(), 0);
  EXPECT_NE(server_->statusJson().find("\"admin\":null"), std::string::npos);
}

// Room ids and addresses come from RPC callers: a hostile or broken room must not be able to
// break the /status document (it used to be pasted into the JSON unescaped).
TEST_F(RegisterServerTest, StatusIsValidJsonWhateverTheRoomIdsHold) {
  start();
  // Quotes, a newline, a backslash, a control character and invalid UTF-8 (a stray 0xff, an
  // overlong '/'), next to valid multibyte text. Handed to the service directly: protobuf
  // would refuse the invalid UTF-8 on the wire, but the service must not rely on that.
  const std::string hostile_id = std::string("r\"1\n\\\x01 \xff\xC0\xAF caf\xC3\xA9");
  const std::string hostile_address = "\"},{\"x\":1";
  Session s = makeSession("app", "alice", "d", hostile_id, hostile_address, 1);
  OnlineRequest req;
  *req.add_sessions() = s;
  OnlineResponse resp;
  rpc::Controller controller;
  bool done = false;
  server_->service().Online(&controller, &req, &resp, rpc::newCallback([&] { done = true; }));
  ASSERT_TRUE(done);
  ASSERT_EQ(resp.accepted(), 1u);

  const std::string expected_id =
      std::string("r\"1\n\\\x01 \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD caf\xC3\xA9");
  for (const std::string& json : {server_->statusJson(), server_->service().statusJson()}) {
    EXPECT_TRUE(isValidUtf8(json)) << json;
    EXPECT_TRUE(protobufParses(json)) << json;
    auto rooms = roomsOf(json);
    ASSERT_TRUE(rooms.isOk()) << rooms.status().toString() << " in " << json;
    ASSERT_EQ(rooms->size(), 1u) << json;
    EXPECT_EQ((*rooms)[0].id, expected_id);
    EXPECT_EQ((*rooms)[0].address, hostile_address);
    EXPECT_EQ((*rooms)[0].sessions, 1u);
  }
  // The same through the admin port.
  auto status = get("/status");
  ASSERT_TRUE(status.isOk()) << status.status().toString();
  EXPECT_TRUE(protobufParses(status->body)) << status->body;
  auto rooms = roomsOf(status->body);
  ASSERT_TRUE(rooms.isOk()) << rooms.status().toString();
  ASSERT_EQ(rooms->size(), 1u);
  EXPECT_EQ((*rooms)[0].id, expected_id);
}

TEST_F(RegisterServerTest, StopClosesBothPortsThenRunsDone) {
  start();
  ASSERT_TRUE(online(makeSession("app", "alice", "d", "room-1", "127.0.0.1:1", 7)).isOk());
  const uint16_t rpc_port = server_->address().port();
  const uint16_t admin_port = server_->adminAddress().port();
  bool done = false;
  server_->stop([&] { done = true; });
  EXPECT_FALSE(done);  // posted, never inside stop()
  server_->stop([] { FAIL() << "second stop() must be ignored"; });
  EXPECT_NE(server_->statusJson().find("\"stopping\":true"), std::string::npos);
  ASSERT_TRUE(loop_.runUntil([&] { return done; }, 10s));
  stopped_ = true;
  // Both listeners are gone: their ports can be bound again. (Connecting instead would be
  // flaky: under ctest -j2 another test may take a freed ephemeral port meanwhile.)
  EXPECT_TRUE(portFree(rpc_port)) << rpc_port;
  EXPECT_TRUE(portFree(admin_port)) << admin_port;
  EXPECT_EQ(server_->service().table().sessionCount(), 1u);
}

TEST_F(RegisterServerTest, StopLetsAnswersOfCallsAlreadyReceivedGoOut) {
  start();
  // A call issued right before stop(): answered, or refused UNAVAILABLE (not executed);
  // never left hanging.
  Register_Stub stub(channel_.get());
  LookupRequest req;
  *req.add_users() = testing::userKey("app", "alice");
  LookupResponse resp;
  rpc::Controller controller;
  bool call_done = false;
  stub.Lookup(&controller, &req, &resp, rpc::newCallback([&] { call_done = true; }));
  bool stopped = false;
  server_->stop([&] { stopped = true; });
  ASSERT_TRUE(loop_.runUntil([&] { return stopped && call_done; }, 10s));
  stopped_ = true;
  if (!controller.status().isOk()) {
    EXPECT_EQ(controller.status().code(), Code::UNAVAILABLE) << controller.status().toString();
  }
}

TEST_F(RegisterServerTest, DestroyingWithoutStopClosesEverything) {
  start();
  ASSERT_TRUE(online(makeSession("app", "alice", "d", "room-1", "127.0.0.1:1", 7)).isOk());
  channel_.reset();
  server_.reset();  // TearDown's loop_.shutdown() checks that no handle is left open
}

TEST_F(RegisterServerTest, StartFailsCleanlyWhenTheAdminAddressIsTaken) {
  start();
  auto o = options();
  o.admin.address = server_->adminAddress().toString();  // taken by the first server
  auto second = RegisterServer::create(loop_, std::move(o));
  ASSERT_TRUE(second.isOk());
  Status st = (*second)->start();
  EXPECT_EQ(st.code(), Code::UNAVAILABLE) << st.toString();
  EXPECT_NE(st.message().find("admin"), std::string::npos) << st.toString();
  bool done = false;
  (*second)->stop([&] { done = true; });
  ASSERT_TRUE(loop_.runUntil([&] { return done; }, 5s));
}

TEST_F(RegisterServerTest, StartFailsOnAMalformedAddress) {
  auto o = options();
  o.rpc.address = "not an address";
  auto server = RegisterServer::create(loop_, std::move(o));
  ASSERT_TRUE(server.isOk());
  EXPECT_FALSE((*server)->start().isOk());
}

TEST(RegisterServerCreateTest, RefusesOptionsOutOfRange) {
  net::EventLoop loop;
  RegisterServer::Options o;
  o.service.max_sessions_per_user = 0;
  auto zero = RegisterServer::create(loop, o);
  EXPECT_EQ(zero.status().code(), Code::INVALID_ARGUMENT);
  o.service.max_sessions_per_user = 20'000;
  auto big = RegisterServer::create(loop, o);
  ASSERT_FALSE(big.isOk());
  EXPECT_NE(big.status().message().find("max_sessions_per_user"), std::string::npos);
  o.service.max_sessions_per_user = 64;
  o.service.room_timeout = 10ms;
  EXPECT_FALSE(RegisterServer::create(loop, o).isOk());
  EXPECT_TRUE(loop.shutdown().isOk());
}

}  // namespace
}  // namespace push::reg

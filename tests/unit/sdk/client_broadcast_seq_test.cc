// The SDK keeps the last broadcast sequence per app and reports it in Auth and Bind on every
// connection (sdk/PROTOCOL.md "Stored messages and replay"), and its dedup window absorbs a
// replayed message that also came live.
#include <gtest/gtest.h>

#include <ctime>

#include <push/push_client.h>

#include "common/auth/token.h"
#include "proto/client.pb.h"
#include "sdk/client.h"
#include "sdk/token_app.h"
#include "tests/unit/sdk/fake_room.h"
#include "tests/unit/sdk/sdk_test_util.h"

namespace push::sdk::testing {
namespace {

using BroadcastSeqTest = ClientTestBase;

std::string tokenFor(const std::string& app) {
  return auth::mintToken("secret-0123456789abcdef",
                         auth::TokenClaims{app, "alice", "phone-1", std::time(nullptr) + 3600});
}

TEST(TokenAppTest, ReadsTheAppOfAToken) {
  EXPECT_EQ(tokenApp(tokenFor("demo")), "demo");
  EXPECT_EQ(tokenApp(tokenFor("other.app-2")), "other.app-2");
  EXPECT_EQ(tokenApp("tok"), "");
  EXPECT_EQ(tokenApp("!!!.abc"), "");
  EXPECT_EQ(tokenApp("e30.abc"), "");  // {} : no app
  EXPECT_EQ(tokenApp(""), "");
}

TEST_F(BroadcastSeqTest, KeptAcrossAReconnectAndSentInAuth) {
  ClientOptions o = options();
  o.token = tokenFor("demo");
  startClient(o);
  ASSERT_TRUE(online());
  EXPECT_EQ(room_.conn(0).auths.at(0).last_broadcast_seq(), 0u);
  room_.pushBroadcast(room_.conn(0), 501, "demo", 7, "");
  room_.pushBroadcast(room_.conn(0), 503, "demo", 9, "sports");
  room_.pushBroadcast(room_.conn(0), 502, "demo", 8, "");  // a replay after a live one: lower
  room_.pushBroadcast(room_.conn(0), 601, "other", 40, "");
  ASSERT_TRUE(until([&] { return rec_.messages().size() == 4; }));
  EXPECT_EQ(client_->lastBroadcastSeq("demo"), 9u);
  EXPECT_EQ(client_->lastBroadcastSeq("other"), 40u);
  room_.close(room_.conn(0));
  ASSERT_TRUE(until([&] { return room_.authenticated() == 2; }));
  EXPECT_EQ(room_.conn(1).auths.at(0).last_broadcast_seq(), 9u);
}

TEST_F(BroadcastSeqTest, ANewClientStartsFromTheRoomsLatestAndAnAppMaySetIt) {
  room_.auth_broadcast_seq = 30;
  ClientOptions o = options();
  o.token = tokenFor("demo");
  startClient(o);
  ASSERT_TRUE(online());
  ASSERT_TRUE(until([&] { return client_->lastBroadcastSeq("demo") == 30; }));
  // A room's latest never moves a known sequence (the client may not have seen up to it).
  room_.auth_broadcast_seq = 50;
  room_.close(room_.conn(0));
  ASSERT_TRUE(until([&] { return room_.authenticated() == 2; }));
  EXPECT_EQ(room_.conn(1).auths.at(0).last_broadcast_seq(), 30u);
  EXPECT_EQ(client_->lastBroadcastSeq("demo"), 30u);
  // Restored by the app (e.g. after a restart): used on the next Auth.
  ASSERT_TRUE(client_->setLastBroadcastSeq("demo", 12).isOk());
  EXPECT_EQ(client_->lastBroadcastSeq("demo"), 12u);
  EXPECT_FALSE(client_->setLastBroadcastSeq("", 1).isOk());
  room_.close(room_.conn(1));
  ASSERT_TRUE(until([&] { return room_.authenticated() == 3; }));
  EXPECT_EQ(room_.conn(2).auths.at(0).last_broadcast_seq(), 12u);
}

TEST_F(BroadcastSeqTest, SetBeforeTheFirstConnectIsSentInTheFirstAuth) {
  ClientOptions o = options();
  o.token = tokenFor("demo");
  auto c = Client::create(o);
  ASSERT_TRUE(c.isOk());
  client_ = std::move(c).value();
  ASSERT_TRUE(client_->setLastBroadcastSeq("demo", 77).isOk());
  ASSERT_TRUE(client_->setCallbacks(rec_.callbacks()).isOk());
  ASSERT_TRUE(client_->connect().isOk());
  ASSERT_TRUE(online());
  EXPECT_EQ(room_.conn(0).auths.at(0).last_broadcast_seq(), 77u);
}

TEST_F(BroadcastSeqTest, BindCarriesTheBoundAppsSequence) {
  ClientOptions o = options();
  o.token = tokenFor("demo");
  startClient(o);
  ASSERT_TRUE(online());
  ASSERT_TRUE(client_->setLastBroadcastSeq("other", 5).isOk());
  ASSERT_TRUE(client_->bind(tokenFor("other")).isOk());
  ASSERT_TRUE(until([&] { return room_.conn(0).bind_frames.size() == 1; }));
  EXPECT_EQ(room_.conn(0).bind_frames[0].last_broadcast_seq(), 5u);
  client::Frame result;
  result.mutable_bind_result()->set_app("other");
  result.mutable_bind_result()->set_code(client::ERROR_NONE);
  result.mutable_bind_result()->set_broadcast_seq(99);  // known already: kept at 5
  room_.send(room_.conn(0), result);
  ASSERT_TRUE(until([&] { return rec_.binds().size() == 1; }));
  room_.pushBroadcast(room_.conn(0), 701, "other", 6, "");
  ASSERT_TRUE(until([&] { return client_->lastBroadcastSeq("other") == 6; }));
  room_.close(room_.conn(0));
  ASSERT_TRUE(
      until([&] { return room_.authenticated() == 2 && room_.conn(1).bind_frames.size() == 1; }));
  EXPECT_EQ(room_.conn(1).bind_frames[0].last_broadcast_seq(), 6u);
}

TEST_F(BroadcastSeqTest, AReplayedMessageThatAlsoCameLiveIsDeliveredOnceAndAckedAgain) {
  ClientOptions o = options();
  o.token = tokenFor("demo");
  startClient(o);
  ASSERT_TRUE(online());
  room_.push(room_.conn(0), 801, "demo", "live", 1);
  ASSERT_TRUE(until([&] { return room_.conn(0).acked.size() == 1; }));
  // The ack did not reach saver before the connection dropped: the next room replays it.
  room_.close(room_.conn(0));
  ASSERT_TRUE(until([&] { return room_.authenticated() == 2; }));
  room_.push(room_.conn(1), 801, "demo", "live", 1);
  ASSERT_TRUE(until([&] { return room_.conn(1).acked.size() == 1; }));
  EXPECT_EQ(rec_.messageCount(801), 1u);
  EXPECT_EQ(room_.conn(1).acked, std::vector<uint64_t>{801});
  // The id was in the dedup window the new Auth carried.
  const auto& recent = room_.conn(1).auths.at(0).recent_message_ids();
  EXPECT_NE(std::find(recent.begin(), recent.end(), 801u), recent.end());
}

TEST(BroadcastSeqCApiTest, GetAndSetThroughTheCApi) {
  push_client_config config;
  push_client_config_init(&config);
  config.servers = "127.0.0.1:1";
  const std::string token = tokenFor("demo");
  config.token = token.c_str();
  push_client* client = push_client_new(&config);
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(push_client_last_broadcast_seq(client, "demo"), 0u);
  EXPECT_EQ(push_client_set_last_broadcast_seq(client, "demo", 42), PUSH_OK);
  EXPECT_EQ(push_client_last_broadcast_seq(client, "demo"), 42u);
  EXPECT_EQ(push_client_last_broadcast_seq(client, "other"), 0u);
  EXPECT_EQ(push_client_set_last_broadcast_seq(client, "demo", 0), PUSH_OK);  // forgets it
  EXPECT_EQ(push_client_last_broadcast_seq(client, "demo"), 0u);
  EXPECT_EQ(push_client_set_last_broadcast_seq(client, "", 1), PUSH_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(push_client_set_last_broadcast_seq(client, nullptr, 1), PUSH_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(push_client_set_last_broadcast_seq(nullptr, "demo", 1), PUSH_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(push_client_last_broadcast_seq(nullptr, "demo"), 0u);
  EXPECT_EQ(push_client_last_broadcast_seq(client, nullptr), 0u);
  push_client_free(client);
}

}  // namespace
}  // namespace push::sdk::testing

// Client::subscribe / unsubscribe against the fake room: results, the tags re-subscribed
// after every reconnect, refusals forgotten, and a broadcast's sequence and tag in Message.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "proto/client.pb.h"
#include "sdk/client.h"
#include "tests/unit/sdk/fake_room.h"
#include "tests/unit/sdk/sdk_test_util.h"

namespace push::sdk::testing {
namespace {

using ClientTagsTest = ClientTestBase;
using Tags = std::vector<std::string>;

Tags tagsOf(const client::Frame& f) {
  const auto& t = f.has_subscribe() ? f.subscribe().tags() : f.unsubscribe().tags();
  return {t.begin(), t.end()};
}

TEST_F(ClientTagsTest, SubscribedTagsAreSentAgainAfterEveryReconnect) {
  startClient(options());
  ASSERT_TRUE(online());
  auto first = client_->subscribe("app", {"news", "sport"});
  ASSERT_TRUE(first.isOk());
  ASSERT_TRUE(until([&] { return rec_.subscribes().size() == 1; }));
  auto results = rec_.subscribes();
  EXPECT_EQ(results[0].seq, *first);
  EXPECT_EQ(results[0].app, "app");
  EXPECT_EQ(results[0].code, 0);
  EXPECT_EQ(results[0].tags, (Tags{"news", "sport"}));
  auto second = client_->unsubscribe("app", {"sport"});
  ASSERT_TRUE(second.isOk());
  ASSERT_TRUE(until([&] { return rec_.subscribes().size() == 2; }));
  EXPECT_EQ(rec_.subscribes()[1].seq, *second);
  EXPECT_EQ(rec_.subscribes()[1].tags, (Tags{"news"}));
  ASSERT_EQ(room_.conn(0).tag_requests.size(), 2u);
  EXPECT_TRUE(room_.conn(0).tag_requests[1].has_unsubscribe());

  // Twice: each new connection gets a Subscribe of exactly what is held, after its Auth.
  for (size_t n = 1; n <= 2; ++n) {
    room_.close(room_.conn(n - 1));
    ASSERT_TRUE(until(
        [&] { return room_.authenticated() == n + 1 && room_.conn(n).tag_requests.size() == 1; }));
    const client::Frame& again = room_.conn(n).tag_requests[0];
    ASSERT_TRUE(again.has_subscribe());
    EXPECT_EQ(again.subscribe().seq(), 0u);  // automatic
    EXPECT_EQ(again.subscribe().app(), "app");
    EXPECT_EQ(tagsOf(again), (Tags{"news"}));
    EXPECT_EQ(room_.conn(n).frames.at(0), client::Frame::kAuth);
    EXPECT_EQ(room_.conn(n).tags["app"], (std::set<std::string>{"news"}));
  }
  // A successful re-subscription is not reported: the next result the app sees is its own
  // (results come in request order, so the automatic one was handled before).
  auto third = client_->subscribe("app", {"late"});
  ASSERT_TRUE(third.isOk());
  ASSERT_TRUE(until([&] { return rec_.subscribes().size() >= 3; }));
  ASSERT_EQ(rec_.subscribes().size(), 3u);
  EXPECT_EQ(rec_.subscribes()[2].seq, *third);
  EXPECT_EQ(rec_.subscribes()[2].tags, (Tags{"late", "news"}));
}

TEST_F(ClientTagsTest, ARefusedTagIsReportedAndNotSubscribedAgain) {
  room_.refused_tags = {"vip"};
  startClient(options());
  ASSERT_TRUE(online());
  ASSERT_TRUE(client_->subscribe("app", {"news"}).isOk());
  auto refused = client_->subscribe("app", {"vip"});
  ASSERT_TRUE(refused.isOk());
  ASSERT_TRUE(until([&] { return rec_.subscribes().size() == 2; }));
  auto r = rec_.subscribes()[1];
  EXPECT_EQ(r.seq, *refused);
  EXPECT_EQ(r.code, static_cast<int>(client::ERROR_TOO_MANY_TAGS));
  EXPECT_EQ(r.tags, (Tags{"news"}));
  room_.close(room_.conn(0));
  ASSERT_TRUE(
      until([&] { return room_.accepted() >= 2 && room_.conn(1).tag_requests.size() == 1; }));
  EXPECT_EQ(tagsOf(room_.conn(1).tag_requests[0]), (Tags{"news"}));
}

TEST_F(ClientTagsTest, RequestsMadeOfflineAreSentAndAnsweredOnceOnline) {
  room_.on_auth = [](FakeRoom::Conn&, const client::Auth&) {};  // no AuthResult yet
  startClient(options());
  ASSERT_TRUE(until([&] { return room_.accepted() == 1 && !room_.conn(0).auths.empty(); }));
  auto seq = client_->subscribe("app", {"a"});
  ASSERT_TRUE(seq.isOk());
  room_.sendAuthResult(room_.conn(0));
  ASSERT_TRUE(until([&] { return rec_.subscribes().size() == 1; }));
  EXPECT_EQ(rec_.subscribes()[0].seq, *seq);
  EXPECT_EQ(rec_.subscribes()[0].tags, (Tags{"a"}));
  // The app's own request is sent once. When subscribe() reached the SDK thread before the
  // AuthResult (usually) the held tags were also re-subscribed (seq 0) first; when after, it
  // went out alone: the SDK thread's order of the two is not the test's to decide.
  const auto& sent = room_.conn(0).tag_requests;
  EXPECT_EQ(std::count_if(sent.begin(), sent.end(),
                          [&](const client::Frame& f) { return f.subscribe().seq() == *seq; }),
            1);
  EXPECT_GE(sent.size(), 1u);
  EXPECT_LE(sent.size(), 2u);
}

TEST_F(ClientTagsTest, UnbindForgetsTheAppsTags) {
  startClient(options());
  ASSERT_TRUE(online());
  ASSERT_TRUE(client_->subscribe("other", {"x"}).isOk());
  ASSERT_TRUE(client_->subscribe("app", {"y"}).isOk());
  ASSERT_TRUE(until([&] { return rec_.subscribes().size() == 2; }));
  ASSERT_TRUE(client_->unbind("other").isOk());
  ASSERT_TRUE(until([&] {
    return std::count(room_.conn(0).frames.begin(), room_.conn(0).frames.end(),
                      client::Frame::kUnbind) == 1;
  }));
  room_.close(room_.conn(0));
  ASSERT_TRUE(
      until([&] { return room_.accepted() == 2 && room_.conn(1).tag_requests.size() == 1; }));
  EXPECT_EQ(room_.conn(1).tag_requests[0].subscribe().app(), "app");
}

TEST_F(ClientTagsTest, BadRequestsAreRefusedAtOnce) {
  startClient(options());
  EXPECT_EQ(client_->subscribe("", {"a"}).status().code(), Code::INVALID_ARGUMENT);
  EXPECT_EQ(client_->subscribe("app", {}).status().code(), Code::INVALID_ARGUMENT);
  EXPECT_EQ(client_->subscribe("app", {"a b"}).status().code(), Code::INVALID_ARGUMENT);
  EXPECT_EQ(client_->unsubscribe("app", {std::string(65, 'x')}).status().code(),
            Code::INVALID_ARGUMENT);
  EXPECT_EQ(client_->subscribe("app", Tags(4097, "a")).status().code(), Code::INVALID_ARGUMENT);
  EXPECT_TRUE(validTag("a.b:c-d_E9"));
  EXPECT_FALSE(validTag(""));
}

TEST_F(ClientTagsTest, ABroadcastCarriesItsSequenceAndTag) {
  startClient(options());
  ASSERT_TRUE(online());
  room_.pushBroadcast(room_.conn(0), 77, "app", 12, "news");
  room_.push(room_.conn(0), 78, "app", "unicast", 0);
  ASSERT_TRUE(until([&] { return rec_.messages().size() == 2; }));
  auto m = rec_.messages();
  EXPECT_EQ(m[0].broadcast_seq, 12u);
  EXPECT_EQ(m[0].tag, "news");
  EXPECT_EQ(m[1].broadcast_seq, 0u);
  EXPECT_EQ(m[1].tag, "");
}

}  // namespace
}  // namespace push::sdk::testing

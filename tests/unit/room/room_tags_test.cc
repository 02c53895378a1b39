// Subscribe and Unsubscribe through real TCP clients (sdk/PROTOCOL.md "Tags"): answers,
// refusals that never close, and the room's TagIndex empty again after Unbind and close.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "services/room/tag_index.h"
#include "tests/unit/room/room_test_util.h"

namespace push::room::testing {
namespace {

using client::Frame;

class RoomTagsTest : public RoomFixture {
 protected:
  client::SubscribeResult request(FrameSocket& c, bool subscribe, const std::string& app,
                                  const std::vector<std::string>& tags, uint64_t seq = 7) {
    Frame f;
    auto* body = subscribe ? f.mutable_subscribe() : nullptr;
    client::Unsubscribe* unsub = subscribe ? nullptr : f.mutable_unsubscribe();
    if (body) {
      body->set_seq(seq);
      body->set_app(app);
      for (const auto& t : tags)
        body->add_tags(t);
    } else {
      unsub->set_seq(seq);
      unsub->set_app(app);
      for (const auto& t : tags)
        unsub->add_tags(t);
    }
    c.send(f);
    client::SubscribeResult r = expectFrame(c, Frame::kSubscribeResult).subscribe_result();
    EXPECT_EQ(r.seq(), seq);
    EXPECT_EQ(r.app(), app);
    return r;
  }
  static std::vector<std::string> tagsOf(const client::SubscribeResult& r) {
    return {r.tags().begin(), r.tags().end()};
  }
  const TagIndex& index() { return room_->tags(); }
  void bind(FrameSocket& c, const std::string& app) {
    Frame f;
    f.mutable_bind()->set_token(token(app, "alice", "phone"));
    c.send(f);
    ASSERT_EQ(expectFrame(c, Frame::kBindResult).bind_result().code(), client::ERROR_NONE);
  }
};

TEST_F(RoomTagsTest, SubscribeUnsubscribeUnbindAndCloseKeepTheIndexExact) {
  startRoom();
  FrameSocket& a = authed("app1", "alice", "phone");
  FrameSocket& b = authed("app1", "bob", "tablet");
  bind(a, "app2");

  client::SubscribeResult r = request(a, true, "app1", {"news", "sport", "news"}, 1);
  EXPECT_EQ(r.code(), client::ERROR_NONE);
  EXPECT_EQ(tagsOf(r), (std::vector<std::string>{"news", "sport"}));
  r = request(a, true, "app2", {"news"}, 2);
  EXPECT_EQ(r.code(), client::ERROR_NONE);
  EXPECT_EQ(tagsOf(r), (std::vector<std::string>{"news"}));
  r = request(b, true, "app1", {"news"}, 3);
  EXPECT_EQ(tagsOf(r), (std::vector<std::string>{"news"}));

  EXPECT_EQ(index().count(0, "news"), 2u);
  EXPECT_EQ(index().count(0, "sport"), 1u);
  EXPECT_EQ(index().count(1, "news"), 1u);
  EXPECT_EQ(index().subscriptions(), 4u);
  const std::string status = room_->statusJson();
  EXPECT_NE(status.find("\"tags\":3"), std::string::npos) << status;
  EXPECT_NE(status.find("\"tag_subscriptions\":4"), std::string::npos) << status;

  r = request(a, false, "app1", {"sport", "never-subscribed"}, 4);
  EXPECT_EQ(r.code(), client::ERROR_NONE);
  EXPECT_EQ(tagsOf(r), (std::vector<std::string>{"news"}));
  EXPECT_EQ(index().count(0, "sport"), 0u);

  // Unbind takes the app's tags away; the other app's stay.
  Frame unbind;
  unbind.mutable_unbind()->set_app("app2");
  a.send(unbind);
  EXPECT_TRUE(roundTrip(a).empty());
  EXPECT_EQ(index().count(1, "news"), 0u);
  EXPECT_EQ(index().count(0, "news"), 2u);

  // Closing takes every tag of the connection away.
  a.close();
  ASSERT_TRUE(loop_.runUntil([&] { return room_->connectionCount() == 1; }, 5s, kPoll));
  EXPECT_EQ(index().count(0, "news"), 1u);
  b.close();
  ASSERT_TRUE(loop_.runUntil([&] { return room_->connectionCount() == 0; }, 5s, kPoll));
  EXPECT_EQ(index().entries(), 0u);
  EXPECT_EQ(index().subscriptions(), 0u);
  EXPECT_EQ(index().connections(), 0u);
}

TEST_F(RoomTagsTest, BadRequestsAreRefusedInTheResultAndNeverClose) {
  RoomOptions o = defaultOptions();
  o.max_tags_per_connection = 2;
  startRoom(o);
  FrameSocket& c = authed("app1", "alice", "phone");
  ASSERT_EQ(request(c, true, "app1", {"keep"}).code(), client::ERROR_NONE);

  struct Case {
    bool subscribe;
    std::string app;
    std::vector<std::string> tags;
    client::ErrorCode code;
  };
  const std::vector<Case> cases = {
      {true, "app2", {"x"}, client::ERROR_NOT_BOUND},  // served, not bound here
      {true, "nope", {"x"}, client::ERROR_NOT_BOUND},  // not served at all
      {true, "", {"x"}, client::ERROR_NOT_BOUND},      // empty app
      {false, "app3", {"x"}, client::ERROR_NOT_BOUND},
      {true, "app1", {}, client::ERROR_BAD_TAG},  // empty list
      {false, "app1", {}, client::ERROR_BAD_TAG},
      {true, "app1", {""}, client::ERROR_BAD_TAG},
      {true, "app1", {"ok", "has space"}, client::ERROR_BAD_TAG},
      {true, "app1", {std::string(65, 't')}, client::ERROR_BAD_TAG},
      {true, "app1", {std::string("a\0b", 3)}, client::ERROR_BAD_TAG},
      {false, "app1", {"keep", "bad/"}, client::ERROR_BAD_TAG},
      {true, "app1", {"a", "b"}, client::ERROR_TOO_MANY_TAGS},  // 3 > 2
  };
  for (const Case& k : cases) {
    client::SubscribeResult r = request(c, k.subscribe, k.app, k.tags);
    EXPECT_EQ(r.code(), k.code) << k.app << " " << k.tags.size();
    EXPECT_FALSE(r.message().empty());
    if (k.app == "app1") {
      // Nothing changed: still exactly the tag it had.
      EXPECT_EQ(tagsOf(r), (std::vector<std::string>{"keep"}));
    } else {
      EXPECT_TRUE(r.tags().empty());
    }
  }
  EXPECT_EQ(index().subscriptions(), 1u);
  EXPECT_EQ(index().count(0, "keep"), 1u);
  EXPECT_EQ(room_->connectionCount(), 1u);
  EXPECT_FALSE(c.closed());
  // A frame from the room's side is still a bad frame (and closes).
  Frame wrong;
  wrong.mutable_subscribe_result()->set_app("app1");
  c.send(wrong);
  EXPECT_EQ(expectFrame(c, Frame::kError).error().code(), client::ERROR_BAD_FRAME);
  EXPECT_TRUE(waitClosed(c));
  EXPECT_EQ(index().subscriptions(), 0u);
}

TEST_F(RoomTagsTest, SubscribeBeforeAuthIsRefusedAndAKickedConnectionLosesItsTags) {
  startRoom();
  FrameSocket& early = connect();
  Frame sub;
  sub.mutable_subscribe()->set_app("app1");
  sub.mutable_subscribe()->add_tags("x");
  early.send(sub);
  EXPECT_EQ(expectFrame(early, Frame::kError).error().code(), client::ERROR_AUTH_REQUIRED);
  EXPECT_TRUE(waitClosed(early));

  FrameSocket& c = authed("app1", "alice", "phone");
  ASSERT_EQ(request(c, true, "app1", {"x"}).code(), client::ERROR_NONE);
  ASSERT_EQ(room_->rpcService().kick("app1", "alice", "", "bye"), 1u);
  expectFrame(c, Frame::kKick);
  // The index drops it at once, before the connection has gone.
  EXPECT_EQ(index().count(0, "x"), 0u);
  EXPECT_TRUE(waitClosed(c));
}

}  // namespace
}  // namespace push::room::testing

// SaverClient against the in-process FakeSaver (tests/support/fake_saver.h) on loopback: the
// Store calls of one loop turn are coalesced, a message split over several requests completes
// once, failures reach every caller, and StoreBroadcast returns saver's sequence.
#include "services/center/saver_client.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "common/net/event_loop.h"
#include "proto/broadcast.pb.h"
#include "proto/config.pb.h"
#include "proto/session.pb.h"
#include "services/center/center_options.h"
#include "tests/support/fake_saver.h"

namespace push::center {
namespace {

using namespace std::chrono_literals;
using ::push::testing::FakeSaver;

Message message(uint64_t id, const std::string& app = "demo") {
  Message m;
  m.set_id(id);
  m.set_app(app);
  m.set_payload("hello");
  m.set_qos(1);
  m.set_created_ms(1000);
  m.set_ttl_s(60);
  return m;
}

std::vector<std::string> users(size_t n, const std::string& prefix = "u") {
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i)
    out.push_back(prefix + std::to_string(i));
  return out;
}

class SaverClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto fake = FakeSaver::start(loop_);
    ASSERT_TRUE(fake.isOk()) << fake.status().toString();
    saver_ = std::move(fake).value();
  }
  void TearDown() override {
    client_.reset();
    saver_.reset();
    Status st = loop_.shutdown();
    EXPECT_TRUE(st.isOk()) << st.toString();
  }
  void connect(SaverClient::Options o = {}) {
    o.addresses = {saver_->address()};
    if (o.timeout == 2'000ms) o.timeout = 1'000ms;
    auto c = SaverClient::create(loop_, o);
    ASSERT_TRUE(c.isOk()) << c.status().toString();
    client_ = std::move(c).value();
  }

  net::EventLoop loop_;
  std::unique_ptr<FakeSaver> saver_;
  std::unique_ptr<SaverClient> client_;
};

TEST_F(SaverClientTest, StoresOfOneLoopTurnGoOutAsOneCall) {
  connect();
  std::vector<std::optional<Status>> results(3);
  bool inside = true;
  for (uint64_t i = 0; i < 3; ++i) {
    client_->store(message(100 + i), users(2, "m" + std::to_string(i) + "-"),
                   [&, i](const Status& st) {
                     EXPECT_FALSE(inside) << "done ran inside store()";
                     results[i] = st;
                   });
  }
  inside = false;
  ASSERT_TRUE(loop_.runUntil([&] { return results[0] && results[1] && results[2]; }, 5s));
  for (const auto& r : results)
    EXPECT_TRUE(r->isOk()) << r->toString();
  EXPECT_EQ(saver_->storeCalls(), 1u);
  ASSERT_EQ(saver_->stores().size(), 1u);
  EXPECT_EQ(saver_->stores()[0].items_size(), 3);
  // The message goes as given: id, app, payload, qos, created_ms, ttl_s.
  const Message& stored = saver_->stores()[0].items(1).message();
  EXPECT_EQ(stored.id(), 101u);
  EXPECT_EQ(stored.ttl_s(), 60u);
  EXPECT_EQ(stored.created_ms(), 1000);
  EXPECT_EQ(saver_->inbox("demo", "m1-0"), std::vector<uint64_t>{101});
  EXPECT_EQ(saver_->inbox("demo", "m2-1"), std::vector<uint64_t>{102});
}

TEST_F(SaverClientTest, AMessageOverMaxUsersPerCallIsSplitAndCompletesOnce) {
  SaverClient::Options o;
  o.max_users_per_call = 3;
  connect(o);
  int calls = 0;
  std::optional<Status> result;
  client_->store(message(7), users(8), [&](const Status& st) {
    ++calls;
    result = st;
  });
  ASSERT_TRUE(loop_.runUntil([&] { return result.has_value(); }, 5s));
  EXPECT_TRUE(result->isOk()) << result->toString();
  loop_.runUntil([] { return false; }, 50ms);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(saver_->storeCalls(), 3u);  // 3 + 3 + 2
  for (const auto& request : saver_->stores()) {
    size_t n = 0;
    for (const auto& item : request.items())
      n += static_cast<size_t>(item.users_size());
    EXPECT_LE(n, 3u);
  }
  for (const auto& user : users(8))
    EXPECT_EQ(saver_->inbox("demo", user), std::vector<uint64_t>{7}) << user;
}

TEST_F(SaverClientTest, ABigRequestIsCutByTheChannelsRequestLimit) {
  SaverClient::Options o;
  o.channel.max_request_bytes = 4096;
  connect(o);
  std::optional<Status> result;
  client_->store(message(9), users(400, std::string(40, 'x')),
                 [&](const Status& st) { result = st; });
  ASSERT_TRUE(loop_.runUntil([&] { return result.has_value(); }, 5s));
  EXPECT_TRUE(result->isOk()) << result->toString();
  EXPECT_GT(saver_->storeCalls(), 4u);  // 400 x ~46 bytes over 4 KiB requests
  for (const auto& request : saver_->stores())
    EXPECT_LE(request.ByteSizeLong(), 4096u);
  EXPECT_EQ(saver_->inbox("demo", std::string(40, 'x') + "399"), std::vector<uint64_t>{9});
}

TEST_F(SaverClientTest, FailuresReachEveryCallerOfTheCall) {
  connect();
  saver_->failWith(Status(Code::UNAVAILABLE, "redis is down"));
  std::optional<Status> a, b;
  client_->store(message(1), users(1), [&](const Status& st) { a = st; });
  client_->store(message(2), users(2), [&](const Status& st) { b = st; });
  ASSERT_TRUE(loop_.runUntil([&] { return a && b; }, 5s));
  EXPECT_EQ(a->code(), Code::UNAVAILABLE) << a->toString();
  EXPECT_EQ(b->code(), Code::UNAVAILABLE) << b->toString();
  EXPECT_NE(a->toString().find("redis is down"), std::string::npos) << a->toString();

  // A held call times out (the client's deadline).
  SaverClient::Options o;
  o.timeout = 100ms;
  client_.reset();
  connect(o);
  saver_->failWith(Status::ok());
  saver_->hold(true);
  std::optional<Status> c;
  client_->store(message(3), users(1), [&](const Status& st) { c = st; });
  ASSERT_TRUE(loop_.runUntil([&] { return c.has_value(); }, 5s));
  EXPECT_EQ(c->code(), Code::TIMEOUT) << c->toString();
  saver_->hold(false);

  // No saver listening: UNAVAILABLE, quickly.
  saver_->stop();
  std::optional<Status> d;
  client_->store(message(4), users(1), [&](const Status& st) { d = st; });
  ASSERT_TRUE(loop_.runUntil([&] { return d.has_value(); }, 5s));
  EXPECT_FALSE(d->isOk());
}

TEST_F(SaverClientTest, NoUsersIsOkAndPosted) {
  connect();
  bool inside = true;
  std::optional<Status> result;
  client_->store(message(5), {}, [&](const Status& st) {
    EXPECT_FALSE(inside);
    result = st;
  });
  inside = false;
  ASSERT_TRUE(loop_.runUntil([&] { return result.has_value(); }, 5s));
  EXPECT_TRUE(result->isOk());
  EXPECT_EQ(saver_->storeCalls(), 0u);
}

TEST_F(SaverClientTest, StoreBroadcastReturnsSaversSequence) {
  connect();
  auto storeBroadcast = [&](uint64_t id, const std::string& app) {
    broadcast::BroadcastMessage b;
    b.set_message_id(id);
    b.set_app(app);
    b.set_qos(1);
    std::optional<Result<uint64_t>> seq;
    bool inside = true;
    client_->storeBroadcast(b, [&](Result<uint64_t> r) {
      EXPECT_FALSE(inside);
      seq = std::move(r);
    });
    inside = false;
    EXPECT_TRUE(loop_.runUntil([&] { return seq.has_value(); }, 5s));
    return std::move(*seq);
  };
  auto s1 = storeBroadcast(11, "demo");
  ASSERT_TRUE(s1.isOk()) << s1.status().toString();
  EXPECT_EQ(*s1, 1u);
  EXPECT_EQ(*storeBroadcast(12, "demo"), 2u);
  EXPECT_EQ(*storeBroadcast(13, "other"), 1u);
  EXPECT_EQ(*storeBroadcast(11, "demo"), 1u);  // a retry gets its first sequence
  saver_->failWith(Status(Code::UNAVAILABLE, "redis is down"));
  auto failed = storeBroadcast(14, "demo");
  EXPECT_EQ(failed.status().code(), Code::UNAVAILABLE);
}

TEST(SaverClientOptionsTest, FromConfig) {
  config::SaverClientConfig c;
  auto o = SaverClient::Options::fromConfig(c);
  ASSERT_TRUE(o.isOk());
  EXPECT_FALSE(o->enabled());
  EXPECT_EQ(o->timeout, 2'000ms);
  c.add_addresses("127.0.0.1:7300");
  c.add_addresses("[::1]:7301");
  c.set_timeout_ms(250);
  c.mutable_channel()->set_connections_per_endpoint(3);
  o = SaverClient::Options::fromConfig(c);
  ASSERT_TRUE(o.isOk()) << o.status().toString();
  EXPECT_TRUE(o->enabled());
  EXPECT_EQ(o->addresses.size(), 2u);
  EXPECT_EQ(o->timeout, 250ms);
  EXPECT_EQ(o->channel.connections_per_endpoint, 3u);
  c.add_addresses("saver.example:7300");
  o = SaverClient::Options::fromConfig(c);
  ASSERT_FALSE(o.isOk());
  EXPECT_NE(o.status().message().find("saver.addresses"), std::string::npos)
      << o.status().message();
}

// CenterConfig.saver through CenterOptions: ranges name the field, the cluster key reaches the
// saver channel, and without the section nothing is stored.
TEST(SaverClientOptionsTest, CenterConfigSaverSection) {
  auto parse = [](const std::string& saver) -> Result<CenterOptions> {
    config::CenterConfig cfg;
    auto file = ConfigFile::parse(std::string(R"(
        register { shards { address: "127.0.0.1:7001" } }
        apps { name: "demo" api_keys: "key-0123456789abcdef" }
        cluster_key: "cluster-key-0123456789"
        )") + saver,
                                  "center.conf", &cfg);
    if (!file.isOk()) return file.status();
    return CenterOptions::fromConfig(cfg, file->get());
  };
  auto none = parse("");
  ASSERT_TRUE(none.isOk()) << none.status().toString();
  EXPECT_FALSE(none->saverEnabled());
  auto o = parse(R"(saver { addresses: "127.0.0.1:7300" addresses: "127.0.0.1:7301"
                            timeout_ms: 300 channel { timeout_ms: 50 } })");
  ASSERT_TRUE(o.isOk()) << o.status().toString();
  EXPECT_TRUE(o->saverEnabled());
  EXPECT_EQ(o->saver.addresses, (std::vector<std::string>{"127.0.0.1:7300", "127.0.0.1:7301"}));
  EXPECT_EQ(o->saver.timeout, 300ms);
  EXPECT_EQ(o->saver.channel.timeout, 50ms);
  EXPECT_EQ(o->saver.channel.cluster_key, "cluster-key-0123456789");
  for (const char* bad : {R"(saver { timeout_ms: 5 })", R"(saver { timeout_ms: 60001 })",
                          R"(saver { replay_page: 1001 })"}) {
    auto r = parse(bad);
    ASSERT_FALSE(r.isOk()) << bad;
    EXPECT_NE(r.status().message().find("saver."), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().toString().find("center.conf:"), std::string::npos)
        << r.status().toString();
  }
  auto bad_address = parse(R"(saver { addresses: "nowhere" })");
  ASSERT_FALSE(bad_address.isOk());
  EXPECT_NE(bad_address.status().message().find("saver.addresses"), std::string::npos)
      << bad_address.status().message();
}

}  // namespace
}  // namespace push::center

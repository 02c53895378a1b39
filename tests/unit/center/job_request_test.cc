#include "services/center/job_request.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "proto/center_task.pb.h"

namespace push::center {
namespace {

constexpr char kHeader[] = R"({"app":"demo","payload":"hi","qos":0,"ttl":60})";

std::string upload(const std::string& ids, const std::string& header = kHeader) {
  return header + "\n" + ids;
}

// The 400 message of `body`, or "" when it parses.
std::string errorOf(const std::string& body, JobLimits limits = {}) {
  auto r = parseJobUpload(body, limits);
  if (r.isOk()) return "";
  EXPECT_EQ(r.status().code(), Code::INVALID_ARGUMENT) << body;
  return r.status().message();
}

::testing::AssertionResult mentions(const std::string& message, const std::string& text) {
  if (message.find(text) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << message << "' does not mention '" << text << "'";
}

TEST(JobRequestTest, ParsesTheHeaderLineAndOneIdPerLine) {
  auto r = parseJobUpload(upload("alice\nbob\r\ncarol\n"), {});
  ASSERT_TRUE(r.isOk()) << r.status();
  EXPECT_EQ(r->app, "demo");
  EXPECT_EQ(r->payload, "hi");
  EXPECT_EQ(r->qos, 0u);
  EXPECT_EQ(r->ttl_s, 60u);
  EXPECT_EQ(r->users, (std::vector<std::string>{"alice", "bob", "carol"}));
  // No final line end, CRLF header, base64 payload, defaults.
  auto b = parseJobUpload("{\"app\":\"demo\",\"payloadBase64\":\"aGk=\"}\r\nx", {});
  ASSERT_TRUE(b.isOk()) << b.status();
  EXPECT_EQ(b->payload, "hi");
  EXPECT_EQ(b->qos, 1u);
  EXPECT_EQ(b->users, (std::vector<std::string>{"x"}));
}

TEST(JobRequestTest, RepeatedIdsAreDroppedAndIdsAreTakenAsIs) {
  auto r = parseJobUpload(upload("a\nb\na\n b\nb\n"), {});
  ASSERT_TRUE(r.isOk()) << r.status();
  EXPECT_EQ(r->users, (std::vector<std::string>{"a", "b", " b"}));
}

TEST(JobRequestTest, HostileBodiesAreRefusedNamingTheLine) {
  EXPECT_TRUE(mentions(errorOf(kHeader), "line 1"));          // no newline at all
  EXPECT_TRUE(mentions(errorOf(upload("")), "no user ids"));  // header only
  EXPECT_TRUE(mentions(errorOf(upload("a\n\nb\n")), "line 3 is empty"));
  EXPECT_TRUE(mentions(errorOf(upload("a\n\n")), "line 3 is empty"));  // two line ends at the end
  EXPECT_TRUE(mentions(errorOf(upload("\n")), "line 2 is empty"));
  EXPECT_TRUE(mentions(errorOf(upload("a\n" + std::string(129, 'x') + "\n")), "line 3: bad user"));
  EXPECT_TRUE(mentions(errorOf(upload("a\tb\n")), "line 2: bad user"));
  EXPECT_TRUE(mentions(errorOf(upload("\xff\xfe\n")), "line 2: bad user"));
  EXPECT_TRUE(
      mentions(errorOf(upload("a\n", R"({"app":"demo","users":["x"]})")), "unknown field 'users'"));
  EXPECT_TRUE(mentions(errorOf(upload("a\n", R"({"app":"demo","qos":2})")), "'qos'"));
  EXPECT_TRUE(mentions(errorOf(upload("a\n", R"({"app":"demo","app":"demo"})")), "twice"));
  EXPECT_TRUE(mentions(errorOf(upload("a\n", R"({"payload":"x"})")), "'app' is required"));
  EXPECT_TRUE(mentions(errorOf(upload("a\n", R"({"app":"demo","ttl":2592001})")), "'ttl'"));
  EXPECT_TRUE(mentions(errorOf(upload("a\n", "not json")), "line 1"));
  EXPECT_TRUE(
      mentions(errorOf(upload("a\n", R"({"app":"demo","payload":"x","payloadBase64":"eA=="})")),
               "not both"));
  JobLimits small;
  small.max_payload_bytes = 3;
  EXPECT_TRUE(mentions(errorOf(upload("a\n", R"({"app":"demo","payload":"four"})"), small),
                       "payload over 3"));
}

TEST(JobRequestTest, AtMostMaxTargetsDistinctIds) {
  JobLimits limits;
  limits.max_targets = 3;
  EXPECT_EQ(errorOf(upload("a\nb\nc\na\n"), limits), "");  // a repeat does not count
  EXPECT_TRUE(mentions(errorOf(upload("a\nb\nc\nd\n"), limits), "more than 3 users"));
}

TEST(JobRequestTest, JobFromPushTakesUsersOnly) {
  ParsedPush push;
  push.app = "demo";
  push.payload = "p";
  push.qos = 1;
  push.ttl_s = 5;
  push.targets = {{"a", ""}, {"b", ""}};
  auto spec = jobFromPush(ParsedPush(push));
  ASSERT_TRUE(spec.isOk());
  EXPECT_EQ(spec->users, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(spec->ttl_s, 5u);
  push.targets.push_back({"c", "phone"});
  auto refused = jobFromPush(std::move(push));
  ASSERT_FALSE(refused.isOk());
  EXPECT_TRUE(mentions(refused.status().message(), "'users' only"));
}

TEST(JobRequestTest, SplitJobCutsUsersIntoNumberedChunksOfOneMessage) {
  JobSpec spec;
  spec.app = "demo";
  spec.payload = "hello";
  spec.qos = 1;
  spec.ttl_s = 60;
  for (int i = 0; i < 2501; ++i)
    spec.users.push_back("u" + std::to_string(i));
  auto chunks = splitJob(spec, "42", 42, 1000, 1000);
  ASSERT_EQ(chunks.size(), 3u);
  std::set<std::string> all;
  for (size_t c = 0; c < chunks.size(); ++c) {
    center_task::CenterTask t;
    ASSERT_TRUE(t.ParseFromString(chunks[c]));
    EXPECT_EQ(t.job_id(), "42");
    EXPECT_EQ(t.chunk(), c);
    EXPECT_EQ(t.chunks(), 3u);
    EXPECT_EQ(t.message_id(), 42u);  // one message id for every chunk (SDK dedup)
    EXPECT_EQ(t.app(), "demo");
    EXPECT_EQ(t.payload(), "hello");
    EXPECT_EQ(t.qos(), 1u);
    EXPECT_EQ(t.created_ms(), 1000u);
    EXPECT_EQ(t.expires_ms(), 61'000u);
    EXPECT_EQ(t.users_size(), c < 2 ? 1000 : 501);
    EXPECT_EQ(t.users(0), "u" + std::to_string(c * 1000));
    for (const auto& u : t.users())
      all.insert(u);
  }
  EXPECT_EQ(all.size(), 2501u);
  // Exactly divisible, and a chunk size of 1.
  spec.users.resize(2000);
  EXPECT_EQ(splitJob(spec, "1", 1, 0, 1000).size(), 2u);
  spec.users.resize(3);
  spec.ttl_s = 0;
  auto ones = splitJob(spec, "1", 1, 5, 1);
  ASSERT_EQ(ones.size(), 3u);
  center_task::CenterTask t;
  ASSERT_TRUE(t.ParseFromString(ones[2]));
  EXPECT_EQ(t.expires_ms(), 0u);  // no ttl: never expires
}

TEST(JobRequestTest, MpubBatchesRespectBytesAndCount) {
  std::vector<std::string> bodies;
  for (int i = 0; i < 10; ++i)
    bodies.push_back(std::string(100, 'x'));
  auto by_count = mpubBatches(bodies, 1 << 20, 4);
  ASSERT_EQ(by_count.size(), 3u);
  EXPECT_EQ(by_count[0].size(), 4u);
  EXPECT_EQ(by_count[2].size(), 2u);
  auto by_bytes = mpubBatches(bodies, 250, 100);
  ASSERT_EQ(by_bytes.size(), 5u);
  for (const auto& b : by_bytes)
    EXPECT_EQ(b.size(), 2u);
  // A body over the byte limit gets a batch of its own.
  auto big = mpubBatches({"a", std::string(500, 'b'), "c"}, 100, 100);
  ASSERT_EQ(big.size(), 3u);
  EXPECT_EQ(big[1][0].size(), 500u);
  EXPECT_TRUE(mpubBatches({}, 100, 100).empty());
}

}  // namespace
}  // namespace push::center

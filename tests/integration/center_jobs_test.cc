// Large multicast jobs end to end (issue 15 items 3 and 6): push-register, push-room and
// push-center from a LocalCluster, a real push-queued (topic center.tasks) and a real
// redis-server (job progress), all on loopback. A 100k-user job with a few hundred of them
// online completes with the right counts, each online client getting the message once; the
// same with two centers while the one that accepted the job is killed with SIGKILL.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "proto/client.pb.h"
#include "tests/support/frame_client.h"
#include "tests/support/http_client.h"
#include "tests/support/local_cluster.h"
#include "tests/support/nsq_daemon.h"
#include "tests/support/redis_server.h"
#include "tests/support/subprocess.h"

namespace push::testing {
namespace {

using namespace std::chrono_literals;

constexpr int kTargets = 100'000;
constexpr int kOnline = 300;

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return pred();
}

// The value of "key" in a flat JSON object: a number as its digits, a string without quotes.
std::string jsonField(const std::string& json, const std::string& key) {
  const std::string needle = "\"" + key + "\":";
  size_t p = json.find(needle);
  if (p == std::string::npos) return "";
  p += needle.size();
  if (p < json.size() && json[p] == '"') {
    const size_t end = json.find('"', p + 1);
    return json.substr(p + 1, end - p - 1);
  }
  size_t end = p;
  while (end < json.size() && json[end] != ',' && json[end] != '}')
    ++end;
  return json.substr(p, end - p);
}

// Every 333rd user of the job is online (one connection each); the others have no session.
std::string userId(int i) {
  return (i % 333 == 0 && i / 333 < kOnline) ? "on" + std::to_string(i / 333)
                                             : "offline-user-" + std::to_string(i);
}

class CenterJobsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (RedisServer::binary().empty()) GTEST_SKIP() << "redis-server not found";
    if (NsqDaemon::binaryFor("queued").empty()) GTEST_SKIP() << "push-queued not built";
    auto redis = RedisServer::start();
    ASSERT_TRUE(redis.isOk()) << redis.status();
    redis_ = std::move(redis).value();
    auto queued = NsqDaemon::start("queued");
    ASSERT_TRUE(queued.isOk()) << queued.status();
    queued_ = std::move(queued).value();
  }

  void startCluster(const std::string& extra = "") {
    LocalCluster::Options o;
    o.apps.push_back(
        LocalCluster::App{"other", "other-secret-0123456789", "other-key-0123456789abcdef", 10000});
    o.center_config =
        "redis: \"" + redis_->address() + "\"\nqueued: \"" + queued_->tcpAddress() + "\"\n" + extra;
    auto cluster = LocalCluster::start(o);
    ASSERT_TRUE(cluster.isOk()) << cluster.status();
    cluster_ = std::move(cluster).value();
  }

  // kOnline clients, user "on<i>", one connection each.
  void connectOnline() {
    for (int i = 0; i < kOnline; ++i) {
      auto c = FrameClient::connect(cluster_->roomTcp());
      ASSERT_TRUE(c.isOk()) << c.status();
      auto auth =
          (*c)->auth(cluster_->token("on" + std::to_string(i), "phone"), client::NETWORK_CELLULAR);
      ASSERT_TRUE(auth.isOk()) << auth.status();
      clients_.push_back(std::move(c).value());
    }
    // Rooms report sessions to register in batches: wait until every one is known.
    for (int i = 0; i < kOnline; ++i) {
      const std::string path = "/v1/apps/demo/users/on" + std::to_string(i);
      ASSERT_TRUE(eventually(
          [&] {
            auto r = httpRequest(cluster_->centerAddress(), "GET", path, "",
                                 {{"Authorization", "Bearer " + cluster_->apiKey()}});
            return r.isOk() && r->status == 200 &&
                   r->body.find("\"online\":true") != std::string::npos;
          },
          10s))
          << path;
    }
  }

  std::vector<std::pair<std::string, std::string>> auth(int app = 0) const {
    return {{"Authorization", "Bearer " + cluster_->apiKey(app)}, {"Content-Type", "text/plain"}};
  }

  static std::string jobBody(int targets, int qos = 0) {
    std::string body =
        R"({"app":"demo","payload":"big news","qos":)" + std::to_string(qos) + ",\"ttl\":600}\n";
    body.reserve(static_cast<size_t>(targets) * 10);
    for (int i = 0; i < targets; ++i) {
      body += userId(i);
      body += '\n';
    }
    return body;
  }

  // GET /v1/jobs/<id> on `center` until the job is done (or `timeout`); the last answer.
  HttpReply waitDone(const std::string& center, const std::string& id,
                     std::chrono::milliseconds timeout) {
    HttpReply last;
    eventually(
        [&] {
          auto r = httpRequest(center, "GET", "/v1/jobs/" + id, "", auth(), 2s);
          if (!r.isOk()) return false;
          last = *r;
          return r->status == 200 && jsonField(r->body, "state") == "done";
        },
        timeout);
    return last;
  }

  // Push frames of message `id` each online client received. Called once the job is done:
  // every delivery was answered by its room, so the frames are on their way; a duplicate
  // would arrive within the 300 ms window (as in queue_client_test) before the count.
  std::vector<int> pushesPerClient(uint64_t id) {
    std::this_thread::sleep_for(300ms);
    std::vector<int> counts;
    for (auto& c : clients_) {
      int n = 0;
      auto first = c->readUntil(client::Frame::kPush, 10s);
      if (first.isOk() && first->push().message_id() == id) ++n;
      while (true) {
        auto more = c->readUntil(client::Frame::kPush, 10ms);
        if (!more.isOk()) break;
        if (more->push().message_id() == id) ++n;
      }
      counts.push_back(n);
    }
    return counts;
  }

  void expectCounts(const HttpReply& done, const std::string& id) {
    EXPECT_EQ(done.status, 200) << done.body;
    EXPECT_EQ(jsonField(done.body, "jobId"), id);
    EXPECT_EQ(jsonField(done.body, "app"), "demo");
    EXPECT_EQ(jsonField(done.body, "state"), "done") << done.body;
    EXPECT_EQ(jsonField(done.body, "chunks"), "100") << done.body;
    EXPECT_EQ(jsonField(done.body, "chunksDone"), "100") << done.body;
    EXPECT_EQ(jsonField(done.body, "targets"), std::to_string(kTargets));
    EXPECT_EQ(jsonField(done.body, "delivered"), std::to_string(kOnline)) << done.body;
    EXPECT_EQ(jsonField(done.body, "connections"), std::to_string(kOnline)) << done.body;
    EXPECT_EQ(jsonField(done.body, "offline"), std::to_string(kTargets - kOnline)) << done.body;
    EXPECT_EQ(jsonField(done.body, "failed"), "0") << done.body;
  }

  std::unique_ptr<RedisServer> redis_;
  std::unique_ptr<NsqDaemon> queued_;
  std::unique_ptr<LocalCluster> cluster_;
  std::vector<std::unique_ptr<FrameClient>> clients_;
};

TEST_F(CenterJobsTest, HundredThousandUserJobCompletesWithTheRightCounts) {
  startCluster();
  connectOnline();
  const std::string body = jobBody(kTargets);
  ASSERT_GT(body.size(), 1u << 20) << "the upload should be over the normal 1 MiB body limit";
  auto accepted = httpRequest(cluster_->centerAddress(), "POST", "/v1/push/job", body, auth(), 30s);
  ASSERT_TRUE(accepted.isOk()) << accepted.status();
  ASSERT_EQ(accepted->status, 202) << accepted->body;
  const std::string id = jsonField(accepted->body, "jobId");
  ASSERT_FALSE(id.empty()) << accepted->body;
  EXPECT_EQ(jsonField(accepted->body, "messageId"), id);
  EXPECT_EQ(jsonField(accepted->body, "chunks"), "100");
  EXPECT_EQ(jsonField(accepted->body, "targets"), std::to_string(kTargets));

  expectCounts(waitDone(cluster_->centerAddress(), id, 60s), id);
  // qos 0, one center, nothing redelivered: every online client got exactly one Push.
  const auto counts = pushesPerClient(std::stoull(id));
  for (int i = 0; i < kOnline; ++i)
    EXPECT_EQ(counts[static_cast<size_t>(i)], 1) << "client on" << i;

  // Another app's key does not see the job; an unknown id is 404 too.
  auto other = httpRequest(cluster_->centerAddress(), "GET", "/v1/jobs/" + id, "", auth(1));
  ASSERT_TRUE(other.isOk());
  EXPECT_EQ(other->status, 404);
  auto unknown = httpRequest(cluster_->centerAddress(), "GET", "/v1/jobs/123", "", auth());
  ASSERT_TRUE(unknown.isOk());
  EXPECT_EQ(unknown->status, 404);
}

TEST_F(CenterJobsTest, JobSurvivesTheAcceptingCenterKilled) {
  startCluster();
  connectOnline();
  // A second center on the same register, rooms, queued and redis (node id 1: its own ids).
  auto second = Subprocess::start(
      {binPath("push-center"), "--config", cluster_->dir() + "/center.conf", "--node-id", "1"});
  ASSERT_TRUE(second.isOk()) << second.status();
  auto survivor = (*second)->waitForLine("HTTP_ADDRESS");
  ASSERT_TRUE(survivor.isOk()) << survivor.status();

  auto accepted = httpRequest(cluster_->centerAddress(), "POST", "/v1/push/job", jobBody(kTargets),
                              auth(), 30s);
  ASSERT_TRUE(accepted.isOk()) << accepted.status();
  ASSERT_EQ(accepted->status, 202) << accepted->body;
  const std::string id = jsonField(accepted->body, "jobId");
  cluster_->centerProcess().sendSignal(SIGKILL);
  EXPECT_EQ(cluster_->centerProcess().wait(), 128 + SIGKILL);

  // Chunks the dead center held come back after msg_timeout (15 s) to the survivor.
  expectCounts(waitDone(*survivor, id, 90s), id);
  // The survivor worked on chunks of the dead center's job.
  auto status = httpRequest(*survivor, "GET", "/status");
  ASSERT_TRUE(status.isOk());
  EXPECT_NE(jsonField(status->body, "job_chunks_done"), "0") << status->body;
  EXPECT_NE(jsonField(status->body, "job_chunks_done"), "") << status->body;
  // A chunk delivered by the dead center and again by the survivor reaches a client twice
  // with the same message id; the SDK's dedup by message id hands it to the app once. So:
  // every online client got the job's message (its one id) at least once.
  const auto counts = pushesPerClient(std::stoull(id));
  for (int i = 0; i < kOnline; ++i)
    EXPECT_GE(counts[static_cast<size_t>(i)], 1) << "client on" << i;
}

TEST_F(CenterJobsTest, PushOverTheRequestLimitBecomesAJob) {
  startCluster("max_targets_per_request: 100\n");
  connectOnline();
  std::string users;
  for (int i = 0; i < 1000; ++i)
    users += (i ? ",\"" : "\"") + userId(i) + "\"";
  const std::string body = R"({"app":"demo","payload":"hi","qos":0,"users":[)" + users + "]}";
  auto accepted = httpRequest(cluster_->centerAddress(), "POST", "/v1/push", body,
                              {{"Authorization", "Bearer " + cluster_->apiKey()}});
  ASSERT_TRUE(accepted.isOk());
  ASSERT_EQ(accepted->status, 202) << accepted->body;
  EXPECT_EQ(jsonField(accepted->body, "chunks"), "1");
  const std::string id = jsonField(accepted->body, "jobId");
  auto done = waitDone(cluster_->centerAddress(), id, 30s);
  EXPECT_EQ(jsonField(done.body, "state"), "done") << done.body;
  EXPECT_EQ(jsonField(done.body, "delivered"), "4") << done.body;  // on0..on3 are in 0..999
  EXPECT_EQ(jsonField(done.body, "offline"), "996") << done.body;
  // A push with devices cannot be a job; a small push stays a normal push (200).
  auto devices = httpRequest(cluster_->centerAddress(), "POST", "/v1/push",
                             R"({"app":"demo","payload":"x","users":[)" + users +
                                 R"(],"devices":[{"user":"a","device":"b"}]})",
                             {{"Authorization", "Bearer " + cluster_->apiKey()}});
  ASSERT_TRUE(devices.isOk());
  EXPECT_EQ(devices->status, 400) << devices->body;
  auto small = httpRequest(cluster_->centerAddress(), "POST", "/v1/push",
                           R"({"app":"demo","payload":"x","users":["on0"]})",
                           {{"Authorization", "Bearer " + cluster_->apiKey()}});
  ASSERT_TRUE(small.isOk());
  EXPECT_EQ(small->status, 200) << small->body;
}

TEST_F(CenterJobsTest, BadUploadsAndLimitsAreClear4xx) {
  startCluster("job_max_targets: 1000\njob_burst: 3\njob_rate_per_minute: 1\n");
  const std::string center = cluster_->centerAddress();
  auto post = [&](const std::string& body, int app = 0) {
    auto r = httpRequest(center, "POST", "/v1/push/job", body, auth(app));
    EXPECT_TRUE(r.isOk());
    return r.isOk() ? *r : HttpReply{};
  };
  const std::string header = R"({"app":"demo","payload":"x"})";
  EXPECT_EQ(post(header + "\na\n\nb\n").status, 400);                         // empty line
  EXPECT_EQ(post(header + "\n" + std::string(200, 'x') + "\n").status, 400);  // over-long id
  EXPECT_EQ(post(jobBody(1001)).status, 400);                                 // too many ids
  EXPECT_EQ(post(header + "\na\n", 1).status, 401);                           // other app's key
  auto no_key = httpRequest(center, "POST", "/v1/push/job", header + "\na\n");
  ASSERT_TRUE(no_key.isOk());
  EXPECT_EQ(no_key->status, 401);
  auto json = httpRequest(
      center, "POST", "/v1/push/job", header + "\na\n",
      {{"Authorization", "Bearer " + cluster_->apiKey()}, {"Content-Type", "application/json"}});
  ASSERT_TRUE(json.isOk());
  EXPECT_EQ(json->status, 415);
  // The larger body is for the job path only: /v1/push keeps its 1 MiB.
  auto big = httpRequest(center, "POST", "/v1/push", std::string(2u << 20, ' '),
                         {{"Authorization", "Bearer " + cluster_->apiKey()}});
  ASSERT_TRUE(big.isOk());
  EXPECT_EQ(big->status, 413);
  // Burst 3 job creations, then 429 with Retry-After.
  int accepted = 0;
  HttpReply refused;
  for (int i = 0; i < 5; ++i) {
    HttpReply r = post(header + "\nu" + std::to_string(i) + "\n");
    if (r.status == 202) ++accepted;
    if (r.status == 429) refused = r;
  }
  EXPECT_EQ(accepted, 3);
  EXPECT_EQ(refused.status, 429);
  EXPECT_FALSE(refused.header("Retry-After").empty());
}

TEST_F(CenterJobsTest, WithoutRedisJobsAre501) {
  LocalCluster::Options o;
  o.center_config = "queued: \"" + queued_->tcpAddress() + "\"\n";
  auto cluster = LocalCluster::start(o);
  ASSERT_TRUE(cluster.isOk()) << cluster.status();
  auto r = httpRequest((*cluster)->centerAddress(), "POST", "/v1/push/job",
                       "{\"app\":\"demo\",\"payload\":\"x\"}\na\n",
                       {{"Authorization", "Bearer " + (*cluster)->apiKey()}});
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->status, 501) << r->body;
  auto g = httpRequest((*cluster)->centerAddress(), "GET", "/v1/jobs/1", "",
                       {{"Authorization", "Bearer " + (*cluster)->apiKey()}});
  ASSERT_TRUE(g.isOk());
  EXPECT_EQ(g->status, 501);
}

}  // namespace
}  // namespace push::testing

// push-queued as a process (tests/support/nsq_daemon.h), stopped with SIGTERM and started again
// on the same data path: an ephemeral channel's messages — queued and in flight — survive a
// clean restart (--keep-ephemeral-on-restart, on by default; nsqd loses them), in-flight ones
// delivered again with attempts 2; a restored channel no one subscribes to is deleted with its
// files after --ephemeral-restore-timeout; with the flag off queued loses them as the real nsqd
// does (the same case runs against nsqd v1.3.0 when it is installed).
//
// The raw protocol client is the conformance suites' (tests/integration/queued_conformance.h).

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/integration/queued_conformance.h"
#include "tests/support/http_client.h"
#include "tests/support/nsq_daemon.h"

namespace push::testing {
namespace {

using conformance::be32;
using conformance::Msg;
using conformance::Raw;
using namespace std::chrono_literals;

constexpr int kMessages = 200;
constexpr int kInFlight = 5;
constexpr const char* kTopic = "bcast.app";
constexpr const char* kChannel = "room-1#ephemeral";

std::unique_ptr<NsqDaemon> startDaemon(const std::string& kind,
                                       const std::vector<std::string>& flags) {
  auto started = NsqDaemon::start(kind, flags);
  EXPECT_TRUE(started.isOk()) << started.status().toString();
  return started.isOk() ? std::move(started).value() : nullptr;
}

std::string stats(const NsqDaemon& daemon) {
  auto reply = httpRequest(daemon.httpAddress(), "GET",
                           std::string("/stats?format=json&topic=") + kTopic, "", {}, 5s);
  return reply.isOk() ? reply->body : std::string();
}

bool hasChannel(const NsqDaemon& daemon) {
  return stats(daemon).find(std::string("\"channel_name\":\"") + kChannel + "\"") !=
         std::string::npos;
}

// Files in the data path whose name contains "ephemeral".
size_t ephemeralFiles(const NsqDaemon& daemon) {
  size_t n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(daemon.dataPath())) {
    if (entry.path().filename().string().find("ephemeral") != std::string::npos) ++n;
  }
  return n;
}

// MPUB of m0..m<n-1> to kTopic.
void publish(const NsqDaemon& daemon, int n) {
  Raw producer(daemon.tcpAddress());
  std::string body = be32(static_cast<uint32_t>(n));
  for (int i = 0; i < n; ++i) {
    std::string message = "m" + std::to_string(i);
    body += be32(static_cast<uint32_t>(message.size())) + message;
  }
  producer.withBody(std::string("MPUB ") + kTopic, body);
  ASSERT_EQ(producer.read().data, "OK");
}

// A consumer on the ephemeral channel that holds kInFlight messages without finishing them
// while the rest stay queued. Returns their bodies.
std::vector<std::string> holdInFlight(Raw& holder) {
  holder.subscribe(kTopic, kChannel, kInFlight);
  std::vector<std::string> bodies;
  for (int i = 0; i < kInFlight; ++i) {
    Msg msg = holder.message();
    EXPECT_FALSE(msg.id.empty()) << "message " << i << " of " << kInFlight;
    EXPECT_EQ(msg.attempts, 1);
    bodies.push_back(msg.body);
  }
  return bodies;
}

TEST(EphemeralRestartTest, CleanRestartKeepsQueuedAndInFlightMessages) {
  auto daemon = startDaemon("queued", {});
  ASSERT_NE(daemon, nullptr);
  publish(*daemon, kMessages);  // held by the topic until the channel exists
  auto holder = std::make_unique<Raw>(daemon->tcpAddress());
  std::vector<std::string> in_flight = holdInFlight(*holder);
  ASSERT_TRUE(daemon->restart(/*kill=*/false).isOk());
  holder.reset();

  ASSERT_TRUE(hasChannel(*daemon)) << stats(*daemon);
  Raw consumer(daemon->tcpAddress());
  consumer.subscribe(kTopic, kChannel, 50);
  std::map<std::string, int> attempts;  // body -> attempts of its first delivery
  int deliveries = 0;
  while (attempts.size() < kMessages) {
    Msg msg = consumer.message(5s);
    if (msg.id.empty()) break;
    ++deliveries;
    attempts.emplace(msg.body, msg.attempts);
    consumer.command("FIN " + msg.id);
  }
  EXPECT_EQ(attempts.size(), static_cast<size_t>(kMessages)) << "none lost";
  EXPECT_EQ(deliveries, kMessages) << "each once";
  for (const auto& [body, count] : attempts) {
    bool was_in_flight = std::find(in_flight.begin(), in_flight.end(), body) != in_flight.end();
    EXPECT_EQ(count, was_in_flight ? 2 : 1) << body;
  }
}

TEST(EphemeralRestartTest, UnclaimedRestoredChannelIsDeletedAfterTheTimeout) {
  auto daemon = startDaemon("queued", {"--ephemeral-restore-timeout=300ms"});
  ASSERT_NE(daemon, nullptr);
  publish(*daemon, kMessages);
  {
    Raw holder(daemon->tcpAddress());
    holdInFlight(holder);
    daemon->stop();
  }
  // What the stop kept: the channel's disk queue and the list naming it.
  ASSERT_TRUE(std::filesystem::exists(daemon->dataPath() + "/queued-ephemeral.dat"));
  ASSERT_GT(ephemeralFiles(*daemon), 1u);
  ASSERT_TRUE(daemon->resume().isOk());

  bool gone = false;
  for (int i = 0; i < 200 && !gone; ++i) {
    gone = !hasChannel(*daemon);
    if (!gone) std::this_thread::sleep_for(25ms);  // polling /stats, not synchronising on time
  }
  EXPECT_TRUE(gone) << stats(*daemon);
  EXPECT_EQ(ephemeralFiles(*daemon), 0u) << "messages and files deleted: no backlog left";
}

// --keep-ephemeral-on-restart=false is nsqd's behaviour: checked against nsqd itself.
class EphemeralLossTest : public ::testing::TestWithParam<std::string> {};

TEST_P(EphemeralLossTest, CleanRestartLosesTheChannelAndItsMessages) {
  if (NsqDaemon::binaryFor(GetParam()).empty()) GTEST_SKIP() << GetParam() << " not installed";
  std::vector<std::string> flags;
  if (GetParam() == "queued") flags.push_back("--keep-ephemeral-on-restart=false");
  auto daemon = startDaemon(GetParam(), flags);
  ASSERT_NE(daemon, nullptr);
  publish(*daemon, kMessages);
  auto holder = std::make_unique<Raw>(daemon->tcpAddress());
  holdInFlight(*holder);
  ASSERT_TRUE(hasChannel(*daemon));
  ASSERT_TRUE(daemon->restart(/*kill=*/false).isOk());
  holder.reset();

  EXPECT_FALSE(hasChannel(*daemon)) << stats(*daemon);
  Raw consumer(daemon->tcpAddress());
  consumer.subscribe(kTopic, kChannel, 50);
  EXPECT_TRUE(consumer.message(1s).id.empty()) << "the messages are gone";
  if (GetParam() == "queued") {
    EXPECT_EQ(ephemeralFiles(*daemon), 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(QueuedAndNsqd, EphemeralLossTest, ::testing::Values("queued", "nsqd"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace push::testing

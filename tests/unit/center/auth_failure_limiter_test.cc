#include "services/center/auth_failure_limiter.h"

#include <gtest/gtest.h>

#include "common/net/inet_address.h"

namespace push::center {
namespace {

AuthFailureLimiter::Client client(const std::string& host_port) {
  auto a = net::InetAddress::parse(host_port);
  EXPECT_TRUE(a.isOk()) << host_port;
  return AuthFailureLimiter::clientOf(*a);
}

AuthFailureLimiter::Options options(double rate_per_s, double burst, size_t max_clients = 1000) {
  AuthFailureLimiter::Options o;
  o.rate_per_s = rate_per_s;
  o.burst = burst;
  o.max_clients = max_clients;
  return o;
}

TEST(AuthFailureLimiterTest, AClientIsRefusedAfterBurstFailuresAndForgivenAtTheRate) {
  AuthFailureLimiter l(options(1, 3));  // one failure forgiven per second
  const auto c = client("10.0.0.1:1000");
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(l.retryAfterMs(c, 0), 0) << i;
    l.recordFailure(c, 0);
  }
  EXPECT_EQ(l.retryAfterMs(c, 0), 1000);
  EXPECT_EQ(l.retryAfterMs(c, 400), 600);
  EXPECT_EQ(l.retryAfterMs(c, 1000), 0);  // one more try
  l.recordFailure(c, 1000);
  EXPECT_GT(l.retryAfterMs(c, 1000), 0);
}

TEST(AuthFailureLimiterTest, ClientsAreCountedApartByAddressNotPort) {
  AuthFailureLimiter l(options(1, 2));
  l.recordFailure(client("10.0.0.1:1000"), 0);
  l.recordFailure(client("10.0.0.1:2000"), 0);  // same address, another connection
  EXPECT_GT(l.retryAfterMs(client("10.0.0.1:3000"), 0), 0);
  EXPECT_EQ(l.retryAfterMs(client("10.0.0.2:1000"), 0), 0);
  EXPECT_EQ(l.trackedClients(), 1u);
}

TEST(AuthFailureLimiterTest, Ipv6CountsPerSlash64AndMappedIpv4AsIpv4) {
  AuthFailureLimiter l(options(1, 1));
  l.recordFailure(client("[2001:db8:1:2::1]:1"), 0);
  EXPECT_GT(l.retryAfterMs(client("[2001:db8:1:2:ffff::9]:1"), 0), 0);  // same /64
  EXPECT_EQ(l.retryAfterMs(client("[2001:db8:1:3::1]:1"), 0), 0);       // another /64
  l.recordFailure(client("[::ffff:10.1.2.3]:1"), 0);
  EXPECT_GT(l.retryAfterMs(client("10.1.2.3:5"), 0), 0);
  EXPECT_EQ(AuthFailureLimiter::clientOf(*net::InetAddress::parse("[::ffff:10.1.2.3]:1")),
            client("10.1.2.3:9"));
}

TEST(AuthFailureLimiterTest, RefilledClientsAreSweptAway) {
  AuthFailureLimiter l(options(10, 2));  // full again 200 ms after a failure
  for (int i = 0; i < 100; ++i)
    l.recordFailure(client("10.0.1." + std::to_string(i) + ":1"), 0);
  EXPECT_EQ(l.trackedClients(), 100u);
  EXPECT_EQ(l.retryAfterMs(client("10.9.9.9:1"), 1000), 0);  // before the sweep is due
  EXPECT_EQ(l.trackedClients(), 100u);
  EXPECT_EQ(l.retryAfterMs(client("10.9.9.9:1"), 60'000), 0);
  EXPECT_EQ(l.trackedClients(), 0u);
}

TEST(AuthFailureLimiterTest, ClientsStillShortOfTokensAreKept) {
  AuthFailureLimiter l(options(0.1, 2));  // one failure forgiven per 10 s
  l.recordFailure(client("10.0.0.1:1"), 0);
  l.recordFailure(client("10.0.0.1:1"), 0);
  l.recordFailure(client("10.0.0.2:1"), 0);
  EXPECT_EQ(l.trackedClients(), 2u);
  // At 10 s .2 is full again (forgotten), .1 has one token of two (kept, and may try).
  EXPECT_EQ(l.retryAfterMs(client("10.0.0.1:1"), 10'000), 0);
  EXPECT_EQ(l.trackedClients(), 1u);
  l.recordFailure(client("10.0.0.1:1"), 10'000);
  EXPECT_EQ(l.retryAfterMs(client("10.0.0.1:1"), 10'000), 10'000);
}

TEST(AuthFailureLimiterTest, BoundedClientsBeyondTheTableShareOneBucket) {
  AuthFailureLimiter l(options(0.001, 2, /*max_clients=*/3));  // nearly no refill
  for (int i = 0; i < 3; ++i)
    l.recordFailure(client("10.0.0." + std::to_string(i) + ":1"), 0);
  EXPECT_EQ(l.trackedClients(), 3u);
  // Two failures of two new clients use the overflow bucket up...
  l.recordFailure(client("10.0.1.1:1"), 10);
  l.recordFailure(client("10.0.1.2:1"), 10);
  EXPECT_EQ(l.trackedClients(), 3u);
  // ...so every untracked client waits now, tracked ones keep their own buckets.
  EXPECT_GT(l.retryAfterMs(client("10.0.1.3:1"), 20), 0);
  EXPECT_EQ(l.retryAfterMs(client("10.0.0.0:1"), 20), 0);
  for (int i = 0; i < 1000; ++i)
    l.recordFailure(
        client("10.2." + std::to_string(i / 250) + "." + std::to_string(i % 250) + ":1"), 30 + i);
  EXPECT_LE(l.trackedClients(), 3u);
}

}  // namespace
}  // namespace push::center

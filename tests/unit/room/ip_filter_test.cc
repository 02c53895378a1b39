#include "services/room/ip_filter.h"

#include <gtest/gtest.h>

#include <ostream>
#include <string>

namespace push::room {

// Readable verdicts in failure messages (found by ADL: not in the anonymous namespace).
void PrintTo(IpFilter::Verdict v, std::ostream* os) {
  *os << IpFilter::verdictName(v);
}

namespace {

using Verdict = IpFilter::Verdict;

net::InetAddress addr(const std::string& host_port) {
  auto a = net::InetAddress::parse(host_port);
  EXPECT_TRUE(a.isOk()) << host_port;
  return a.isOk() ? *a : net::InetAddress();
}

IpFilter make(IpFilter::Options options) {
  auto f = IpFilter::create(options);
  EXPECT_TRUE(f.isOk()) << f.status().toString();
  return std::move(f).value();
}

Verdict admit(IpFilter& f, const std::string& host_port, int64_t now_ms = 1000) {
  return f.admit(addr(host_port), now_ms);
}

TEST(IpFilterTest, AcceptsEveryoneAndTracksNothingWithoutRules) {
  IpFilter f = make({});
  for (int i = 0; i < 100; ++i)
    EXPECT_EQ(admit(f, "10.0.0.1:1"), Verdict::Accept);
  EXPECT_EQ(admit(f, "[::1]:1"), Verdict::Accept);
  EXPECT_EQ(f.trackedAddresses(), 0u);
  f.release(addr("10.0.0.1:1"));  // no-op
}

TEST(IpFilterTest, DenyListIsCheckedBeforeTheAllowList) {
  IpFilter::Options o;
  o.allow_cidrs = {"10.0.0.0/8"};
  o.deny_cidrs = {"10.1.0.0/16"};
  IpFilter f = make(o);
  EXPECT_EQ(admit(f, "10.2.3.4:1"), Verdict::Accept);
  EXPECT_EQ(admit(f, "10.1.3.4:1"), Verdict::Denied);  // allowed by /8, denied by /16
  EXPECT_EQ(admit(f, "11.0.0.1:1"), Verdict::Denied);  // not on a non-empty allow list
}

TEST(IpFilterTest, PrefixesMatchBitwise) {
  IpFilter::Options o;
  o.allow_cidrs = {"192.168.1.0/24", "172.16.0.0/13", "8.8.8.8", "0.0.0.0/32"};
  IpFilter f = make(o);
  EXPECT_EQ(admit(f, "192.168.1.0:1"), Verdict::Accept);
  EXPECT_EQ(admit(f, "192.168.1.255:1"), Verdict::Accept);
  EXPECT_EQ(admit(f, "192.168.2.1:1"), Verdict::Denied);
  EXPECT_EQ(admit(f, "172.23.255.255:1"), Verdict::Accept);  // 172.16/13 ends at 172.23
  EXPECT_EQ(admit(f, "172.24.0.0:1"), Verdict::Denied);
  EXPECT_EQ(admit(f, "172.15.255.255:1"), Verdict::Denied);
  EXPECT_EQ(admit(f, "8.8.8.8:1"), Verdict::Accept);  // no prefix: a /32
  EXPECT_EQ(admit(f, "8.8.8.9:1"), Verdict::Denied);
}

TEST(IpFilterTest, ZeroPrefixMatchesAWholeFamilyOnly) {
  IpFilter::Options o;
  o.deny_cidrs = {"0.0.0.0/0"};
  IpFilter f = make(o);
  EXPECT_EQ(admit(f, "1.2.3.4:1"), Verdict::Denied);
  EXPECT_EQ(admit(f, "255.255.255.255:1"), Verdict::Denied);
  EXPECT_EQ(admit(f, "[2001:db8::1]:1"), Verdict::Accept);
}

TEST(IpFilterTest, Ipv6Cidrs) {
  IpFilter::Options o;
  o.allow_cidrs = {"2001:db8::/32", "::1", "fe80::/10"};
  o.deny_cidrs = {"2001:db8:dead::/48"};
  IpFilter f = make(o);
  EXPECT_EQ(admit(f, "[2001:db8:1::5]:1"), Verdict::Accept);
  EXPECT_EQ(admit(f, "[2001:db8:dead:1::5]:1"), Verdict::Denied);
  EXPECT_EQ(admit(f, "[2001:db9::1]:1"), Verdict::Denied);
  EXPECT_EQ(admit(f, "[::1]:1"), Verdict::Accept);
  EXPECT_EQ(admit(f, "[::2]:1"), Verdict::Denied);
  EXPECT_EQ(admit(f, "[febf:ffff::1]:1"), Verdict::Accept);  // fe80::/10 ends at febf
  EXPECT_EQ(admit(f, "[fec0::1]:1"), Verdict::Denied);
  EXPECT_EQ(admit(f, "127.0.0.1:1"), Verdict::Denied);  // v4 never matches a v6 rule
}

TEST(IpFilterTest, Ipv4RulesApplyToV4MappedPeersOfADualStackListener) {
  // A room listening on [::] (dual stack) sees IPv4 clients as ::ffff:a.b.c.d.
  IpFilter::Options o;
  o.deny_cidrs = {"10.0.0.0/8"};
  IpFilter deny = make(o);
  EXPECT_EQ(admit(deny, "[::ffff:10.1.2.3]:1"), Verdict::Denied)
      << "deny_cidrs 10.0.0.0/8 does not stop 10.1.2.3 arriving over a dual-stack socket";
  IpFilter::Options a;
  a.allow_cidrs = {"10.0.0.0/8"};
  IpFilter allow = make(a);
  EXPECT_EQ(admit(allow, "[::ffff:10.1.2.3]:1"), Verdict::Accept)
      << "allow_cidrs 10.0.0.0/8 refuses 10.1.2.3 arriving over a dual-stack socket";
}

TEST(IpFilterTest, RejectsBadCidrsNamingThem) {
  for (const char* bad : {"10.0.0.0/33", "::/129", "10.0.0.0/x", "nonsense", "10.0.0.0/",
                          "10.0.0.0/8/8", "10.0.0/8", "", "10.0.0.0/ 8"}) {
    IpFilter::Options o;
    o.deny_cidrs = {bad};
    auto f = IpFilter::create(o);
    ASSERT_FALSE(f.isOk()) << "'" << bad << "' accepted";
    EXPECT_EQ(f.status().code(), Code::INVALID_ARGUMENT);
    EXPECT_NE(f.status().message().find("'" + std::string(bad) + "'"), std::string::npos)
        << f.status().message();
    IpFilter::Options allow;
    allow.allow_cidrs = {bad};
    EXPECT_FALSE(IpFilter::create(allow).isOk()) << bad;
  }
}

TEST(IpFilterTest, Ipv6SourcesInOneSlash64ShareTheLimits) {
  // One subscriber gets a whole /64: counting each /128 would let it open 2^64 "addresses".
  IpFilter::Options o;
  o.max_connections_per_ip = 2;
  IpFilter f = make(o);
  EXPECT_EQ(admit(f, "[2001:db8:1:2::1]:1"), Verdict::Accept);
  EXPECT_EQ(admit(f, "[2001:db8:1:2:ffff:ffff:ffff:ffff]:1"), Verdict::Accept);
  EXPECT_EQ(admit(f, "[2001:db8:1:2:abcd::9]:1"), Verdict::TooManyConnections)
      << "a third address of the same /64 was counted as a new client";
  EXPECT_EQ(admit(f, "[2001:db8:1:3::1]:1"), Verdict::Accept);  // the next /64 is another one
  f.release(addr("[2001:db8:1:2::77]:9"));                      // any address of the /64
  EXPECT_EQ(admit(f, "[2001:db8:1:2::5]:1"), Verdict::Accept);
}

TEST(IpFilterTest, Ipv6PrefixIsConfigurableAndChecked) {
  IpFilter::Options o;
  o.max_connections_per_ip = 1;
  o.ipv6_prefix = 48;
  IpFilter f = make(o);
  EXPECT_EQ(admit(f, "[2001:db8:1:2::1]:1"), Verdict::Accept);
  EXPECT_EQ(admit(f, "[2001:db8:1:3::1]:1"), Verdict::TooManyConnections);  // same /48
  o.ipv6_prefix = 128;
  IpFilter exact = make(o);
  EXPECT_EQ(admit(exact, "[2001:db8::1]:1"), Verdict::Accept);
  EXPECT_EQ(admit(exact, "[2001:db8::2]:1"), Verdict::Accept);
  for (uint32_t bad : {0u, 129u}) {
    o.ipv6_prefix = bad;
    auto r = IpFilter::create(o);
    ASSERT_FALSE(r.isOk()) << bad;
    EXPECT_NE(r.status().message().find("ipv6_prefix"), std::string::npos);
  }
}

TEST(IpFilterTest, Nat64And6to4AddressesAreTheirIpv4Address) {
  IpFilter::Options o;
  o.deny_cidrs = {"192.0.2.0/24"};
  o.max_connections_per_ip = 1;
  IpFilter f = make(o);
  // 64:ff9b::192.0.2.33 (NAT64) and 2002:c000:0221:: (6to4 of 192.0.2.33) are 192.0.2.33.
  EXPECT_EQ(admit(f, "[64:ff9b::c000:221]:1"), Verdict::Denied);
  EXPECT_EQ(admit(f, "[2002:c000:221::1]:1"), Verdict::Denied);
  EXPECT_EQ(admit(f, "[64:ff9b::a00:1]:1"), Verdict::Accept);  // 10.0.0.1 over NAT64
  EXPECT_EQ(admit(f, "10.0.0.1:1"), Verdict::TooManyConnections)
      << "NAT64 and native IPv4 of one address are one client";
  EXPECT_EQ(admit(f, "[2002:a00:1::1]:1"), Verdict::TooManyConnections);  // 6to4 of 10.0.0.1
  EXPECT_EQ(f.describe(f.keyOf(addr("[64:ff9b::a00:1]:1"))), "10.0.0.1");
}

TEST(IpFilterTest, RejectsNegativePrefixes) {
  IpFilter::Options o;
  o.deny_cidrs = {"10.0.0.0/-1"};
  auto f = IpFilter::create(o);
  EXPECT_FALSE(f.isOk()) << "'10.0.0.0/-1' was accepted (as a /32)";
}

TEST(IpFilterTest, CapsOpenConnectionsPerIpUntilReleased) {
  IpFilter::Options o;
  o.max_connections_per_ip = 2;
  IpFilter f = make(o);
  EXPECT_EQ(admit(f, "10.0.0.1:1"), Verdict::Accept);
  EXPECT_EQ(admit(f, "10.0.0.1:2"), Verdict::Accept);  // the port does not matter
  EXPECT_EQ(admit(f, "10.0.0.1:3"), Verdict::TooManyConnections);
  EXPECT_EQ(admit(f, "10.0.0.2:1"), Verdict::Accept);  // per IP
  EXPECT_EQ(admit(f, "[::1]:1"), Verdict::Accept);
  EXPECT_EQ(f.trackedAddresses(), 3u);
  f.release(addr("10.0.0.1:1"));
  EXPECT_EQ(admit(f, "10.0.0.1:4"), Verdict::Accept);
  EXPECT_EQ(admit(f, "10.0.0.1:5"), Verdict::TooManyConnections);
  // release(Key) is the same as release(InetAddress).
  f.release(f.keyOf(addr("10.0.0.1:9")));
  EXPECT_EQ(admit(f, "10.0.0.1:6"), Verdict::Accept);
  // Releasing more than was admitted does not bank extra connections.
  for (int i = 0; i < 5; ++i)
    f.release(addr("10.0.0.2:1"));
  EXPECT_EQ(admit(f, "10.0.0.2:1"), Verdict::Accept);
  EXPECT_EQ(admit(f, "10.0.0.2:1"), Verdict::Accept);
  EXPECT_EQ(admit(f, "10.0.0.2:1"), Verdict::TooManyConnections);
  f.release(addr("10.9.9.9:1"));  // unknown address: no-op
}

TEST(IpFilterTest, DeniedAddressesAreNotCounted) {
  IpFilter::Options o;
  o.deny_cidrs = {"10.0.0.0/8"};
  o.max_connections_per_ip = 1;
  IpFilter f = make(o);
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(admit(f, "10.0.0.1:1"), Verdict::Denied);
  EXPECT_EQ(f.trackedAddresses(), 0u);
}

TEST(IpFilterTest, ConnectRateBucketHasBurstTwiceTheRateAndRefills) {
  IpFilter::Options o;
  o.max_connects_per_s = 2;  // burst 4
  IpFilter f = make(o);
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(admit(f, "10.0.0.1:1", 1000), Verdict::Accept) << i;
  EXPECT_EQ(admit(f, "10.0.0.1:1", 1000), Verdict::RateLimited);
  EXPECT_EQ(admit(f, "10.0.0.2:1", 1000), Verdict::Accept);       // another IP has its own bucket
  EXPECT_EQ(admit(f, "10.0.0.1:1", 1400), Verdict::RateLimited);  // 0.8 tokens
  EXPECT_EQ(admit(f, "10.0.0.1:1", 1600), Verdict::Accept);       // 1.2 tokens
  EXPECT_EQ(admit(f, "10.0.0.1:1", 1600), Verdict::RateLimited);
  // A long silence refills up to the burst, no more.
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(admit(f, "10.0.0.1:1", 60'000), Verdict::Accept) << i;
  EXPECT_EQ(admit(f, "10.0.0.1:1", 60'000), Verdict::RateLimited);
}

TEST(IpFilterTest, RateLimitHoldsWhenTheClockStartsAtZero) {
  // Callers pass any monotonic time; 0 is a valid first reading (a test clock, a fresh boot).
  IpFilter::Options o;
  o.max_connects_per_s = 1;  // burst 2
  IpFilter f = make(o);
  EXPECT_EQ(admit(f, "10.0.0.1:1", 0), Verdict::Accept);
  EXPECT_EQ(admit(f, "10.0.0.1:1", 0), Verdict::Accept);
  EXPECT_EQ(admit(f, "10.0.0.1:1", 0), Verdict::RateLimited)
      << "last_ms == 0 is used as 'new entry': at time 0 the bucket refills on every admit";
}

TEST(IpFilterTest, RateAndCapTogether) {
  IpFilter::Options o;
  o.max_connects_per_s = 10;
  o.max_connections_per_ip = 1;
  IpFilter f = make(o);
  EXPECT_EQ(admit(f, "10.0.0.1:1"), Verdict::Accept);
  EXPECT_EQ(admit(f, "10.0.0.1:1"), Verdict::TooManyConnections);
  f.release(addr("10.0.0.1:1"));
  EXPECT_EQ(admit(f, "10.0.0.1:1"), Verdict::Accept);
}

TEST(IpFilterTest, SweepDropsOnlyIdleEntries) {
  IpFilter::Options o;
  o.max_connects_per_s = 1;
  o.max_connections_per_ip = 5;
  IpFilter f = make(o);
  EXPECT_EQ(admit(f, "10.0.0.1:1", 1000), Verdict::Accept);  // stays open
  EXPECT_EQ(admit(f, "10.0.0.2:1", 1000), Verdict::Accept);
  f.release(addr("10.0.0.2:1"));
  EXPECT_EQ(admit(f, "10.0.0.3:1", 2500), Verdict::Accept);
  f.release(addr("10.0.0.3:1"));
  EXPECT_EQ(f.trackedAddresses(), 3u);
  f.sweep(3000);  // .2 silent for 2 s exactly: kept (its bucket may not be full yet)
  EXPECT_EQ(f.trackedAddresses(), 3u);
  f.sweep(3001);  // .2 gone; .3 recent; .1 still open
  EXPECT_EQ(f.trackedAddresses(), 2u);
  f.sweep(100'000);
  EXPECT_EQ(f.trackedAddresses(), 1u);  // only the open one
  f.release(addr("10.0.0.1:1"));
  f.sweep(100'000);
  EXPECT_EQ(f.trackedAddresses(), 0u);
  // A swept address starts again with a full bucket.
  EXPECT_EQ(admit(f, "10.0.0.2:1", 100'000), Verdict::Accept);
  EXPECT_EQ(admit(f, "10.0.0.2:1", 100'000), Verdict::Accept);
  EXPECT_EQ(admit(f, "10.0.0.2:1", 100'000), Verdict::RateLimited);
}

TEST(IpFilterTest, KeysAndNames) {
  IpFilter f = make({});
  EXPECT_EQ(f.describe(f.keyOf(addr("10.1.2.3:80"))), "10.1.2.3");
  EXPECT_EQ(f.describe(f.keyOf(addr("[2001:db8::7]:80"))), "2001:db8::/64");
  EXPECT_EQ(f.keyOf(addr("10.1.2.3:80")), f.keyOf(addr("10.1.2.3:81")));
  EXPECT_NE(f.keyOf(addr("10.1.2.3:80")), f.keyOf(addr("10.1.2.4:80")));
  IpFilter::Options whole;
  whole.ipv6_prefix = 128;
  IpFilter f128 = make(whole);
  EXPECT_EQ(f128.describe(f128.keyOf(addr("[2001:db8::7]:80"))), "2001:db8::7");
  EXPECT_STREQ(IpFilter::verdictName(Verdict::Accept), "accept");
  EXPECT_STREQ(IpFilter::verdictName(Verdict::Denied), "denied");
  EXPECT_STREQ(IpFilter::verdictName(Verdict::TooManyConnections), "too many connections");
  EXPECT_STREQ(IpFilter::verdictName(Verdict::RateLimited), "rate limited");
}

}  // namespace
}  // namespace push::room

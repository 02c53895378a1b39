#include "common/net/inet_address.h"

#include <arpa/inet.h>

#include <gtest/gtest.h>

namespace push::net {
namespace {

InetAddress parseOk(std::string_view text) {
  auto r = InetAddress::parse(text);
  EXPECT_TRUE(r.isOk()) << text << ": " << r.status();
  return r.isOk() ? *r : InetAddress();
}

void expectBad(std::string_view text) {
  auto r = InetAddress::parse(text);
  EXPECT_FALSE(r.isOk()) << "'" << text << "' parsed as " << (r.isOk() ? r->toString() : "");
  if (!r.isOk()) {
    EXPECT_EQ(r.status().code(), Code::INVALID_ARGUMENT) << text;
  }
}

TEST(InetAddressTest, ParsesIpv4) {
  InetAddress a = parseOk("10.1.2.3:8080");
  EXPECT_EQ(a.family(), AF_INET);
  EXPECT_EQ(a.host(), "10.1.2.3");
  EXPECT_EQ(a.port(), 8080);
  EXPECT_EQ(a.toString(), "10.1.2.3:8080");
  EXPECT_EQ(a.length(), sizeof(sockaddr_in));
  auto* sin = reinterpret_cast<const sockaddr_in*>(a.sockaddrPtr());
  EXPECT_EQ(ntohs(sin->sin_port), 8080);
  EXPECT_EQ(ntohl(sin->sin_addr.s_addr), 0x0a010203u);
}

TEST(InetAddressTest, ParsesBracketedIpv6) {
  InetAddress a = parseOk("[::1]:443");
  EXPECT_EQ(a.family(), AF_INET6);
  EXPECT_EQ(a.host(), "::1");
  EXPECT_EQ(a.port(), 443);
  EXPECT_EQ(a.toString(), "[::1]:443");
  EXPECT_EQ(a.length(), sizeof(sockaddr_in6));

  InetAddress b = parseOk("[2001:db8::a:b]:0");
  EXPECT_EQ(b.host(), "2001:db8::a:b");
  EXPECT_EQ(b.port(), 0);
}

TEST(InetAddressTest, LocalhostIsLoopbackWithoutDns) {
  InetAddress a = parseOk("localhost:9000");
  EXPECT_EQ(a.family(), AF_INET);
  EXPECT_EQ(a.toString(), "127.0.0.1:9000");
}

TEST(InetAddressTest, EmptyHostIsAnyAddress) {
  InetAddress a = parseOk(":7000");
  EXPECT_EQ(a.toString(), "0.0.0.0:7000");
}

TEST(InetAddressTest, PortLimits) {
  EXPECT_EQ(parseOk("1.2.3.4:0").port(), 0);
  EXPECT_EQ(parseOk("1.2.3.4:65535").port(), 65535);
  expectBad("1.2.3.4:65536");
  expectBad("1.2.3.4:99999999999");
  expectBad("1.2.3.4:-1");
  expectBad("1.2.3.4:+1");
  expectBad("1.2.3.4:80x");
  expectBad("1.2.3.4:x80");
  expectBad("1.2.3.4: 80");
}

TEST(InetAddressTest, MissingPortIsRejected) {
  expectBad("1.2.3.4");
  expectBad("1.2.3.4:");
  expectBad("localhost");
  expectBad("[::1]");
  expectBad("");
}

TEST(InetAddressTest, NonNumericHostIsRejected) {
  // No DNS on the loop: names other than localhost are errors, with the host in the message.
  auto r = InetAddress::parse("example.com:80");
  ASSERT_FALSE(r.isOk());
  EXPECT_NE(r.status().message().find("example.com"), std::string::npos) << r.status();
  expectBad("1.2.3:80");
  expectBad("256.1.1.1:80");
  expectBad("[not:v6]:80");
  expectBad("[::1:80");
}

TEST(InetAddressTest, UnbracketedIpv6IsRejected) {
  // Without brackets the last ':' is ambiguous: "fe80::1:8080" must not silently become
  // address fe80::1, port 8080.
  expectBad("fe80::1:8080");
  expectBad("::1:80");
  expectBad("2001:db8::1:443");
  EXPECT_EQ(parseOk("[fe80::1:8080]:443").host(), "fe80::1:8080");
}

TEST(InetAddressTest, FromHostPortAndSetPort) {
  auto r = InetAddress::fromHostPort("127.0.0.1", 1234);
  ASSERT_TRUE(r.isOk());
  InetAddress a = *r;
  EXPECT_EQ(a.port(), 1234);
  a.setPort(4321);
  EXPECT_EQ(a.toString(), "127.0.0.1:4321");
  auto v6 = InetAddress::fromHostPort("::1", 5);
  ASSERT_TRUE(v6.isOk());
  InetAddress b = *v6;
  b.setPort(6);
  EXPECT_EQ(b.toString(), "[::1]:6");
  EXPECT_FALSE(InetAddress::fromHostPort("nope", 1).isOk());
}

TEST(InetAddressTest, FromSockaddrRoundTrips) {
  InetAddress a = parseOk("192.168.1.20:5555");
  InetAddress copy = InetAddress::fromSockaddr(a.sockaddrPtr());
  EXPECT_EQ(copy, a);
  InetAddress v6 = parseOk("[fe80::1]:80");
  EXPECT_EQ(InetAddress::fromSockaddr(v6.sockaddrPtr()), v6);
  sockaddr unknown{};
  unknown.sa_family = AF_UNIX;
  EXPECT_EQ(InetAddress::fromSockaddr(&unknown).host(), "?");
}

TEST(InetAddressTest, Equality) {
  EXPECT_EQ(parseOk("1.2.3.4:5"), parseOk("1.2.3.4:5"));
  EXPECT_FALSE(parseOk("1.2.3.4:5") == parseOk("1.2.3.4:6"));
  EXPECT_FALSE(parseOk("1.2.3.4:5") == parseOk("1.2.3.5:5"));
  EXPECT_FALSE(parseOk("[::1]:5") == parseOk("127.0.0.1:5"));
}

}  // namespace
}  // namespace push::net

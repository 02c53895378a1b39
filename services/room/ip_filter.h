#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/base/result.h"
#include "common/net/inet_address.h"

namespace push::room {

// Admission control by client address: deny and allow CIDR lists, open connections per IP,
// and new connections per IP per second (token bucket with burst 2x). Memory: one small map
// entry per client IP with connections open or recent connects; idle entries are swept.
// Not thread-safe (one loop).
//
// What "one IP" is: an IPv4 address; for IPv6, the network of `ipv6_prefix` bits (default
// /64: one subscriber gets a whole /64, so counting each /128 would let one client open
// 2^64 "addresses"). IPv6 forms that carry an IPv4 address count, and match CIDR rules, as
// that IPv4 address: v4-mapped (::ffff:a.b.c.d, a dual-stack listener), NAT64
// (64:ff9b::a.b.c.d, RFC 6052) and 6to4 (2002:aabb:ccdd::/48, RFC 3056). IPv6 CIDR rules
// match the full address.
class IpFilter {
 public:
  struct Options {
    std::vector<std::string> allow_cidrs;  // empty: everyone not denied
    std::vector<std::string> deny_cidrs;
    uint32_t max_connections_per_ip = 0;  // 0: unlimited
    uint32_t max_connects_per_s = 0;      // 0: unlimited
    // IPv6 sources in one network of this many bits share the limits. 1..128, default 64.
    uint32_t ipv6_prefix = 64;
  };
  enum class Verdict { Accept, Denied, TooManyConnections, RateLimited };

  static Result<IpFilter> create(const Options& options);

  // Decides on a new connection from `peer` at `now_ms`; Accept counts it as open.
  Verdict admit(const net::InetAddress& peer, int64_t now_ms);
  // A connection that admit() accepted has closed.
  void release(const net::InetAddress& peer);

  // The limits' compact form of a client address (family byte 4 or 6 + address bytes, IPv6
  // masked to ipv6_prefix, embedded IPv4 extracted) for callers that keep one per
  // connection; release(keyOf(peer)) equals release(peer).
  using Key = std::array<uint8_t, 17>;
  Key keyOf(const net::InetAddress& peer) const;
  void release(const Key& key);
  // "1.2.3.4" / "2001:db8::/64" for logs.
  std::string describe(const Key& key) const;
  // Drops idle entries (no open connections and a full bucket). Call every few seconds.
  void sweep(int64_t now_ms);
  size_t trackedAddresses() const { return per_ip_.size(); }

  static const char* verdictName(Verdict v);

 private:
  struct Cidr {
    int family;
    std::array<uint8_t, 16> bytes;
    int prefix;
    bool matches(int family, const uint8_t* addr) const;
  };
  struct PerIp {
    uint32_t open = 0;
    float tokens = 0;
    int64_t last_ms = -1;  // -1: never refilled
  };
  struct KeyHash {
    size_t operator()(const Key& k) const;
  };
  static Result<Cidr> parseCidr(const std::string& text);
  // The address CIDR rules see: family (AF_INET/AF_INET6) and bytes; embedded IPv4 extracted.
  static int ruleAddress(const net::InetAddress& peer, uint8_t* bytes);

  Options options_;
  std::vector<Cidr> allow_;
  std::vector<Cidr> deny_;
  std::unordered_map<Key, PerIp, KeyHash> per_ip_;
};

}  // namespace push::room

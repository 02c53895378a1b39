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
class IpFilter {
 public:
  struct Options {
    std::vector<std::string> allow_cidrs;  // empty: everyone not denied
    std::vector<std::string> deny_cidrs;
    uint32_t max_connections_per_ip = 0;  // 0: unlimited
    uint32_t max_connects_per_s = 0;      // 0: unlimited
  };
  enum class Verdict { Accept, Denied, TooManyConnections, RateLimited };

  static Result<IpFilter> create(const Options& options);

  // Decides on a new connection from `peer` at `now_ms`; Accept counts it as open.
  Verdict admit(const net::InetAddress& peer, int64_t now_ms);
  // A connection that admit() accepted has closed.
  void release(const net::InetAddress& peer);

  // A compact form of a client address (family byte + 16 address bytes) for callers that keep
  // one per connection; release(Key) equals release(InetAddress).
  using Key = std::array<uint8_t, 17>;
  static Key keyOf(const net::InetAddress& peer);
  void release(const Key& key);
  // "1.2.3.4" / "::1" for logs.
  static std::string hostOf(const Key& key);
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

  Options options_;
  std::vector<Cidr> allow_;
  std::vector<Cidr> deny_;
  std::unordered_map<Key, PerIp, KeyHash> per_ip_;
};

}  // namespace push::room

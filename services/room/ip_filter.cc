#include "services/room/ip_filter.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

#include "common/base/hash.h"

namespace push::room {

const char* IpFilter::verdictName(Verdict v) {
  switch (v) {
    case Verdict::Accept:
      return "accept";
    case Verdict::Denied:
      return "denied";
    case Verdict::TooManyConnections:
      return "too many connections";
    case Verdict::RateLimited:
      return "rate limited";
  }
  return "?";
}

bool IpFilter::Cidr::matches(int fam, const uint8_t* addr) const {
  if (fam != family) return false;
  int full = prefix / 8;
  if (std::memcmp(bytes.data(), addr, static_cast<size_t>(full)) != 0) return false;
  int rest = prefix % 8;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (bytes[static_cast<size_t>(full)] & mask) == (addr[full] & mask);
}

Result<IpFilter::Cidr> IpFilter::parseCidr(const std::string& text) {
  Cidr c{};
  std::string host = text;
  int prefix = -1;
  size_t slash = text.find('/');
  if (slash != std::string::npos) {
    host = text.substr(0, slash);
    std::string_view p(text);
    p.remove_prefix(slash + 1);
    auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), prefix);
    if (ec != std::errc() || ptr != p.data() + p.size() || prefix < 0) {
      return invalidArgument("bad CIDR '" + text + "'");
    }
  }
  if (inet_pton(AF_INET, host.c_str(), c.bytes.data()) == 1) {
    c.family = AF_INET;
    if (prefix < 0) prefix = 32;
    if (prefix > 32) return invalidArgument("bad CIDR '" + text + "': prefix over 32");
  } else if (inet_pton(AF_INET6, host.c_str(), c.bytes.data()) == 1) {
    c.family = AF_INET6;
    if (prefix < 0) prefix = 128;
    if (prefix > 128) return invalidArgument("bad CIDR '" + text + "': prefix over 128");
  } else {
    return invalidArgument("bad CIDR '" + text + "': not an IP address");
  }
  c.prefix = prefix;
  return c;
}

Result<IpFilter> IpFilter::create(const Options& options) {
  if (options.ipv6_prefix < 1 || options.ipv6_prefix > 128) {
    return invalidArgument("ipv6_prefix " + std::to_string(options.ipv6_prefix) +
                           " is out of range [1, 128]");
  }
  IpFilter f;
  f.options_ = options;
  for (const auto& text : options.allow_cidrs) {
    ASSIGN_OR_RETURN(Cidr c, parseCidr(text));
    f.allow_.push_back(c);
  }
  for (const auto& text : options.deny_cidrs) {
    ASSIGN_OR_RETURN(Cidr c, parseCidr(text));
    f.deny_.push_back(c);
  }
  return f;
}

size_t IpFilter::KeyHash::operator()(const Key& k) const {
  return static_cast<size_t>(
      hash64(std::string_view(reinterpret_cast<const char*>(k.data()), k.size())));
}

int IpFilter::ruleAddress(const net::InetAddress& peer, uint8_t* bytes) {
  const sockaddr* sa = peer.sockaddrPtr();
  if (peer.family() != AF_INET6) {
    std::memcpy(bytes, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, 4);
    return AF_INET;
  }
  const auto* a =
      reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr);
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  static constexpr uint8_t kNat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
  if (std::memcmp(a, kMapped, 12) == 0 || std::memcmp(a, kNat64, 12) == 0) {
    std::memcpy(bytes, a + 12, 4);  // ::ffff:a.b.c.d, 64:ff9b::a.b.c.d
    return AF_INET;
  }
  if (a[0] == 0x20 && a[1] == 0x02) {
    std::memcpy(bytes, a + 2, 4);  // 2002:aabb:ccdd::/48
    return AF_INET;
  }
  std::memcpy(bytes, a, 16);
  return AF_INET6;
}

IpFilter::Key IpFilter::keyOf(const net::InetAddress& peer) const {
  Key key{};
  const int family = ruleAddress(peer, key.data() + 1);
  key[0] = family == AF_INET6 ? 6 : 4;
  if (family == AF_INET6) {
    const uint32_t prefix = options_.ipv6_prefix;
    for (uint32_t bit = prefix; bit < 128; ++bit) {
      key[1 + bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
    }
  }
  return key;
}

IpFilter::Verdict IpFilter::admit(const net::InetAddress& peer, int64_t now_ms) {
  uint8_t addr[16] = {};
  const int family = ruleAddress(peer, addr);
  for (const Cidr& c : deny_) {
    if (c.matches(family, addr)) return Verdict::Denied;
  }
  if (!allow_.empty()) {
    bool allowed = false;
    for (const Cidr& c : allow_)
      allowed = allowed || c.matches(family, addr);
    if (!allowed) return Verdict::Denied;
  }
  if (options_.max_connections_per_ip == 0 && options_.max_connects_per_s == 0)
    return Verdict::Accept;
  PerIp& ip = per_ip_[keyOf(peer)];
  if (options_.max_connections_per_ip && ip.open >= options_.max_connections_per_ip) {
    return Verdict::TooManyConnections;
  }
  if (options_.max_connects_per_s) {
    const float burst = 2.0f * static_cast<float>(options_.max_connects_per_s);
    if (ip.last_ms < 0) {  // a new entry: a full bucket
      ip.tokens = burst;
    } else {
      ip.tokens += static_cast<float>(now_ms - ip.last_ms) / 1000.0f *
                   static_cast<float>(options_.max_connects_per_s);
      if (ip.tokens > burst) ip.tokens = burst;
    }
    ip.last_ms = now_ms;
    if (ip.tokens < 1.0f) return Verdict::RateLimited;
    ip.tokens -= 1.0f;
  }
  ++ip.open;
  return Verdict::Accept;
}

void IpFilter::release(const net::InetAddress& peer) {
  release(keyOf(peer));
}

std::string IpFilter::describe(const Key& key) const {
  char buf[INET6_ADDRSTRLEN] = {0};
  inet_ntop(key[0] == 6 ? AF_INET6 : AF_INET, key.data() + 1, buf, sizeof buf);
  if (key[0] == 6 && options_.ipv6_prefix < 128) {
    return std::string(buf) + "/" + std::to_string(options_.ipv6_prefix);
  }
  return buf;
}

void IpFilter::release(const Key& key) {
  if (options_.max_connections_per_ip == 0 && options_.max_connects_per_s == 0) return;
  auto it = per_ip_.find(key);
  if (it != per_ip_.end() && it->second.open > 0) --it->second.open;
}

void IpFilter::sweep(int64_t now_ms) {
  for (auto it = per_ip_.begin(); it != per_ip_.end();) {
    // A bucket refills fully within 2 s of silence; then the entry carries no information.
    if (it->second.open == 0 && now_ms - it->second.last_ms > 2000) {
      it = per_ip_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace push::room

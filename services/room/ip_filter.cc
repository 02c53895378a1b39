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

IpFilter::Key IpFilter::keyOf(const net::InetAddress& peer) {
  Key key{};
  const sockaddr* sa = peer.sockaddrPtr();
  if (peer.family() == AF_INET6) {
    const auto* a = &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(a)) {
      // A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d; IPv4 rules must apply.
      key[0] = 4;
      std::memcpy(key.data() + 1, reinterpret_cast<const uint8_t*>(a) + 12, 4);
      return key;
    }
    key[0] = 6;
    std::memcpy(key.data() + 1, a, 16);
  } else {
    const auto* a = &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr;
    key[0] = 4;
    std::memcpy(key.data() + 1, a, 4);
  }
  return key;
}

IpFilter::Verdict IpFilter::admit(const net::InetAddress& peer, int64_t now_ms) {
  Key key = keyOf(peer);
  const int family = key[0] == 6 ? AF_INET6 : AF_INET;
  const uint8_t* addr = key.data() + 1;
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
  PerIp& ip = per_ip_[key];
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

std::string IpFilter::hostOf(const Key& key) {
  char buf[INET6_ADDRSTRLEN] = {0};
  inet_ntop(key[0] == 6 ? AF_INET6 : AF_INET, key.data() + 1, buf, sizeof buf);
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

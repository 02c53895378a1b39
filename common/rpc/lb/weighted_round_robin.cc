#include "common/rpc/lb/weighted_round_robin.h"

#include <algorithm>
#include <unordered_map>

namespace push::rpc {

namespace {

constexpr uint32_t kMinWeight = 1;
constexpr uint32_t kMaxWeight = 1000;

}  // namespace

void WeightedRoundRobinLoadBalancer::setEndpoints(const std::vector<Endpoint>& endpoints) {
  std::unordered_map<std::string, int64_t> previous;
  previous.reserve(peers_.size());
  for (const Peer& peer : peers_)
    previous.emplace(peer.address, peer.current);

  std::vector<Peer> peers;
  peers.reserve(endpoints.size());
  for (const Endpoint& endpoint : endpoints) {
    Peer peer;
    peer.address = endpoint.address;
    peer.weight = std::clamp(endpoint.weight, kMinWeight, kMaxWeight);
    if (auto it = previous.find(endpoint.address); it != previous.end()) {
      peer.current = it->second;
      previous.erase(it);  // a duplicated address inherits only once
    }
    peers.push_back(std::move(peer));
  }
  peers_ = std::move(peers);
}

int WeightedRoundRobinLoadBalancer::select(uint64_t /*key*/, const std::vector<bool>& usable) {
  const size_t n = std::min(peers_.size(), usable.size());
  int best = -1;
  int64_t total = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!usable[i]) continue;
    Peer& peer = peers_[i];
    peer.current += peer.weight;
    total += peer.weight;
    if (best < 0 || peer.current > peers_[static_cast<size_t>(best)].current) {
      best = static_cast<int>(i);
    }
  }
  if (best >= 0) peers_[static_cast<size_t>(best)].current -= total;
  return best;
}

}  // namespace push::rpc

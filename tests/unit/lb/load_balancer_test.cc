#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/rpc/lb/consistent_hash.h"
#include "common/rpc/lb/random.h"
#include "common/rpc/lb/round_robin.h"
#include "common/rpc/lb/weighted_round_robin.h"
#include "common/rpc/load_balancer.h"

namespace push::rpc {
namespace {

std::vector<Endpoint> makeEndpoints(int count, int first = 0) {
  std::vector<Endpoint> endpoints;
  for (int i = first; i < first + count; ++i) {
    endpoints.push_back(Endpoint{"10.0.0." + std::to_string(i) + ":7000", 1});
  }
  return endpoints;
}

std::vector<bool> allUsable(size_t n) {
  return std::vector<bool>(n, true);
}

// Maps each of `keys` to the address it selects.
std::vector<std::string> assign(LoadBalancer& lb, const std::vector<Endpoint>& endpoints,
                                const std::vector<bool>& usable, uint64_t keys) {
  std::vector<std::string> owner;
  owner.reserve(keys);
  for (uint64_t key = 0; key < keys; ++key) {
    const int index = lb.select(key, usable);
    EXPECT_GE(index, 0);
    owner.push_back(index < 0 ? "" : endpoints[static_cast<size_t>(index)].address);
  }
  return owner;
}

// ---------------------------------------------------------------------------------------------
// create()

TEST(LoadBalancerCreateTest, BuildsEachStrategyByName) {
  for (std::string_view name :
       {"round_robin", "weighted_round_robin", "random", "consistent_hash"}) {
    auto lb = LoadBalancer::create(name);
    ASSERT_TRUE(lb.isOk()) << name << ": " << lb.status();
    EXPECT_EQ((*lb)->name(), name);
  }
}

TEST(LoadBalancerCreateTest, EmptyNameIsRoundRobin) {
  auto lb = LoadBalancer::create("");
  ASSERT_TRUE(lb.isOk());
  EXPECT_EQ((*lb)->name(), "round_robin");
}

TEST(LoadBalancerCreateTest, UnknownNameIsInvalidArgumentListingChoices) {
  auto lb = LoadBalancer::create("least_loaded");
  ASSERT_FALSE(lb.isOk());
  EXPECT_EQ(lb.status().code(), Code::INVALID_ARGUMENT);
  const std::string& message = lb.status().message();
  EXPECT_NE(message.find("least_loaded"), std::string::npos) << message;
  for (const char* valid : {"round_robin", "weighted_round_robin", "random", "consistent_hash"}) {
    EXPECT_NE(message.find(valid), std::string::npos) << message;
  }
}

TEST(LoadBalancerCreateTest, EveryStrategyReturnsMinusOneWhenNothingIsUsable) {
  for (std::string_view name :
       {"round_robin", "weighted_round_robin", "random", "consistent_hash"}) {
    auto lb = LoadBalancer::create(name);
    ASSERT_TRUE(lb.isOk());
    EXPECT_EQ((*lb)->select(1, {}), -1) << name << " with no endpoints";
    (*lb)->setEndpoints(makeEndpoints(3));
    EXPECT_EQ((*lb)->select(1, {false, false, false}), -1) << name;
    EXPECT_EQ((*lb)->select(2, {false, false, false}), -1) << name;
    EXPECT_GE((*lb)->select(3, {false, true, false}), 0) << name;
  }
}

// ---------------------------------------------------------------------------------------------
// Round robin

TEST(RoundRobinTest, CyclesThroughEndpoints) {
  RoundRobinLoadBalancer lb;
  lb.setEndpoints(makeEndpoints(3));
  std::vector<int> picks;
  for (int i = 0; i < 7; ++i)
    picks.push_back(lb.select(0, allUsable(3)));
  EXPECT_EQ(picks, (std::vector<int>{0, 1, 2, 0, 1, 2, 0}));
}

TEST(RoundRobinTest, SkipsUnusable) {
  RoundRobinLoadBalancer lb;
  lb.setEndpoints(makeEndpoints(4));
  const std::vector<bool> usable = {true, false, true, false};
  std::vector<int> picks;
  for (int i = 0; i < 6; ++i)
    picks.push_back(lb.select(0, usable));
  EXPECT_EQ(picks, (std::vector<int>{0, 2, 0, 2, 0, 2}));

  // Only one usable endpoint: always it.
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(lb.select(0, {false, false, false, true}), 3);
}

TEST(RoundRobinTest, ShrinkingTheSetKeepsIndexesInRange) {
  RoundRobinLoadBalancer lb;
  lb.setEndpoints(makeEndpoints(5));
  for (int i = 0; i < 4; ++i)
    (void)lb.select(0, allUsable(5));
  lb.setEndpoints(makeEndpoints(2));
  for (int i = 0; i < 10; ++i) {
    const int pick = lb.select(0, allUsable(2));
    EXPECT_TRUE(pick == 0 || pick == 1) << pick;
  }
}

// ---------------------------------------------------------------------------------------------
// Smooth weighted round robin

std::vector<Endpoint> weighted(std::vector<uint32_t> weights) {
  std::vector<Endpoint> endpoints;
  for (size_t i = 0; i < weights.size(); ++i) {
    endpoints.push_back(Endpoint{std::string(1, static_cast<char>('a' + i)), weights[i]});
  }
  return endpoints;
}

TEST(WeightedRoundRobinTest, NginxSequenceFor511) {
  WeightedRoundRobinLoadBalancer lb;
  const auto endpoints = weighted({5, 1, 1});
  lb.setEndpoints(endpoints);
  for (int round = 0; round < 5; ++round) {
    std::string sequence;
    for (int i = 0; i < 7; ++i) {
      const int pick = lb.select(0, allUsable(3));
      ASSERT_GE(pick, 0);
      sequence += endpoints[static_cast<size_t>(pick)].address;
    }
    EXPECT_EQ(sequence, "aabacaa") << "round " << round;
  }
}

TEST(WeightedRoundRobinTest, ProportionsOver7000Picks) {
  WeightedRoundRobinLoadBalancer lb;
  lb.setEndpoints(weighted({5, 1, 1}));
  std::vector<int> counts(3, 0);
  for (int i = 0; i < 7000; ++i)
    ++counts[static_cast<size_t>(lb.select(0, allUsable(3)))];
  // The smooth algorithm is exact over every full cycle of sum(weights) picks.
  EXPECT_EQ(counts, (std::vector<int>{5000, 1000, 1000}));

  WeightedRoundRobinLoadBalancer lb2;
  lb2.setEndpoints(weighted({3, 2, 7, 1}));  // sum 13; 7000 is not a multiple
  std::vector<int> counts2(4, 0);
  for (int i = 0; i < 7000; ++i)
    ++counts2[static_cast<size_t>(lb2.select(0, allUsable(4)))];
  const std::vector<double> share = {3.0 / 13, 2.0 / 13, 7.0 / 13, 1.0 / 13};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_NEAR(counts2[i], share[i] * 7000, 2.0) << "endpoint " << i;
  }
}

TEST(WeightedRoundRobinTest, SkipsUnusableAndSharesAmongTheRest) {
  WeightedRoundRobinLoadBalancer lb;
  lb.setEndpoints(weighted({5, 1, 1}));
  const std::vector<bool> usable = {false, true, true};
  std::vector<int> counts(3, 0);
  for (int i = 0; i < 100; ++i)
    ++counts[static_cast<size_t>(lb.select(0, usable))];
  EXPECT_EQ(counts, (std::vector<int>{0, 50, 50}));
}

TEST(WeightedRoundRobinTest, RefreshWithSameSetKeepsTheSequence) {
  WeightedRoundRobinLoadBalancer lb;
  const auto endpoints = weighted({5, 1, 1});
  lb.setEndpoints(endpoints);
  std::string sequence;
  for (int i = 0; i < 14; ++i) {
    if (i == 3 || i == 9) lb.setEndpoints(endpoints);
    sequence += endpoints[static_cast<size_t>(lb.select(0, allUsable(3)))].address;
  }
  EXPECT_EQ(sequence, "aabacaaaabacaa");
}

// ---------------------------------------------------------------------------------------------
// Random

TEST(RandomTest, OnlyPicksUsableAndCoversAll) {
  RandomLoadBalancer lb(42);
  lb.setEndpoints(makeEndpoints(5));
  const std::vector<bool> usable = {true, false, true, true, false};
  std::vector<int> counts(5, 0);
  constexpr int kPicks = 30000;
  for (int i = 0; i < kPicks; ++i) {
    const int pick = lb.select(0, usable);
    ASSERT_GE(pick, 0);
    ++counts[static_cast<size_t>(pick)];
  }
  EXPECT_EQ(counts[1], 0);
  EXPECT_EQ(counts[4], 0);
  for (size_t i : {0u, 2u, 3u}) {
    // Expected 10000 each; 5 sigma is about 400.
    EXPECT_NEAR(counts[i], kPicks / 3, 600) << "endpoint " << i;
  }
}

TEST(RandomTest, SameSeedSameSequence) {
  RandomLoadBalancer a(7);
  RandomLoadBalancer b(7);
  a.setEndpoints(makeEndpoints(10));
  b.setEndpoints(makeEndpoints(10));
  for (int i = 0; i < 100; ++i)
    EXPECT_EQ(a.select(0, allUsable(10)), b.select(0, allUsable(10)));
}

// ---------------------------------------------------------------------------------------------
// Consistent hash

constexpr uint64_t kKeys = 100000;

TEST(ConsistentHashTest, RingHas160PointsPerUnitOfWeight) {
  ConsistentHashLoadBalancer lb;
  std::vector<Endpoint> endpoints = makeEndpoints(3);
  endpoints[1].weight = 3;
  lb.setEndpoints(endpoints);
  EXPECT_EQ(lb.ringSizeForTest(), 160u * 5);
}

TEST(ConsistentHashTest, SameKeySameEndpoint) {
  ConsistentHashLoadBalancer lb;
  lb.setEndpoints(makeEndpoints(10));
  for (uint64_t key : {0ull, 1ull, 12345ull, 0xffffffffffffffffull}) {
    const int first = lb.select(key, allUsable(10));
    ASSERT_GE(first, 0);
    for (int i = 0; i < 5; ++i)
      EXPECT_EQ(lb.select(key, allUsable(10)), first);
  }
  // A fresh balancer with the endpoints in another order maps keys to the same addresses.
  std::vector<Endpoint> reversed = makeEndpoints(10);
  std::reverse(reversed.begin(), reversed.end());
  ConsistentHashLoadBalancer other;
  other.setEndpoints(reversed);
  EXPECT_EQ(assign(lb, makeEndpoints(10), allUsable(10), 10000),
            assign(other, reversed, allUsable(10), 10000));
}

TEST(ConsistentHashTest, SpreadsKeysOverTenNodes) {
  ConsistentHashLoadBalancer lb;
  const auto endpoints = makeEndpoints(10);
  lb.setEndpoints(endpoints);
  std::map<std::string, int> counts;
  for (const std::string& owner : assign(lb, endpoints, allUsable(10), kKeys))
    ++counts[owner];
  ASSERT_EQ(counts.size(), 10u);
  for (const auto& [address, count] : counts) {
    // Mean 10000; with 160 points per node each node's share is within about +-25%.
    EXPECT_GT(count, 7000) << address;
    EXPECT_LT(count, 13000) << address;
  }
}

TEST(ConsistentHashTest, AddingANodeMovesAboutOneEleventhToTheNewNode) {
  const auto ten = makeEndpoints(10);
  const auto eleven = makeEndpoints(11);
  ConsistentHashLoadBalancer lb;
  lb.setEndpoints(ten);
  const auto before = assign(lb, ten, allUsable(10), kKeys);
  lb.setEndpoints(eleven);
  const auto after = assign(lb, eleven, allUsable(11), kKeys);

  uint64_t moved = 0;
  for (uint64_t key = 0; key < kKeys; ++key) {
    if (before[key] == after[key]) continue;
    ++moved;
    EXPECT_EQ(after[key], eleven.back().address) << "key " << key << " moved to an old node";
  }
  const double fraction = static_cast<double>(moved) / kKeys;
  EXPECT_GT(fraction, 0.05);
  EXPECT_LT(fraction, 0.14);
}

TEST(ConsistentHashTest, RemovingANodeMovesOnlyItsKeys) {
  const auto ten = makeEndpoints(10);
  std::vector<Endpoint> nine = ten;
  const std::string removed = nine[4].address;
  nine.erase(nine.begin() + 4);

  ConsistentHashLoadBalancer lb;
  lb.setEndpoints(ten);
  const auto before = assign(lb, ten, allUsable(10), kKeys);
  lb.setEndpoints(nine);
  const auto after = assign(lb, nine, allUsable(9), kKeys);

  uint64_t moved = 0;
  for (uint64_t key = 0; key < kKeys; ++key) {
    if (before[key] == removed) {
      ++moved;
      EXPECT_NE(after[key], removed);
    } else {
      EXPECT_EQ(after[key], before[key]) << "key " << key << " of a remaining node moved";
    }
  }
  EXPECT_GT(moved, 0u);
}

TEST(ConsistentHashTest, UnusableNodesKeysGoToTheNextAndComeBack) {
  const auto endpoints = makeEndpoints(10);
  ConsistentHashLoadBalancer lb;
  lb.setEndpoints(endpoints);
  const auto before = assign(lb, endpoints, allUsable(10), kKeys);

  std::vector<bool> usable = allUsable(10);
  usable[3] = false;
  const auto during = assign(lb, endpoints, usable, kKeys);
  std::map<std::string, int> receivers;
  for (uint64_t key = 0; key < kKeys; ++key) {
    if (before[key] == endpoints[3].address) {
      EXPECT_NE(during[key], endpoints[3].address);
      ++receivers[during[key]];
    } else {
      EXPECT_EQ(during[key], before[key]) << "key " << key;
    }
  }
  // The down node's keys are spread over the others, not dumped on one neighbour.
  EXPECT_GE(receivers.size(), 5u);

  EXPECT_EQ(assign(lb, endpoints, allUsable(10), kKeys), before);
}

TEST(ConsistentHashTest, WeightScalesTheShare) {
  std::vector<Endpoint> endpoints = makeEndpoints(3);
  endpoints[0].weight = 2;  // expected share 2/4
  ConsistentHashLoadBalancer lb;
  lb.setEndpoints(endpoints);
  std::map<std::string, int> counts;
  for (const std::string& owner : assign(lb, endpoints, allUsable(3), kKeys))
    ++counts[owner];
  EXPECT_NEAR(counts[endpoints[0].address], kKeys / 2, kKeys / 10);
}

}  // namespace
}  // namespace push::rpc

#include "loadtest/loadtester/worker_plan.h"

#include <gtest/gtest.h>

#include <set>

#include "loadtest/loadgen/source_addresses.h"

namespace push::loadtester {
namespace {

std::vector<net::InetAddress> sources(const char* spec) {
  auto s = loadgen::parseSourceAddresses(spec);
  EXPECT_TRUE(s.isOk()) << s.status();
  return s.isOk() ? *s : std::vector<net::InetAddress>{};
}

TEST(WorkerPlanTest, AMillionOverWorkersOfAtMost18000WithDisjointUsersAndSources) {
  WorkerPlanInput in;
  in.connections = 1'000'000;
  in.per_worker = 18'000;
  in.first_user = 7;
  in.sources = sources("127.0.1.1-127.0.1.200");
  in.ports_per_source = 28'232;
  auto plan = planWorkers(in);
  ASSERT_TRUE(plan.isOk()) << plan.status();
  ASSERT_EQ(plan->size(), 56u);
  size_t total = 0, next_user = 7;
  std::set<std::string> seen_sources;
  for (const WorkerSlice& s : *plan) {
    EXPECT_LE(s.connections, 18'000u);
    EXPECT_GE(s.connections, 17'857u);  // even shares
    EXPECT_EQ(s.first_user, next_user);
    next_user += s.connections;
    total += s.connections;
    auto mine = loadgen::parseSourceAddresses(s.sources);
    ASSERT_TRUE(mine.isOk()) << s.sources;
    EXPECT_GE(mine->size(), 3u);
    for (const auto& a : *mine)
      EXPECT_TRUE(seen_sources.insert(a.host()).second) << a.host() << " given twice";
  }
  EXPECT_EQ(total, 1'000'000u);
  EXPECT_EQ(seen_sources.size(), 200u);
}

TEST(WorkerPlanTest, FewerSourcesThanWorkersAreAllUsedByEveryWorker) {
  WorkerPlanInput in;
  in.connections = 100;
  in.per_worker = 10;
  in.sources = sources("127.0.0.2-127.0.0.4");
  auto plan = planWorkers(in);
  ASSERT_TRUE(plan.isOk()) << plan.status();
  ASSERT_EQ(plan->size(), 10u);
  for (const WorkerSlice& s : *plan)
    EXPECT_EQ(s.sources, "127.0.0.2,127.0.0.3,127.0.0.4");
}

// 1M over 56 workers and 36 addresses fits the ports only if every address carries an even
// share: handed out round robin, 20 addresses would serve two workers (35714 connections).
TEST(WorkerPlanTest, AMillionFitsThirtySixAddressesSharedEvenly) {
  WorkerPlanInput in;
  in.connections = 1'000'000;
  in.sources = sources("127.0.2.1-127.0.2.36");
  in.ports_per_source = 28'232;
  auto plan = planWorkers(in);
  ASSERT_TRUE(plan.isOk()) << plan.status();
  EXPECT_EQ(plan->size(), 56u);
  in.sources.pop_back();
  EXPECT_FALSE(planWorkers(in).isOk());
}

// The check is on the plan as built: groups of unequal size load their addresses unequally.
TEST(WorkerPlanTest, AnUnevenGroupOverItsPortsIsRefused) {
  WorkerPlanInput in;
  in.connections = 30;
  in.per_worker = 10;                           // 3 workers
  in.sources = sources("127.0.0.2-127.0.0.5");  // groups of 1, 1 and 2 addresses
  in.ports_per_source = 8;                      // 7.5 a address on average, 10 on the first
  auto plan = planWorkers(in);
  ASSERT_FALSE(plan.isOk());
  EXPECT_NE(plan.status().message().find("puts 10 on one"), std::string::npos) << plan.status();
}

TEST(WorkerPlanTest, NoSourcesLeavesThePickToTheKernel) {
  WorkerPlanInput in;
  in.connections = 5;
  auto plan = planWorkers(in);
  ASSERT_TRUE(plan.isOk()) << plan.status();
  ASSERT_EQ(plan->size(), 1u);
  EXPECT_EQ((*plan)[0].connections, 5u);
  EXPECT_EQ((*plan)[0].sources, "");
}

TEST(WorkerPlanTest, MoreConnectionsThanTheSourcesHavePortsIsRefusedWithWhatItTakes) {
  WorkerPlanInput in;
  in.connections = 100'000;
  in.sources = sources("127.0.0.2-127.0.0.3");
  in.ports_per_source = 28'232;
  auto plan = planWorkers(in);
  ASSERT_FALSE(plan.isOk());
  EXPECT_EQ(plan.status().code(), Code::INVALID_ARGUMENT);
  EXPECT_NE(plan.status().message().find("at least 4 source addresses"), std::string::npos)
      << plan.status();
  in.sources.clear();
  EXPECT_FALSE(planWorkers(in).isOk());
}

TEST(WorkerPlanTest, NothingToDoIsAnError) {
  WorkerPlanInput in;
  EXPECT_FALSE(planWorkers(in).isOk());
  in.connections = 10;
  in.per_worker = 0;
  EXPECT_FALSE(planWorkers(in).isOk());
}

}  // namespace
}  // namespace push::loadtester

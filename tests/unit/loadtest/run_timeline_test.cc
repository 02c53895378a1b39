#include "loadtest/loadtester/run_timeline.h"

#include <gtest/gtest.h>

namespace push::loadtester {
namespace {

std::string statsLine(uint64_t ready, uint64_t lost, uint64_t pings, uint64_t cpu_ms,
                      const loadgen::LatencyHistogram& rtt) {
  return "STATS ready=" + std::to_string(ready) + " failed=0 lost=" + std::to_string(lost) +
         " pings=" + std::to_string(pings) + " pongs=" + std::to_string(pings) +
         " pushes=0 cpu_ms=" + std::to_string(cpu_ms) + " rtt=" + rtt.encode();
}

TEST(RunTimelineTest, SumsWorkersAndTurnsCountsIntoRatesPerSecond) {
  RunTimeline t(2);
  loadgen::LatencyHistogram fast, slow;
  fast.record(1'000'000);  // 1 ms
  slow.record(9'000'000);
  ASSERT_TRUE(t.addStatsLine(0, statsLine(100, 0, 10, 200, fast)));
  ASSERT_TRUE(t.addStatsLine(1, statsLine(50, 0, 5, 300, slow)));
  const TimelinePoint first = t.closeSecond(1.0);
  EXPECT_EQ(first.connected, 150u);
  EXPECT_DOUBLE_EQ(first.new_per_s, 150);
  EXPECT_DOUBLE_EQ(first.pings_per_s, 15);
  EXPECT_DOUBLE_EQ(first.loadgen_cores, 0.5);
  EXPECT_EQ(first.rtt_count, 2u);
  EXPECT_EQ(first.rtt_max_ns, 9'000'000);

  // Two seconds later: worker 0 lost 10, worker 1 sent no line (its last counts stay).
  ASSERT_TRUE(t.addStatsLine(0, statsLine(300, 10, 30, 1200, {})));
  const TimelinePoint second = t.closeSecond(3.0);
  EXPECT_EQ(second.ready, 350u);
  EXPECT_EQ(second.lost, 10u);
  EXPECT_EQ(second.connected, 340u);
  EXPECT_DOUBLE_EQ(second.new_per_s, 100);  // 200 more over 2 s
  EXPECT_DOUBLE_EQ(second.pings_per_s, 10);
  EXPECT_EQ(second.rtt_count, 0u);
  EXPECT_EQ(t.points().size(), 2u);
  EXPECT_EQ(t.allRoundTrips().count(), 2u);
  EXPECT_EQ(t.totals().cpu_ms, 1500u);
}

TEST(RunTimelineTest, RoundTripsAfterTheLastPointCountWithoutAPoint) {
  RunTimeline t(1);
  loadgen::LatencyHistogram rtt;
  rtt.record(2'000'000);
  ASSERT_TRUE(t.addStatsLine(0, statsLine(10, 0, 1, 0, rtt)));
  t.closeSecond(1.0);
  ASSERT_TRUE(t.addStatsLine(0, statsLine(10, 0, 2, 0, rtt)));
  t.flushRoundTrips();
  EXPECT_EQ(t.points().size(), 1u);
  EXPECT_EQ(t.allRoundTrips().count(), 2u);
  EXPECT_EQ(t.totals().pings, 2u);
  EXPECT_DOUBLE_EQ(t.lastPointAt(), 1.0);
}

TEST(RunTimelineTest, MalformedLinesChangeNothingAndNewFieldsAreIgnored) {
  RunTimeline t(1);
  EXPECT_FALSE(t.addStatsLine(0, "READY 5"));
  EXPECT_FALSE(t.addStatsLine(0, "STATS ready=x rtt="));
  EXPECT_FALSE(t.addStatsLine(0, "STATS ready=5"));  // no rtt field
  EXPECT_FALSE(t.addStatsLine(0, "STATS ready=5 rtt=5;1"));
  EXPECT_FALSE(t.addStatsLine(1, "STATS ready=5 rtt="));  // no worker 1
  EXPECT_EQ(t.totals().ready, 0u);
  EXPECT_TRUE(t.addStatsLine(0, "STATS ready=5 reconnects=2 rtt="));
  EXPECT_EQ(t.totals().ready, 5u);
}

TEST(RunTimelineTest, HowConnectionsEndedIsSummedOverWorkers) {
  RunTimeline t(2);
  ASSERT_TRUE(t.addStatsLine(
      0, "STATS ready=5 failed=3 lost=4 failed_by=auth_timeout:2,connect:1 lost_by=closed:4 rtt="));
  ASSERT_TRUE(
      t.addStatsLine(1, "STATS ready=5 failed=0 lost=2 failed_by=- lost_by=closed:1,reset:1 rtt="));
  const WorkerSample total = t.totals();
  EXPECT_EQ(total.failed_by,
            (std::map<std::string, uint64_t>{{"auth_timeout", 2}, {"connect", 1}}));
  EXPECT_EQ(total.lost_by, (std::map<std::string, uint64_t>{{"closed", 5}, {"reset", 1}}));
  // A newer line replaces the worker's counts (they are cumulative), it does not add to them.
  ASSERT_TRUE(t.addStatsLine(1, "STATS ready=5 lost=3 lost_by=closed:1,reset:2 rtt="));
  EXPECT_EQ(t.totals().lost_by.at("reset"), 2u);
}

TEST(RunTimelineTest, MalformedEndingsRefuseTheLine) {
  RunTimeline t(1);
  for (const char* bad : {"lost_by=closed", "lost_by=closed:", "lost_by=:3", "lost_by=closed:x",
                          "lost_by=closed:1,", "failed_by="}) {
    EXPECT_FALSE(t.addStatsLine(0, std::string("STATS ready=5 ") + bad + " rtt=")) << bad;
  }
  EXPECT_EQ(t.totals().ready, 0u);
}

TEST(RunTimelineTest, UnicastCountsOfReceiversAndTheSenderMakeRatesAndLatency) {
  RunTimeline t(2);
  loadgen::LatencyHistogram lat;
  lat.record(3'000'000);
  const std::string base = statsLine(10, 0, 0, 0, {});
  ASSERT_TRUE(t.addStatsLine(0, base + " uni=100,98,1,1,0,0 lat=" + lat.encode()));
  ASSERT_TRUE(t.addStatsLine(1, base + " uni=50,50,0,0,0,0 lat="));
  ASSERT_TRUE(t.addSentLine(
      "SENT sent=160 responses=150 delivered=148 offline=2 errors=1 skipped=3 cpu_ms=500"));
  const TimelinePoint p = t.closeSecond(1.0);
  EXPECT_DOUBLE_EQ(p.sent_per_s, 160);
  EXPECT_DOUBLE_EQ(p.delivered_per_s, 148);
  EXPECT_EQ(p.duplicates, 1u);
  EXPECT_EQ(p.send_errors, 1u);
  EXPECT_EQ(p.lat_max_ns, 3'000'000);
  EXPECT_DOUBLE_EQ(p.loadgen_cores, 0.5);  // the sender's CPU counts with the workers'
  const WorkerSample s = t.totals();
  EXPECT_EQ(s.uni_received, 150u);
  EXPECT_EQ(s.uni_unique, 148u);
  EXPECT_EQ(s.uni_misrouted, 1u);
  EXPECT_EQ(t.sender().delivered, 148u);
  EXPECT_EQ(t.sender().skipped, 3u);
  EXPECT_EQ(t.allLatencies().count(), 1u);

  // Malformed: the sender's counts and the receivers' stay as they were.
  EXPECT_FALSE(t.addSentLine("SENT sent=x"));
  EXPECT_FALSE(t.addSentLine("STATS sent=1"));
  EXPECT_FALSE(t.addStatsLine(0, base + " uni=1,2,3"));
  EXPECT_FALSE(t.addStatsLine(0, base + " uni=1,2,3,4,5,6,7"));
  EXPECT_FALSE(t.addStatsLine(0, base + " uni=1,2,3,4,5,6 lat=bogus"));
  EXPECT_EQ(t.sender().sent, 160u);
  EXPECT_EQ(t.totals().uni_unique, 148u);
}

TEST(RunTimelineTest, BroadcastCopiesOfReceiversAndThePublishersLine) {
  RunTimeline t(2);
  loadgen::LatencyHistogram lat;
  lat.record(40'000'000);
  const std::string base = statsLine(10, 0, 0, 0, {});
  ASSERT_TRUE(t.addStatsLine(0, base + " bc=21,20,1,0,0,5000 lat=" + lat.encode()));
  ASSERT_TRUE(t.addStatsLine(1, base + " bc=10,10,0,2,1,7000 lat="));
  const TimelinePoint p = t.closeSecond(1.0);
  EXPECT_DOUBLE_EQ(p.delivered_per_s, 30);
  EXPECT_EQ(p.duplicates, 1u);
  EXPECT_EQ(p.lat_max_ns, 40'000'000);
  const WorkerSample s = t.totals();
  EXPECT_EQ(s.bc_received, 31u);
  EXPECT_EQ(s.bc_unique, 30u);
  EXPECT_EQ(s.bc_unmatched, 2u);
  EXPECT_EQ(s.bc_out_of_range, 1u);
  EXPECT_EQ(s.bc_last_ns, 7000u);  // the latest over the workers
  EXPECT_FALSE(t.publisher().done);

  // push-load broadcast's result line, from "role=publisher" on; fields it does not need
  // (fractions among them) are skipped.
  ASSERT_TRUE(t.addPublisherLine(
      "role=publisher sent=3 ok=2 errors=1 skipped=0 unanswered=0 first_send_ns=1000 "
      "last_send_ns=2000 seconds=0.500 per_s=6 api_p50_ms=1.250"));
  EXPECT_TRUE(t.publisher().done);
  EXPECT_EQ(t.publisher().ok, 2u);
  EXPECT_EQ(t.publisher().errors, 1u);
  EXPECT_EQ(t.publisher().first_send_ns, 1000u);
  EXPECT_EQ(t.closeSecond(2.0).send_errors, 1u);

  // Malformed: nothing changes.
  EXPECT_FALSE(t.addPublisherLine("role=publisher sent=4 ok=x"));
  EXPECT_FALSE(t.addPublisherLine("role=publisher sent=4"));  // no ok=: not a result line
  EXPECT_FALSE(t.addStatsLine(0, base + " bc=1,2,3,4,5"));
  EXPECT_EQ(t.publisher().sent, 3u);
  EXPECT_EQ(t.totals().bc_unique, 30u);
}

TEST(RunTimelineTest, UpstreamAcksOfWorkersAndTheWebhooksCounts) {
  RunTimeline t(2);
  loadgen::LatencyHistogram lat;
  lat.record(9'000'000);
  const std::string base = statsLine(10, 0, 0, 0, {});
  ASSERT_TRUE(
      t.addStatsLine(0, base + " up=50,45,3,2,0,1 up_errors=unavailable:3 lat=" + lat.encode()));
  ASSERT_TRUE(t.addStatsLine(1, base + " up=50,50,0,0,1,0 up_errors=- lat="));
  ASSERT_TRUE(
      t.addHookLine("HOOK received=96 unique=95 duplicates=1 unreadable=0 untracked=0 cpu_ms=200"));
  const TimelinePoint p = t.closeSecond(1.0);
  EXPECT_DOUBLE_EQ(p.sent_per_s, 100);
  EXPECT_DOUBLE_EQ(p.delivered_per_s, 95);
  EXPECT_EQ(p.send_errors, 3u);
  EXPECT_EQ(p.duplicates, 1u);  // the webhook's
  EXPECT_EQ(p.lat_max_ns, 9'000'000);
  EXPECT_DOUBLE_EQ(p.loadgen_cores, 0.2);  // the webhook's CPU counts with the workers'
  const WorkerSample s = t.totals();
  EXPECT_EQ(s.up_ok, 95u);
  EXPECT_EQ(s.up_skipped, 2u);
  EXPECT_EQ(s.up_unmatched, 1u);
  EXPECT_EQ(s.up_done, 1u);  // one of the two workers is done sending
  EXPECT_EQ(s.up_errors_by.at("unavailable"), 3u);
  EXPECT_TRUE(t.hook().seen);
  EXPECT_EQ(t.hook().unique, 95u);

  // Malformed: nothing changes.
  EXPECT_FALSE(t.addHookLine("HOOK received=x"));
  EXPECT_FALSE(t.addHookLine("STATS received=1"));
  EXPECT_FALSE(t.addStatsLine(0, base + " up=1,2,3"));
  EXPECT_FALSE(t.addStatsLine(0, base + " up=1,2,3,4,5"));  // no done flag
  EXPECT_FALSE(t.addStatsLine(0, base + " up=1,2,3,4,5,0 up_errors=unavailable"));
  EXPECT_EQ(t.hook().received, 96u);
  EXPECT_EQ(t.totals().up_sent, 100u);
}

}  // namespace
}  // namespace push::loadtester

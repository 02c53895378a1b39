#include "loadtest/loadtester/run_report.h"

#include <gtest/gtest.h>

namespace push::loadtester {
namespace {

RunReport sampleReport() {
  RunReport r;
  r.scenario = "hold";
  r.started_at = "2026-12-05T10:00:00Z";
  r.passed = false;
  r.settings = {{"server", "127.0.0.1:7100"}, {"connections", "3"}};
  r.results = {{"ready", 3}, {"rtt_p99_ms", 1.5}};
  r.problems = {"worker 0: FAILED 1 room: \"bad\" </script><b>x</b>\n"};
  for (int s = 1; s <= 3; ++s) {
    TimelinePoint p;
    p.t_s = s;
    p.connected = static_cast<uint64_t>(s);
    r.timeline.push_back(p);
  }
  r.latency_name = "ping round trip";
  r.latency.record(1'500'000);
  return r;
}

TEST(RunReportTest, JsonHoldsEveryPartAndEscapesText) {
  const std::string json = reportJson(sampleReport());
  EXPECT_EQ(json.front(), '{');
  EXPECT_EQ(json.back(), '}');
  for (const char* part :
       {"\"scenario\":\"hold\"", "\"passed\":false", "\"connections\":\"3\"", "\"rtt_p99_ms\":1.5",
        "\"timeline\":[{\"t_s\":1,", "\"percentiles\":[[0,", "\\\"bad\\\"", "\\u003c/script\\u003e",
        "\\n\"]"}) {
    EXPECT_NE(json.find(part), std::string::npos) << part << " not in " << json;
  }
  EXPECT_EQ(json.find("</script>"), std::string::npos);
}

TEST(RunReportTest, CountsPrintInFullAndOtherFiguresToSixDigits) {
  EXPECT_EQ(formatNumber(1'000'000), "1000000");
  EXPECT_EQ(formatNumber(0), "0");
  EXPECT_EQ(formatNumber(1.5), "1.5");
  EXPECT_EQ(formatNumber(239.7771), "239.777");
  EXPECT_EQ(formatNumber(1.0 / 0.0), "0");
}

TEST(RunReportTest, PageEmbedsTheReportAndHasPlacesForTheThreeCharts) {
  const std::string html = reportHtml(sampleReport());
  EXPECT_NE(html.find(reportJson(sampleReport())), std::string::npos);
  for (const char* id : {"chart-connections", "chart-throughput", "chart-latency"})
    EXPECT_NE(html.find(std::string("id=\"") + id + "\""), std::string::npos) << id;
  // Only the page's own two scripts end: the problem text cannot close one.
  size_t ends = 0;
  for (size_t at = html.find("</script>"); at != std::string::npos;
       at = html.find("</script>", at + 1))
    ++ends;
  EXPECT_EQ(ends, 2u);
  EXPECT_EQ(html.find("http://"), html.find("http://www.w3.org/2000/svg"));  // nothing fetched
  EXPECT_EQ(html.find("https://"), std::string::npos);
}

}  // namespace
}  // namespace push::loadtester

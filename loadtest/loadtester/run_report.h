#pragma once

#include <string>
#include <utility>
#include <vector>

#include "loadtest/loadgen/latency_histogram.h"
#include "loadtest/loadtester/run_timeline.h"

namespace push::loadtester {

// What push-loadtest writes at the end of a run: a JSON report and a self-contained HTML page
// (no network, no files next to it) drawing its charts from that JSON with inline script.
struct RunReport {
  std::string scenario;    // connect, hold, reconnect-storm, unicast, broadcast
  std::string started_at;  // UTC, ISO 8601
  bool passed = false;     // every goal of the scenario met
  // The run's settings as given (flag, value).
  std::vector<std::pair<std::string, std::string>> settings;
  // Headline figures (name, value), in the order printed.
  std::vector<std::pair<std::string, double>> results;
  // Why it did not pass, or anything that went wrong (a worker's exit, its first error).
  std::vector<std::string> problems;
  std::vector<TimelinePoint> timeline;
  std::string latency_name;  // what `latency` measured, e.g. "ping round trip"
  loadgen::LatencyHistogram latency;
};

// A figure as the report and the RESULT line print it: whole numbers in full, others to 6
// significant digits; 0 for NaN and infinities.
std::string formatNumber(double v);

std::string reportJson(const RunReport& report);
// The page embeds reportJson(report); `<` is escaped in it so no text closes the script.
std::string reportHtml(const RunReport& report);

}  // namespace push::loadtester

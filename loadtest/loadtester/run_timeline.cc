#include "loadtest/loadtester/run_timeline.h"

#include <algorithm>
#include <charconv>

namespace push::loadtester {
namespace {

bool parseCount(std::string_view text, uint64_t* out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size() && !text.empty();
}

// "name:count,name:count" or "-" (none) into `out`; false when malformed.
bool parseCounts(std::string_view text, std::map<std::string, uint64_t>* out) {
  out->clear();
  if (text == "-") return true;
  for (size_t start = 0;;) {
    const size_t comma = text.find(',', start);
    const std::string_view item = text.substr(start, comma - start);  // npos: to the end
    const size_t colon = item.find(':');
    uint64_t n = 0;
    if (colon == 0 || colon == std::string_view::npos || !parseCount(item.substr(colon + 1), &n)) {
      return false;  // also an empty item: "", "a:1,", "a:1,,b:2"
    }
    (*out)[std::string(item.substr(0, colon))] += n;
    if (comma == std::string_view::npos) return true;
    start = comma + 1;
  }
}

}  // namespace

bool RunTimeline::addStatsLine(size_t worker, std::string_view line) {
  constexpr std::string_view kPrefix = "STATS ";
  if (worker >= latest_.size() || line.substr(0, kPrefix.size()) != kPrefix) return false;
  line.remove_prefix(kPrefix.size());
  WorkerSample s;
  std::string_view rtt;
  bool seen_rtt = false;
  while (!line.empty()) {
    const size_t space = line.find(' ');
    const std::string_view field = line.substr(0, space);
    line = space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
    const size_t eq = field.find('=');
    if (eq == std::string_view::npos) return false;
    const std::string_view key = field.substr(0, eq), value = field.substr(eq + 1);
    if (key == "rtt") {
      rtt = value;
      seen_rtt = true;
      continue;
    }
    if (key == "failed_by" || key == "lost_by") {
      if (!parseCounts(value, key == "failed_by" ? &s.failed_by : &s.lost_by)) return false;
      continue;
    }
    uint64_t* target = key == "ready"              ? &s.ready
                       : key == "failed"           ? &s.failed
                       : key == "lost"             ? &s.lost
                       : key == "pings"            ? &s.pings
                       : key == "pongs"            ? &s.pongs
                       : key == "pushes"           ? &s.pushes
                       : key == "cpu_ms"           ? &s.cpu_ms
                       : key == "reconnected"      ? &s.reconnected
                       : key == "reconnect_failed" ? &s.reconnect_failed
                       : key == "last_back_ns"     ? &s.last_back_ns
                                                   : nullptr;
    if (target == nullptr) continue;  // a field of a newer worker
    if (!parseCount(value, target)) return false;
  }
  if (!seen_rtt) return false;
  loadgen::LatencyHistogram h;
  if (!h.mergeEncoded(rtt)) return false;
  second_rtt_.merge(h);
  latest_[worker] = s;
  return true;
}

WorkerSample RunTimeline::totals() const {
  WorkerSample t;
  for (const WorkerSample& s : latest_) {
    t.ready += s.ready;
    t.failed += s.failed;
    t.lost += s.lost;
    t.pings += s.pings;
    t.pongs += s.pongs;
    t.pushes += s.pushes;
    t.cpu_ms += s.cpu_ms;
    t.reconnected += s.reconnected;
    t.reconnect_failed += s.reconnect_failed;
    t.last_back_ns = std::max(t.last_back_ns, s.last_back_ns);
    for (const auto& [name, n] : s.failed_by)
      t.failed_by[name] += n;
    for (const auto& [name, n] : s.lost_by)
      t.lost_by[name] += n;
  }
  return t;
}

const TimelinePoint& RunTimeline::closeSecond(double t_s) {
  const WorkerSample now = totals();
  const double dt = t_s > previous_t_s_ ? t_s - previous_t_s_ : 1.0;
  // Counters only grow per worker; a worker whose line was missed this second shows up in
  // the next one. Differences are clamped so a restarted count never goes negative.
  const auto rate = [dt](uint64_t a, uint64_t b) {
    return a > b ? static_cast<double>(a - b) / dt : 0.0;
  };
  TimelinePoint p;
  p.t_s = t_s;
  p.ready = now.ready;
  p.failed = now.failed;
  p.lost = now.lost;
  p.reconnected = now.reconnected;
  p.connected = now.ready + now.reconnected > now.lost ? now.ready + now.reconnected - now.lost : 0;
  p.new_per_s = rate(now.ready, previous_.ready);
  p.back_per_s = rate(now.reconnected, previous_.reconnected);
  p.pings_per_s = rate(now.pings, previous_.pings);
  p.pongs_per_s = rate(now.pongs, previous_.pongs);
  p.pushes_per_s = rate(now.pushes, previous_.pushes);
  p.loadgen_cores = rate(now.cpu_ms, previous_.cpu_ms) / 1000.0;
  p.rtt_count = second_rtt_.count();
  p.rtt_p50_ns = second_rtt_.percentile(0.5);
  p.rtt_p99_ns = second_rtt_.percentile(0.99);
  p.rtt_max_ns = second_rtt_.max();
  all_rtt_.merge(second_rtt_);
  second_rtt_.reset();
  previous_ = now;
  previous_t_s_ = t_s;
  points_.push_back(p);
  return points_.back();
}

void RunTimeline::flushRoundTrips() {
  all_rtt_.merge(second_rtt_);
  second_rtt_.reset();
}

}  // namespace push::loadtester

#include "loadtest/loadtester/run_timeline.h"

#include <algorithm>
#include <charconv>
#include <initializer_list>
#include <utility>

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

// "a,b,c,..." into exactly as many counts as `out` has.
bool parseList(std::string_view text, std::initializer_list<uint64_t*> out) {
  size_t i = 0;
  for (uint64_t* target : out) {
    const size_t comma = text.find(',');
    const bool last = ++i == out.size();
    if ((comma == std::string_view::npos) != last || !parseCount(text.substr(0, comma), target)) {
      return false;
    }
    if (!last) text.remove_prefix(comma + 1);
  }
  return true;
}

// "key=value key=value": calls on_field(key, value) for each; false when a field has no '=' or
// on_field says so.
template <typename OnField>
bool forEachField(std::string_view line, OnField on_field) {
  while (!line.empty()) {
    const size_t space = line.find(' ');
    const std::string_view field = line.substr(0, space);
    line = space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
    const size_t eq = field.find('=');
    if (eq == std::string_view::npos || !on_field(field.substr(0, eq), field.substr(eq + 1))) {
      return false;
    }
  }
  return true;
}

// A line "<prefix>key=value key=value ...": the values of the named keys into their counts
// (other keys are a newer process's or not needed, and skipped). False when the prefix is not
// there, a field has no '=', or a named value is not a count.
bool readCountsLine(std::string_view line, std::string_view prefix,
                    std::initializer_list<std::pair<std::string_view, uint64_t*>> targets) {
  if (line.substr(0, prefix.size()) != prefix) return false;
  return forEachField(line.substr(prefix.size()), [&targets](auto key, auto value) {
    for (const auto& [name, target] : targets) {
      if (key == name) return parseCount(value, target);
    }
    return true;
  });
}

}  // namespace

bool RunTimeline::addSentLine(std::string_view line) {
  SenderSample s;
  if (!readCountsLine(line, "SENT ",
                      {{"sent", &s.sent},
                       {"responses", &s.responses},
                       {"delivered", &s.delivered},
                       {"offline", &s.offline},
                       {"errors", &s.errors},
                       {"skipped", &s.skipped},
                       {"kept", &s.kept},
                       {"target_errors", &s.target_errors},
                       {"cpu_ms", &s.cpu_ms}})) {
    return false;
  }
  sender_ = s;
  return true;
}

bool RunTimeline::addPublisherLine(std::string_view line) {
  PublisherSample s;
  if (line.find("ok=") == std::string_view::npos ||
      !readCountsLine(line, "",
                      {{"sent", &s.sent},
                       {"ok", &s.ok},
                       {"errors", &s.errors},
                       {"skipped", &s.skipped},
                       {"unanswered", &s.unanswered},
                       {"first_send_ns", &s.first_send_ns}})) {
    return false;
  }
  s.done = true;
  publisher_ = s;
  return true;
}

bool RunTimeline::addHookLine(std::string_view line) {
  HookSample s;
  if (!readCountsLine(line, "HOOK ",
                      {{"received", &s.received},
                       {"unique", &s.unique},
                       {"duplicates", &s.duplicates},
                       {"unreadable", &s.unreadable},
                       {"untracked", &s.untracked},
                       {"cpu_ms", &s.cpu_ms}})) {
    return false;
  }
  s.seen = true;
  hook_ = s;
  return true;
}

bool RunTimeline::addStatsLine(size_t worker, std::string_view line) {
  constexpr std::string_view kPrefix = "STATS ";
  if (worker >= latest_.size() || line.substr(0, kPrefix.size()) != kPrefix) return false;
  line.remove_prefix(kPrefix.size());
  WorkerSample s;
  std::string_view rtt, lat;
  bool seen_rtt = false;
  const bool ok = forEachField(line, [&](std::string_view key, std::string_view value) {
    if (key == "rtt") {
      rtt = value;
      seen_rtt = true;
      return true;
    }
    if (key == "lat") {
      lat = value;
      return true;
    }
    if (key == "uni") {
      return parseList(value, {&s.uni_received, &s.uni_unique, &s.uni_duplicates, &s.uni_misrouted,
                               &s.uni_unreadable, &s.uni_untracked});
    }
    if (key == "bc") {
      return parseList(value, {&s.bc_received, &s.bc_unique, &s.bc_duplicates, &s.bc_unmatched,
                               &s.bc_out_of_range, &s.bc_last_ns});
    }
    if (key == "up") {
      return parseList(
          value, {&s.up_sent, &s.up_ok, &s.up_errors, &s.up_skipped, &s.up_unmatched, &s.up_done});
    }
    if (key == "up_errors") return parseCounts(value, &s.up_errors_by);
    if (key == "failed_by" || key == "lost_by") {
      return parseCounts(value, key == "failed_by" ? &s.failed_by : &s.lost_by);
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
    return target == nullptr || parseCount(value, target);  // unknown: a newer worker's
  });
  if (!ok || !seen_rtt) return false;
  loadgen::LatencyHistogram h, l;
  if (!h.mergeEncoded(rtt) || !l.mergeEncoded(lat)) return false;
  second_rtt_.merge(h);
  second_lat_.merge(l);
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
    t.uni_received += s.uni_received;
    t.uni_unique += s.uni_unique;
    t.uni_duplicates += s.uni_duplicates;
    t.uni_misrouted += s.uni_misrouted;
    t.uni_unreadable += s.uni_unreadable;
    t.uni_untracked += s.uni_untracked;
    t.bc_received += s.bc_received;
    t.bc_unique += s.bc_unique;
    t.bc_duplicates += s.bc_duplicates;
    t.bc_unmatched += s.bc_unmatched;
    t.bc_out_of_range += s.bc_out_of_range;
    t.bc_last_ns = std::max(t.bc_last_ns, s.bc_last_ns);
    t.up_sent += s.up_sent;
    t.up_ok += s.up_ok;
    t.up_errors += s.up_errors;
    t.up_skipped += s.up_skipped;
    t.up_unmatched += s.up_unmatched;
    t.up_done += s.up_done;
    for (const auto& [name, n] : s.up_errors_by)
      t.up_errors_by[name] += n;
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
  p.loadgen_cores =
      (rate(now.cpu_ms, previous_.cpu_ms) + rate(sender_.cpu_ms, previous_sender_.cpu_ms) +
       rate(hook_.cpu_ms, previous_hook_.cpu_ms)) /
      1000.0;
  p.sent_per_s = rate(sender_.sent + now.up_sent, previous_sender_.sent + previous_.up_sent);
  p.delivered_per_s = rate(now.uni_unique + now.bc_unique + now.up_ok,
                           previous_.uni_unique + previous_.bc_unique + previous_.up_ok);
  p.send_errors = sender_.errors + publisher_.errors + now.up_errors;
  p.duplicates = now.uni_duplicates + now.bc_duplicates + hook_.duplicates;
  previous_hook_ = hook_;
  p.lat_p50_ns = second_lat_.percentile(0.5);
  p.lat_p99_ns = second_lat_.percentile(0.99);
  p.lat_max_ns = second_lat_.max();
  all_lat_.merge(second_lat_);
  second_lat_.reset();
  previous_sender_ = sender_;
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
  all_lat_.merge(second_lat_);
  second_lat_.reset();
}

}  // namespace push::loadtester

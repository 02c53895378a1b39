// queue-bench: publish and consume rates and end-to-end latency of an NSQ daemon (our queued
// or the real nsqd: the same protocol V2, the same client, common/queue/client), one phase per
// run. loadtest/run_queue_bench.sh runs every phase against both daemons.
//
//   queue-bench pub     --nsqd H:P --topic T [--publishers 1] [--size 256] [--batch 1]
//                       [--depth 64] [--count N] [--seconds S]
//   queue-bench sub     --nsqd H:P --topic T [--channel C] [--consumers 1]
//                       [--max-in-flight 2500] --count N [--seconds S]
//   queue-bench fanout  --nsqd H:P --topic T [--channels 8] [--publishers 1] [--size 256]
//                       [--batch 200] [--depth 4] [--max-in-flight 2500] --count N [--seconds S]
//   queue-bench latency --nsqd H:P --topic T [--channel C] --rate R [--size 256]
//                       [--max-in-flight 2500] [--seconds S] [--warmup-seconds 1]
//   every mode: [--phase NAME] (echoed in the result line) [--max-seconds 120]
//
// pub: each publisher is one Producer (one connection) keeping `depth` commands in flight,
//   each a PUB (batch 1) or an MPUB of `batch` messages, until `count` messages are sent or
//   `seconds` pass; rate = messages acknowledged OK / (last answer - first send).
// sub: consumers (one Consumer, one connection each, RDY = max-in-flight) on one channel read
//   a backlog published beforehand until `count` messages arrived (or `seconds`); rate =
//   messages / (last arrival - first arrival). auto_finish: every message is FINed.
// fanout: one consumer on each of `channels` channels subscribes first; then publishers send
//   `count` messages (MPUB) as fast as they are acknowledged; rate = deliveries (all channels)
//   / (last delivery - first send); also the publish rate and end-to-end latency.
// latency: one consumer subscribes, one producer PUBs at `rate` msgs/s (1 ms timer plus pacing
//   on every answer; at most 10000 in flight, beyond that a message due is skipped and
//   counted) for warmup + `seconds`; latency = arrival - send, of messages sent in the window.
//
// Every body is `size` bytes and starts with its send time (CLOCK_MONOTONIC ns, 8 bytes).
// The end-to-end latency is taken in this process, send and arrival on the same clock.
//
// Prints "MEASURING" when the measured part starts and "MEASURED" when it ends (for sampling
// the daemon's CPU), then one line:
//   PHASE name=<phase> mode=<mode> msgs=<n> seconds=<s> msg_per_s=<r> [pub_msgs= pub_msg_per_s=]
//     [p50_us= p99_us= p999_us= max_us= skipped=] errors=<n> bench_cpu=<cores>
// Exit status: 0 done, 1 setup failed or nothing measured, 2 usage, 3 --max-seconds reached.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "common/base/command_line.h"
#include "common/base/log.h"
#include "common/net/event_loop.h"
#include "common/net/periodic_timer.h"
#include "common/queue/client/consumer.h"
#include "common/queue/client/producer.h"

namespace {

using namespace push;

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitMaxSeconds = 3;

int64_t monoNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

double cpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto sec = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  return sec(ru.ru_utime) + sec(ru.ru_stime);
}

void printLine(const std::string& line) {
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

// A body of `size` bytes (at least 8) stamped with `stamp_ns`.
std::string makeBody(size_t size, int64_t stamp_ns) {
  std::string body(std::max<size_t>(size, 8), 'q');
  std::memcpy(body.data(), &stamp_ns, sizeof stamp_ns);
  return body;
}

int64_t stampOf(const std::string& body) {
  int64_t ns = 0;
  if (body.size() >= sizeof ns) std::memcpy(&ns, body.data(), sizeof ns);
  return ns;
}

struct Config {
  std::string mode;
  std::string phase;
  std::string nsqd;
  std::string topic;
  std::string channel;
  int publishers = 1;
  int consumers = 1;
  int channels = 8;
  size_t size = 256;
  int batch = 1;
  int depth = 64;
  uint32_t max_in_flight = 2500;
  uint64_t count = 0;
  double seconds = 5;
  double warmup_seconds = 1;
  double rate = 0;
  double max_seconds = 120;
};

// Latencies in microseconds, kept whole (a run is bounded, so is the vector) and sorted once.
class Latencies {
 public:
  explicit Latencies(size_t cap) { values_.reserve(cap); }
  void add(int64_t ns) {
    if (values_.size() < values_.capacity())
      values_.push_back(
          static_cast<uint32_t>(std::clamp<int64_t>(ns / 1000, 0, int64_t{UINT32_MAX})));
  }
  size_t size() const { return values_.size(); }
  // "p50_us=.. p99_us=.. p999_us=.. max_us=.." (zeros when empty).
  std::string summary() {
    std::sort(values_.begin(), values_.end());
    auto at = [&](double q) -> unsigned long long {
      if (values_.empty()) return 0;
      return values_[std::min(values_.size() - 1, static_cast<size_t>(q * values_.size()))];
    };
    char out[160];
    std::snprintf(out, sizeof out, "p50_us=%llu p99_us=%llu p999_us=%llu max_us=%llu", at(0.50),
                  at(0.99), at(0.999), values_.empty() ? 0ull : at(1.0));
    return out;
  }

 private:
  std::vector<uint32_t> values_;
};

// Publishers: `n` producers, each keeping `depth` commands of `batch` messages in flight until
// `count` messages were sent or the deadline passed. Closed loop (paced == false) or driven
// by sendOne() (the latency mode).
class Publishers {
 public:
  Publishers(net::EventLoop& loop, const Config& cfg) : loop_(loop), cfg_(cfg) {}

  Status create(int n) {
    queue::Producer::Options options;
    options.max_inflight = 100'000;
    options.max_pending_bytes = size_t{1} << 30;
    options.timeout = std::chrono::seconds(30);
    for (int i = 0; i < n; ++i) {
      auto made = queue::Producer::create(loop_, cfg_.nsqd, options);
      if (!made.isOk()) return made.status();
      producers_.push_back(std::move(made).value());
    }
    return Status();
  }

  // Closed loop: fills every producer's window.
  void start(int64_t deadline_ns) {
    deadline_ns_ = deadline_ns;
    first_send_ns_ = monoNs();
    for (size_t p = 0; p < producers_.size(); ++p) {
      for (int i = 0; i < cfg_.depth && canSend(); ++i)
        send(p);
    }
  }

  // One PUB (paced mode): its stamp, or 0 when the window is full (nothing sent).
  int64_t sendOne() {
    if (first_send_ns_ == 0) first_send_ns_ = monoNs();
    if (producers_[0]->inflight() >= 10'000) return 0;
    return send(0);
  }

  bool finished() const { return outstanding_ == 0 && (stopped_ || !canSend()); }
  void stop() { stopped_ = true; }
  uint64_t sent() const { return sent_; }
  uint64_t acked() const { return acked_; }
  uint64_t errors() const { return errors_; }
  int64_t firstSendNs() const { return first_send_ns_; }
  int64_t lastAckNs() const { return last_ack_ns_; }
  void reset() { producers_.clear(); }

 private:
  bool canSend() const { return !stopped_ && (cfg_.count == 0 || sent_ < cfg_.count); }

  // Sends one command; returns the stamp of its messages.
  int64_t send(size_t p) {
    const int64_t stamp = monoNs();
    const uint64_t left = cfg_.count == 0 ? UINT64_MAX : cfg_.count - sent_;
    const auto n = static_cast<uint32_t>(std::min<uint64_t>(std::max(cfg_.batch, 1), left));
    sent_ += n;
    ++outstanding_;
    auto done = [this, p, n](Status st) { onDone(p, n, st); };
    if (cfg_.batch <= 1) {
      producers_[p]->publish(cfg_.topic, makeBody(cfg_.size, stamp), std::move(done));
      return stamp;
    }
    std::vector<std::string> bodies;
    bodies.reserve(n);
    for (uint32_t i = 0; i < n; ++i)
      bodies.push_back(makeBody(cfg_.size, stamp));
    producers_[p]->multiPublish(cfg_.topic, std::move(bodies), std::move(done));
    return stamp;
  }

  void onDone(size_t p, uint32_t n, const Status& st) {
    --outstanding_;
    if (st.isOk()) {
      acked_ += n;
      last_ack_ns_ = monoNs();
    } else if (errors_++ < 5) {
      std::fprintf(stderr, "queue-bench: publish: %s\n", st.toString().c_str());
    }
    if (cfg_.mode == "latency") return;  // paced by the caller
    if (!st.isOk() || monoNs() >= deadline_ns_) stopped_ = true;
    if (canSend()) send(p);
  }

  net::EventLoop& loop_;
  const Config& cfg_;
  std::vector<std::unique_ptr<queue::Producer>> producers_;
  int64_t deadline_ns_ = 0;
  int64_t first_send_ns_ = 0;
  int64_t last_ack_ns_ = 0;
  uint64_t sent_ = 0;
  uint64_t acked_ = 0;
  uint64_t errors_ = 0;
  uint64_t outstanding_ = 0;
  bool stopped_ = false;
};

// Consumers: `per_channel` consumers on each of `channels`, every message FINed on arrival.
// Latencies of messages stamped in [measure_from_ns, measure_to_ns) are recorded.
class Consumers {
 public:
  Consumers(net::EventLoop& loop, const Config& cfg, size_t latency_cap)
      : loop_(loop), cfg_(cfg), latencies_(latency_cap) {}

  Status create(const std::vector<std::string>& channels, int per_channel) {
    for (const auto& channel : channels) {
      for (int i = 0; i < per_channel; ++i) {
        queue::Consumer::Options options;
        options.topic = cfg_.topic;
        options.channel = channel;
        options.nsqd_tcp_addresses = {cfg_.nsqd};
        options.max_in_flight = cfg_.max_in_flight;
        options.stop_timeout = std::chrono::seconds(2);
        auto made =
            queue::Consumer::create(loop_, options, [this](queue::Message m) { onMessage(m); });
        if (!made.isOk()) return made.status();
        consumers_.push_back(std::move(made).value());
      }
    }
    return Status();
  }

  bool allSubscribed() const {
    for (const auto& c : consumers_) {
      if (c->stats().connections == 0) return false;
    }
    return true;
  }
  void measure(int64_t from_ns, int64_t to_ns) {
    measure_from_ns_ = from_ns;
    measure_to_ns_ = to_ns;
  }
  uint64_t received() const { return received_; }
  int64_t firstNs() const { return first_ns_; }
  int64_t lastNs() const { return last_ns_; }
  Latencies& latencies() { return latencies_; }
  void reset() { consumers_.clear(); }

 private:
  void onMessage(queue::Message& m) {
    const int64_t now = monoNs();
    if (received_++ == 0) first_ns_ = now;
    last_ns_ = now;
    const int64_t stamp = stampOf(m.body());
    if (stamp >= measure_from_ns_ && stamp < measure_to_ns_) latencies_.add(now - stamp);
    m.finish();
  }

  net::EventLoop& loop_;
  const Config& cfg_;
  std::vector<std::unique_ptr<queue::Consumer>> consumers_;
  Latencies latencies_;
  int64_t measure_from_ns_ = INT64_MAX;
  int64_t measure_to_ns_ = INT64_MAX;
  uint64_t received_ = 0;
  int64_t first_ns_ = 0;
  int64_t last_ns_ = 0;
};

std::string fmt(const char* format, double v) {
  char out[64];
  std::snprintf(out, sizeof out, format, v);
  return out;
}

double perSecond(uint64_t n, int64_t from_ns, int64_t to_ns) {
  return to_ns > from_ns ? static_cast<double>(n) * 1e9 / static_cast<double>(to_ns - from_ns) : 0;
}

int64_t secondsNs(double s) {
  return static_cast<int64_t>(s * 1e9);
}

class Bench {
 public:
  explicit Bench(const Config& cfg) : cfg_(cfg) {}

  int run() {
    const int64_t start_ns = monoNs();
    hard_deadline_ns_ = start_ns + secondsNs(cfg_.max_seconds);
    int rc = kExitFailed;
    if (cfg_.mode == "pub") rc = runPub();
    if (cfg_.mode == "sub") rc = runSub();
    if (cfg_.mode == "fanout") rc = runFanout();
    if (cfg_.mode == "latency") rc = runLatency();
    (void)loop_.shutdown();
    return rc;
  }

 private:
  // Runs the loop until done() or the hard deadline; false at the deadline.
  bool runUntil(const std::function<bool()>& done) {
    const int64_t left_ms = (hard_deadline_ns_ - monoNs()) / 1'000'000;
    if (left_ms <= 0) return done();
    return loop_.runUntil(done, std::chrono::milliseconds(left_ms), std::chrono::milliseconds(50));
  }

  // Waits (bounded) for every consumer to be subscribed.
  bool subscribe(Consumers& consumers) {
    const int64_t until = monoNs() + secondsNs(10);
    return loop_.runUntil([&] { return consumers.allSubscribed() || monoNs() >= until; },
                          std::chrono::seconds(11), std::chrono::milliseconds(10)) &&
           consumers.allSubscribed();
  }

  std::string tail(uint64_t errors, double measured_cpu_s, double window_s) {
    return " errors=" + std::to_string(errors) +
           " bench_cpu=" + fmt("%.2f", window_s > 0 ? measured_cpu_s / window_s : 0);
  }

  int finish(bool in_time, const std::string& line) {
    printLine(line);
    return in_time ? kExitOk : kExitMaxSeconds;
  }

  int runPub() {
    Publishers pubs(loop_, cfg_);
    if (Status st = pubs.create(cfg_.publishers); !st.isOk()) return setupFailed(st);
    printLine("MEASURING");
    const double cpu0 = cpuSeconds();
    pubs.start(monoNs() + secondsNs(cfg_.seconds));
    const bool in_time = runUntil([&] { return pubs.finished(); });
    printLine("MEASURED");
    const double cpu = cpuSeconds() - cpu0;
    const double window = static_cast<double>(pubs.lastAckNs() - pubs.firstSendNs()) / 1e9;
    pubs.reset();
    if (pubs.acked() == 0) return failed("nothing was acknowledged");
    return finish(in_time,
                  head() + " msgs=" + std::to_string(pubs.acked()) +
                      " seconds=" + fmt("%.3f", window) + " msg_per_s=" +
                      fmt("%.0f", perSecond(pubs.acked(), pubs.firstSendNs(), pubs.lastAckNs())) +
                      tail(pubs.errors(), cpu, window));
  }

  int runSub() {
    if (cfg_.count == 0) return failed("--count is required");
    Consumers subs(loop_, cfg_, 0);
    printLine("MEASURING");
    const double cpu0 = cpuSeconds();
    const int64_t t0 = monoNs();
    if (Status st = subs.create({cfg_.channel}, cfg_.consumers); !st.isOk()) {
      return setupFailed(st);
    }
    const int64_t deadline = t0 + secondsNs(cfg_.seconds);
    const bool in_time =
        runUntil([&] { return subs.received() >= cfg_.count || monoNs() >= deadline; });
    printLine("MEASURED");
    const double cpu = cpuSeconds() - cpu0;
    const double window = static_cast<double>(subs.lastNs() - subs.firstNs()) / 1e9;
    subs.reset();
    if (subs.received() == 0) return failed("nothing arrived");
    const uint64_t missing = subs.received() >= cfg_.count ? 0 : cfg_.count - subs.received();
    return finish(
        in_time,
        head() + " msgs=" + std::to_string(subs.received()) + " seconds=" + fmt("%.3f", window) +
            " msg_per_s=" + fmt("%.0f", perSecond(subs.received(), subs.firstNs(), subs.lastNs())) +
            " connect_ms=" + fmt("%.1f", static_cast<double>(subs.firstNs() - t0) / 1e6) +
            " missing=" + std::to_string(missing) + tail(0, cpu, window));
  }

  int runFanout() {
    if (cfg_.count == 0) return failed("--count is required");
    std::vector<std::string> channels;
    for (int i = 0; i < cfg_.channels; ++i)
      channels.push_back("ch" + std::to_string(i));
    const uint64_t expected = cfg_.count * channels.size();
    Consumers subs(loop_, cfg_, std::min<uint64_t>(expected, 20'000'000));
    if (Status st = subs.create(channels, 1); !st.isOk()) return setupFailed(st);
    if (!subscribe(subs)) return failed("consumers did not subscribe within 10 s");
    Publishers pubs(loop_, cfg_);
    if (Status st = pubs.create(cfg_.publishers); !st.isOk()) return setupFailed(st);
    printLine("MEASURING");
    const double cpu0 = cpuSeconds();
    const int64_t t0 = monoNs();
    const int64_t deadline = t0 + secondsNs(cfg_.seconds);
    subs.measure(t0, INT64_MAX);
    pubs.start(deadline);
    const bool in_time = runUntil([&] {
      return (pubs.finished() && subs.received() >= pubs.acked() * channels.size()) ||
             monoNs() >= deadline;
    });
    printLine("MEASURED");
    pubs.stop();
    const double cpu = cpuSeconds() - cpu0;
    const double window = static_cast<double>(subs.lastNs() - t0) / 1e9;
    if (subs.received() == 0) return failed("nothing arrived");
    const std::string lat = subs.latencies().summary();
    const uint64_t pub_acked = pubs.acked();
    const uint64_t pub_errors = pubs.errors();
    const double pub_rate = perSecond(pub_acked, pubs.firstSendNs(), pubs.lastAckNs());
    pubs.reset();
    subs.reset();
    return finish(
        in_time,
        head() + " msgs=" + std::to_string(subs.received()) + " seconds=" + fmt("%.3f", window) +
            " msg_per_s=" + fmt("%.0f", perSecond(subs.received(), t0, subs.lastNs())) +
            " channels=" + std::to_string(channels.size()) +
            " pub_msgs=" + std::to_string(pub_acked) + " pub_msg_per_s=" + fmt("%.0f", pub_rate) +
            " " + lat + tail(pub_errors, cpu, window));
  }

  int runLatency() {
    if (cfg_.rate <= 0) return failed("--rate is required");
    const double total_s = cfg_.warmup_seconds + cfg_.seconds;
    Consumers subs(loop_, cfg_, static_cast<size_t>(cfg_.rate * cfg_.seconds * 1.1) + 1024);
    if (Status st = subs.create({cfg_.channel}, 1); !st.isOk()) return setupFailed(st);
    if (!subscribe(subs)) return failed("consumer did not subscribe within 10 s");
    Publishers pubs(loop_, cfg_);
    if (Status st = pubs.create(1); !st.isOk()) return setupFailed(st);
    // Connect the producer before the clock starts (its first command would wait for it).
    pubs.sendOne();
    if (!runUntil([&] { return pubs.acked() + pubs.errors() > 0; }) || pubs.errors() > 0) {
      return failed("the first publish failed");
    }
    const int64_t t0 = monoNs();
    const int64_t measure_from = t0 + secondsNs(cfg_.warmup_seconds);
    const int64_t stop_at = t0 + secondsNs(total_s);
    subs.measure(measure_from, stop_at);
    uint64_t issued = 0;
    uint64_t skipped = 0;
    uint64_t sent_in_window = 0;
    bool measuring = false;
    bool ended = false;
    double cpu0 = 0;
    auto pace = [&] {
      const int64_t now = monoNs();
      if (!measuring && now >= measure_from) {
        measuring = true;
        cpu0 = cpuSeconds();
        printLine("MEASURING");
      }
      if (now >= stop_at) {
        if (!ended) {
          ended = true;
          printLine("MEASURED");
        }
        return;
      }
      const auto owed = static_cast<uint64_t>(static_cast<double>(now - t0) / 1e9 * cfg_.rate);
      while (issued < owed) {
        ++issued;
        const int64_t stamp = pubs.sendOne();
        if (stamp == 0) {
          ++skipped;
          continue;
        }
        if (stamp >= measure_from && stamp < stop_at) ++sent_in_window;
      }
    };
    net::PeriodicTimerPtr timer = net::PeriodicTimer::create(loop_, pace);
    timer->start(std::chrono::milliseconds(1));
    const uint64_t before = pubs.acked();
    const bool in_time = runUntil([&] {
      return ended &&
             (subs.latencies().size() >= sent_in_window || monoNs() >= stop_at + secondsNs(5));
    });
    timer.reset();
    const double cpu = cpuSeconds() - cpu0;
    const double window = cfg_.seconds;
    const uint64_t lost =
        sent_in_window > subs.latencies().size() ? sent_in_window - subs.latencies().size() : 0;
    const uint64_t acked = pubs.acked() - before;
    const uint64_t errors = pubs.errors();
    pubs.reset();
    subs.reset();
    if (sent_in_window == 0) return failed("nothing was sent in the window");
    return finish(in_time,
                  head() + " msgs=" + std::to_string(subs.latencies().size()) +
                      " seconds=" + fmt("%.3f", window) +
                      " msg_per_s=" + fmt("%.0f", static_cast<double>(sent_in_window) / window) +
                      " rate=" + fmt("%.0f", cfg_.rate) + " pub_msgs=" + std::to_string(acked) +
                      " " + subs.latencies().summary() + " skipped=" + std::to_string(skipped) +
                      " lost=" + std::to_string(lost) + tail(errors, cpu, window));
  }

  std::string head() const {
    return "PHASE name=" + cfg_.phase + " mode=" + cfg_.mode +
           " size=" + std::to_string(cfg_.size) + " batch=" + std::to_string(cfg_.batch);
  }
  int setupFailed(const Status& st) {
    std::fprintf(stderr, "queue-bench: %s\n", st.toString().c_str());
    return kExitFailed;
  }
  int failed(const std::string& why) {
    std::fprintf(stderr, "queue-bench: %s: %s\n", cfg_.phase.c_str(), why.c_str());
    return kExitFailed;
  }

  const Config& cfg_;
  net::EventLoop loop_;
  int64_t hard_deadline_ns_ = 0;
};

int usage(const CommandLine& cl, const std::string& why) {
  std::fprintf(stderr, "queue-bench: %s\n\nqueue-bench pub|sub|fanout|latency FLAGS\n%s",
               why.c_str(), cl.usage().c_str());
  return kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  CommandLine cl("queue-bench", "NSQ daemon publish/consume rates and end-to-end latency");
  cl.option("nsqd", "H:P", "the daemon's TCP address (required)");
  cl.option("topic", "T", "topic (required)");
  cl.option("channel", "C", "channel of sub and latency (default bench)");
  cl.option("phase", "NAME", "name echoed in the PHASE line (default: the mode)");
  cl.option("publishers", "N", "producers (connections), default 1");
  cl.option("consumers", "N", "sub: consumers (connections) on the channel, default 1");
  cl.option("channels", "N", "fanout: channels, one consumer each, default 8");
  cl.option("size", "B", "message bytes, default 256 (at least 8)");
  cl.option("batch", "N", "messages per command: 1 = PUB, more = MPUB (default 1; fanout 200)");
  cl.option("depth", "N", "commands in flight per producer (default 64; fanout 4)");
  cl.option("max-in-flight", "N", "RDY of each consumer, default 2500");
  cl.option("count", "N", "messages to publish (pub, fanout) or to receive (sub)");
  cl.option("seconds", "S", "time bound of the measured part, default 5");
  cl.option("warmup-seconds", "S", "latency: paced traffic before the window, default 1");
  cl.option("rate", "R", "latency: messages per second");
  cl.option("max-seconds", "S", "hard bound of the whole run (exit 3), default 120");
  if (argc < 2) return usage(cl, "missing mode");
  Config cfg;
  cfg.mode = argv[1];
  if (cfg.mode != "pub" && cfg.mode != "sub" && cfg.mode != "fanout" && cfg.mode != "latency") {
    return usage(cl, "unknown mode '" + cfg.mode + "'");
  }
  if (Status st = cl.parse(argc - 1, argv + 1); !st.isOk()) return usage(cl, st.message());
  const bool fanout = cfg.mode == "fanout";
  auto num = [&](const char* name, long long fallback, long long min, long long max,
                 auto* out) -> bool {
    auto v = cl.getInt(name, fallback, min, max);
    if (!v.isOk()) {
      usage(cl, v.status().message());
      return false;
    }
    *out = static_cast<std::remove_pointer_t<decltype(out)>>(*v);
    return true;
  };
  auto real = [&](const char* name, double fallback, double min, double max, double* out) -> bool {
    if (!cl.has(name)) {
      *out = fallback;
      return true;
    }
    try {
      size_t used = 0;
      const std::string text = cl.get(name);
      *out = std::stod(text, &used);
      if (used == text.size() && *out >= min && *out <= max) return true;
    } catch (...) {
    }
    usage(cl, std::string("--") + name + ": not a number in range");
    return false;
  };
  cfg.nsqd = cl.get("nsqd");
  cfg.topic = cl.get("topic");
  cfg.channel = cl.get("channel", "bench");
  cfg.phase = cl.get("phase", cfg.mode);
  if (cfg.nsqd.empty() || cfg.topic.empty()) return usage(cl, "--nsqd and --topic are required");
  if (!num("publishers", 1, 1, 64, &cfg.publishers) ||
      !num("consumers", 1, 1, 64, &cfg.consumers) || !num("channels", 8, 1, 64, &cfg.channels) ||
      !num("size", 256, 8, 1 << 20, &cfg.size) ||
      !num("batch", fanout ? 200 : 1, 1, 10'000, &cfg.batch) ||
      !num("depth", fanout ? 4 : 64, 1, 100'000, &cfg.depth) ||
      !num("max-in-flight", 2500, 1, 1'000'000, &cfg.max_in_flight) ||
      !num("count", 0, 0, 1'000'000'000, &cfg.count) ||
      !real("seconds", 5, 0.1, 600, &cfg.seconds) ||
      !real("warmup-seconds", 1, 0, 60, &cfg.warmup_seconds) ||
      !real("rate", 0, 0, 1e8, &cfg.rate) || !real("max-seconds", 120, 1, 3600, &cfg.max_seconds)) {
    return kExitUsage;
  }
  (void)log::setLevel("warn");
  Bench bench(cfg);
  return bench.run();
}

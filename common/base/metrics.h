#pragma once

// Process-wide metrics rendered in Prometheus text format (version 0.0.4) at /metrics.
//
//   static auto& accepted = metrics::Registry::global().counter(
//       "push_net_accepted_total", "Connections accepted.");
//   accepted.inc();
//
// Registering the same name and labels twice returns the same object, so a component may look
// its metrics up once per process and keep references: they live until the process exits.
// Counter/Gauge/Histogram updates are lock-free and safe from any thread.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace push::metrics {

class Counter {
 public:
  void inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void set(int64_t v) { value_.store(v, std::memory_order_relaxed); }
  void add(int64_t d) { value_.fetch_add(d, std::memory_order_relaxed); }
  int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

// Cumulative histogram with fixed upper bounds (seconds, bytes, ...).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double value) { observe(value, 1); }
  // `times` observations of the same value, at the cost of one (a batch timed once).
  void observe(double value, uint64_t times);
  const std::vector<double>& bounds() const { return bounds_; }
  // counts()[i] = observations <= bounds()[i] (cumulative); last entry is +Inf.
  std::vector<uint64_t> cumulativeCounts() const;
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  double sum() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_micros_{0};  // sum * 1e6, so the update is one atomic add
  friend class HistogramTally;
};

// Observations of one Histogram gathered by one thread without atomics, added to it by
// flush(): for a loop that completes thousands of calls per read (an RPC channel), where three
// atomic adds per observation were a visible part of a call's cost. Not thread-safe; flush
// before the figures must be visible (the end of the batch).
class HistogramTally {
 public:
  explicit HistogramTally(Histogram& histogram);
  void observe(double value);
  void flush();

 private:
  Histogram& histogram_;
  std::vector<uint64_t> counts_;  // per bucket, as Histogram::buckets_
  uint64_t count_ = 0;
  uint64_t sum_micros_ = 0;
};

// Latency buckets in seconds, 50 µs .. 10 s.
std::vector<double> latencyBuckets();

class Registry {
 public:
  // The process-wide registry (never destroyed). Components register there; a separate
  // instance is for tests and tools that need a registry of their own.
  static Registry& global();
  Registry();
  ~Registry();  // out of line: Family and Series are incomplete here
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // `labels` is the inside of the braces, already escaped: R"(method="Echo",code="OK")".
  Counter& counter(std::string_view name, std::string_view help, std::string_view labels = "");
  Gauge& gauge(std::string_view name, std::string_view help, std::string_view labels = "");
  Histogram& histogram(std::string_view name, std::string_view help, std::vector<double> bounds,
                       std::string_view labels = "");

  // A gauge computed when rendered. The callback runs on the thread that renders (the admin
  // HTTP loop) under the registry lock: it must be quick and thread-safe. Returns an id for
  // removeCallback(); remove it before anything the callback reads is destroyed.
  uint64_t gaugeCallback(std::string_view name, std::string_view help, std::string_view labels,
                         std::function<double()> fn);
  void removeCallback(uint64_t id);

  // All metrics in Prometheus text exposition format.
  std::string render() const;

 private:
  struct Series;
  struct Family;
  Family& family(std::string_view name, std::string_view help, int type);
  Series& series(Family& family, std::string_view labels);

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Family>> families_;
  uint64_t next_callback_id_ = 1;
};

}  // namespace push::metrics

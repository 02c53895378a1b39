#include "common/base/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace push::metrics {
namespace {
enum Type { kCounter, kGauge, kHistogram };
constexpr const char* kTypeNames[] = {"counter", "gauge", "histogram"};

void appendNumber(std::string* out, double v) {
  char buf[32];
  if (std::isinf(v)) {
    *out += v > 0 ? "+Inf" : "-Inf";
    return;
  }
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.9g", v);
  }
  *out += buf;
}

void appendName(std::string* out, std::string_view name, std::string_view suffix,
                std::string_view labels, std::string_view extra_label = {}) {
  *out += name;
  *out += suffix;
  if (labels.empty() && extra_label.empty()) return;
  *out += '{';
  *out += labels;
  if (!labels.empty() && !extra_label.empty()) *out += ',';
  *out += extra_label;
  *out += '}';
}
}  // namespace

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {
  std::sort(bounds_.begin(), bounds_.end());
  buckets_ = std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1);
}

void Histogram::observe(double value, uint64_t times) {
  if (times == 0) return;
  size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  buckets_[i].fetch_add(times, std::memory_order_relaxed);
  count_.fetch_add(times, std::memory_order_relaxed);
  if (value > 0) {
    sum_micros_.fetch_add(static_cast<uint64_t>(value * 1e6) * times, std::memory_order_relaxed);
  }
}

HistogramTally::HistogramTally(Histogram& histogram)
    : histogram_(histogram), counts_(histogram.bounds().size() + 1) {}

void HistogramTally::observe(double value) {
  const auto& bounds = histogram_.bounds_;
  ++counts_[std::lower_bound(bounds.begin(), bounds.end(), value) - bounds.begin()];
  ++count_;
  if (value > 0) sum_micros_ += static_cast<uint64_t>(value * 1e6);
}

void HistogramTally::flush() {
  if (count_ == 0) return;
  for (size_t i = 0; i < counts_.size(); ++i) {
    if (counts_[i] == 0) continue;
    histogram_.buckets_[i].fetch_add(counts_[i], std::memory_order_relaxed);
    counts_[i] = 0;
  }
  histogram_.count_.fetch_add(count_, std::memory_order_relaxed);
  histogram_.sum_micros_.fetch_add(sum_micros_, std::memory_order_relaxed);
  count_ = 0;
  sum_micros_ = 0;
}

std::vector<uint64_t> Histogram::cumulativeCounts() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    out[i] = running;
  }
  return out;
}

double Histogram::sum() const {
  return static_cast<double>(sum_micros_.load(std::memory_order_relaxed)) / 1e6;
}

std::vector<double> latencyBuckets() {
  return {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
          0.025,   0.05,   0.1,     0.25,   0.5,   1,      2.5,   10};
}

struct Registry::Series {
  std::string labels;
  std::unique_ptr<Counter> counter;
  std::unique_ptr<Gauge> gauge;
  std::unique_ptr<Histogram> histogram;
  uint64_t callback_id = 0;
  std::function<double()> callback;
};

struct Registry::Family {
  std::string name;
  std::string help;
  int type;
  std::vector<std::unique_ptr<Series>> series;
};

Registry::Registry() = default;
Registry::~Registry() = default;

Registry& Registry::global() {
  static Registry* registry = new Registry();  // never destroyed: metrics outlive statics
  return *registry;
}

Registry::Family& Registry::family(std::string_view name, std::string_view help, int type) {
  for (auto& f : families_) {
    if (f->name == name) return *f;
  }
  families_.push_back(
      std::make_unique<Family>(Family{std::string(name), std::string(help), type, {}}));
  return *families_.back();
}

Registry::Series& Registry::series(Family& family, std::string_view labels) {
  for (auto& s : family.series) {
    if (s->labels == labels && !s->callback) return *s;
  }
  family.series.push_back(std::make_unique<Series>());
  family.series.back()->labels = std::string(labels);
  return *family.series.back();
}

Counter& Registry::counter(std::string_view name, std::string_view help, std::string_view labels) {
  std::lock_guard lock(mu_);
  Series& s = series(family(name, help, kCounter), labels);
  if (!s.counter) s.counter = std::make_unique<Counter>();
  return *s.counter;
}

Gauge& Registry::gauge(std::string_view name, std::string_view help, std::string_view labels) {
  std::lock_guard lock(mu_);
  Series& s = series(family(name, help, kGauge), labels);
  if (!s.gauge) s.gauge = std::make_unique<Gauge>();
  return *s.gauge;
}

Histogram& Registry::histogram(std::string_view name, std::string_view help,
                               std::vector<double> bounds, std::string_view labels) {
  std::lock_guard lock(mu_);
  Series& s = series(family(name, help, kHistogram), labels);
  if (!s.histogram) s.histogram = std::make_unique<Histogram>(std::move(bounds));
  return *s.histogram;
}

uint64_t Registry::gaugeCallback(std::string_view name, std::string_view help,
                                 std::string_view labels, std::function<double()> fn) {
  std::lock_guard lock(mu_);
  Family& f = family(name, help, kGauge);
  f.series.push_back(std::make_unique<Series>());
  Series& s = *f.series.back();
  s.labels = std::string(labels);
  s.callback = std::move(fn);
  s.callback_id = next_callback_id_++;
  return s.callback_id;
}

void Registry::removeCallback(uint64_t id) {
  std::lock_guard lock(mu_);
  for (auto& f : families_) {
    auto& v = f->series;
    v.erase(std::remove_if(v.begin(), v.end(),
                           [id](const auto& s) { return s->callback && s->callback_id == id; }),
            v.end());
  }
}

std::string Registry::render() const {
  std::lock_guard lock(mu_);
  std::string out;
  out.reserve(4096);
  for (const auto& f : families_) {
    if (f->series.empty()) continue;
    out += "# HELP " + f->name + " " + f->help + "\n";
    out += "# TYPE " + f->name + " " + kTypeNames[f->type] + "\n";
    for (const auto& s : f->series) {
      if (s->histogram) {
        const Histogram& h = *s->histogram;
        auto counts = h.cumulativeCounts();
        for (size_t i = 0; i <= h.bounds().size(); ++i) {
          std::string le = "le=\"";
          if (i == h.bounds().size()) {
            le += "+Inf";
          } else {
            appendNumber(&le, h.bounds()[i]);
          }
          le += '"';
          appendName(&out, f->name, "_bucket", s->labels, le);
          out += ' ';
          appendNumber(&out, static_cast<double>(counts[i]));
          out += '\n';
        }
        appendName(&out, f->name, "_sum", s->labels);
        out += ' ';
        appendNumber(&out, h.sum());
        out += '\n';
        appendName(&out, f->name, "_count", s->labels);
        out += ' ';
        appendNumber(&out, static_cast<double>(h.count()));
        out += '\n';
        continue;
      }
      double value = 0;
      if (s->counter) value = static_cast<double>(s->counter->value());
      if (s->gauge) value = static_cast<double>(s->gauge->value());
      if (s->callback) value = s->callback();
      appendName(&out, f->name, "", s->labels);
      out += ' ';
      appendNumber(&out, value);
      out += '\n';
    }
  }
  return out;
}

}  // namespace push::metrics

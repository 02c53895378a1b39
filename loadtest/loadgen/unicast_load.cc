#include "loadtest/loadgen/unicast_load.h"

#include <sys/resource.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cinttypes>
#include <cstdio>

#include "common/net/event_loop.h"
#include "loadtest/loadgen/http_pipeline_client.h"
#include "loadtest/loadgen/push_client_pool.h"
#include "loadtest/loadgen/unicast_tally.h"

namespace push::loadgen {
namespace {

// Requests whose send time is remembered; a push arriving more than this many requests late
// counts as unmatched (with any sane latency it never happens).
constexpr size_t kRingSize = size_t{1} << 20;
constexpr std::chrono::milliseconds kSettleAfterAuth{500};  // sessions reach register in batches
constexpr std::chrono::milliseconds kTick{1};
constexpr int64_t kDrainNs = 2'000'000'000;

int64_t steadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// User and system CPU seconds of this process.
std::pair<double, double> cpuSeconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  auto sec = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + tv.tv_usec / 1e6; };
  return {sec(ru.ru_utime), sec(ru.ru_stime)};
}

void appendNumber(std::string& out, uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

}  // namespace

UnicastLoad::UnicastLoad(net::EventLoop& loop, Options options)
    : loop_(loop), options_(std::move(options)), ring_(kRingSize) {
  if (options_.batch == 0) options_.batch = 1;
  request_head_ = std::string(options_.batch > 1 ? "POST /v1/push/batch" : "POST /v1/push") +
                  " HTTP/1.1\r\nHost: " + options_.center.toString() +
                  "\r\nAuthorization: Bearer " + options_.api_key +
                  "\r\nContent-Type: application/json\r\nContent-Length: ";
}

UnicastLoad::~UnicastLoad() = default;

void UnicastLoad::start(std::function<void(int)> done) {
  done_ = std::move(done);
  if (options_.send_only) return connectHttp();
  PushClientPool::Options po;
  po.connect.server = options_.room;
  po.connect.sources = options_.sources;
  po.connect.count = options_.users;
  po.connect.rate_per_s = options_.connect_rate;
  po.app = options_.app;
  po.secret = options_.secret;
  po.user_prefix = options_.user_prefix;
  po.first_user = options_.first_user;
  clients_ = std::make_unique<PushClientPool>(loop_, std::move(po));
  clients_->setOnPush(
      [this](size_t, const client::Push& push, int64_t now_ns) { onPush(push.payload(), now_ns); });
  clients_->setOnSettled([this](size_t ready, size_t failed, const std::string& first_error) {
    onClientsSettled(ready, failed, first_error);
  });
  clients_->start();
}

void UnicastLoad::close() {
  if (result_.empty() && phase_ == Phase::Measuring) {  // interrupted: report the partial window
    const auto [user_s, sys_s] = cpuSeconds();
    result_ = buildResult(static_cast<double>(steadyNs() - window_start_ns_) / 1e9,
                          user_s - cpu_start_.first, sys_s - cpu_start_.second);
  }
  if (result_.empty()) result_ = buildResult(0, 0, 0);
  closing_ = true;
  timer_.reset();
  if (clients_) clients_->close();
  for (auto& h : http_)
    h->close();
}

void UnicastLoad::onClientsSettled(size_t ready, size_t failed, const std::string& first_error) {
  if (failed > 0) {
    error("FAILED " + std::to_string(failed) + " of " + std::to_string(ready + failed) +
          " clients: " + first_error);
    return finish(1);
  }
  std::fprintf(stderr, "push-load: %zu clients authenticated\n", ready);
  timer_ = net::PeriodicTimer::create(
      loop_, [this] { connectHttp(); }, true);
  timer_->start(kSettleAfterAuth, /*repeat=*/false);
}

void UnicastLoad::connectHttp() {
  for (size_t i = 0; i < options_.http_connections; ++i) {
    auto client = std::make_unique<HttpPipelineClient>(
        loop_,
        [this](HttpPipelineClient& c, const HttpPipelineClient::Response& r) {
          onResponse(c, r.status, r.body);
        },
        [this](HttpPipelineClient&, const Status& why, size_t lost) {
          total_.errors += lost * options_.batch;
          if (phase_ == Phase::Measuring) window_.errors += lost * options_.batch;
          if (phase_ != Phase::Done && !closing_) error("connection to center: " + why.toString());
        });
    const net::InetAddress* local =
        options_.sources.empty() ? nullptr : &options_.sources[i % options_.sources.size()];
    client->connect(options_.center, local, std::chrono::seconds(5),
                    [this](HttpPipelineClient&, const Status& st) {
                      if (phase_ == Phase::Done) return;
                      if (!st.isOk()) {
                        error("connect to center: " + st.toString());
                        return finish(1);
                      }
                      if (++http_connected_ == options_.http_connections) beginSending();
                    });
    http_.push_back(std::move(client));
  }
}

void UnicastLoad::beginSending() {
  phase_ = Phase::Warmup;
  start_ns_ = steadyNs();
  window_start_ns_ = start_ns_ + std::chrono::nanoseconds(options_.warmup).count();
  window_end_ns_ = window_start_ns_ + static_cast<int64_t>(options_.seconds * 1e9);
  if (options_.rate <= 0) {
    for (auto& h : http_) {
      for (size_t d = 0; d < options_.depth; ++d)
        sendOne(*h);
    }
  }
  timer_ = net::PeriodicTimer::create(
      loop_, [this] { tick(); }, true);
  timer_->start(kTick);
}

void UnicastLoad::printTimeline(int64_t now) {
  if (second_start_ns_ == 0) second_start_ns_ = start_ns_;
  if (now - second_start_ns_ < 1'000'000'000) return;
  std::fprintf(stderr,
               "timeline t=%.1f sent=%" PRIu64 " received=%" PRIu64 " skipped=%" PRIu64
               " errors=%" PRIu64 " p99_ms=%.3f max_ms=%.3f\n",
               static_cast<double>(now - start_ns_) / 1e9, total_.sent - second_start_.sent,
               total_.received - second_start_.received, total_.skipped - second_start_.skipped,
               total_.errors - second_start_.errors,
               static_cast<double>(second_latency_.percentile(0.99)) / 1e6,
               static_cast<double>(second_latency_.max()) / 1e6);
  second_start_ = total_;
  second_latency_.reset();
  second_start_ns_ = now;
}

void UnicastLoad::tick() {
  const int64_t now = steadyNs();
  if (options_.timeline) printTimeline(now);
  if (options_.stats && now - stats_at_ns_ >= 1'000'000'000) {
    stats_at_ns_ = now;
    printStats();
  }
  if (phase_ == Phase::Warmup && now >= window_start_ns_) {
    phase_ = Phase::Measuring;
    window_start_ns_ = now;
    window_end_ns_ = now + static_cast<int64_t>(options_.seconds * 1e9);
    acks_at_start_ = clients_ ? clients_->acksSent() : 0;
    cpu_start_ = cpuSeconds();
    if (on_window_) on_window_(true);
  }
  if (phase_ == Phase::Measuring && now >= window_end_ns_) {
    const auto [user_s, sys_s] = cpuSeconds();
    result_ = buildResult(static_cast<double>(now - window_start_ns_) / 1e9,
                          user_s - cpu_start_.first, sys_s - cpu_start_.second);
    phase_ = Phase::Draining;
    drain_until_ns_ = now + kDrainNs;
    if (on_window_) on_window_(false);
  }
  if (phase_ == Phase::Draining) {
    size_t inflight = 0;
    for (auto& h : http_)
      inflight += h->inflight();
    if (inflight == 0 || now >= drain_until_ns_) finish(0);
    return;
  }
  bool any = false;
  for (auto& h : http_)
    any = any || h->connected();
  if (!any) {
    error("every connection to center is closed");
    return finish(1);
  }
  if (options_.rate <= 0) return;
  // Requests due: the rate is in pushes, a request carries options_.batch of them.
  const auto due = static_cast<uint64_t>(options_.rate * static_cast<double>(now - start_ns_) /
                                         1e9 / static_cast<double>(options_.batch));
  while (issued_ < due) {
    ++issued_;
    HttpPipelineClient* pick = nullptr;
    for (size_t k = 0; k < http_.size() && !pick; ++k) {
      HttpPipelineClient& h = *http_[(next_client_ + k) % http_.size()];
      if (h.connected() && h.inflight() < options_.depth) pick = &h;
    }
    next_client_ = (next_client_ + 1) % http_.size();
    if (!pick) {
      total_.skipped += options_.batch;
      if (phase_ == Phase::Measuring) window_.skipped += options_.batch;
      continue;
    }
    sendOne(*pick);
  }
}

bool UnicastLoad::sendOne(HttpPipelineClient& client) {
  // One push, or a batch of options_.batch consecutive sequence numbers (users in turn).
  const int64_t now = steadyNs();
  const bool batch = options_.batch > 1;
  std::string body = "{\"app\":\"" + options_.app + (batch ? "\",\"pushes\":[" : "\",");
  for (size_t i = 0; i < options_.batch; ++i) {
    const uint64_t seq = next_seq_++;
    std::string payload = "s=";
    appendNumber(payload, seq);
    payload += " t=";
    appendNumber(payload, static_cast<uint64_t>(now));
    if (payload.size() < options_.payload_bytes) payload.resize(options_.payload_bytes, '.');
    if (i) body += ',';
    body += batch ? "{\"users\":[\"" : "\"users\":[\"";
    body += options_.user_prefix;
    appendNumber(body, options_.first_user + seq % options_.users);
    body += "\"],\"payload\":\"";
    body += payload;
    body += batch ? "\"}" : "\"";
    ring_[seq & (kRingSize - 1)] = Sent{seq, now};
  }
  body += batch ? "]}" : "}";
  request_.assign(request_head_);
  appendNumber(request_, body.size());
  request_ += "\r\n\r\n";
  request_ += body;
  if (!client.send(request_, next_seq_)) {
    total_.errors += options_.batch;
    if (phase_ == Phase::Measuring) window_.errors += options_.batch;
    error("could not queue a request to center");
    return false;
  }
  total_.sent += options_.batch;
  if (phase_ == Phase::Measuring) window_.sent += options_.batch;
  return true;
}

void UnicastLoad::onResponse(HttpPipelineClient& client, int status, std::string_view body) {
  const bool measuring = phase_ == Phase::Measuring;
  ++total_.responses;
  if (measuring) ++window_.responses;
  if (status == 200) {
    // The answer's last "delivered"/"offline" are its totals (a batch's sums; one push's own),
    // one target per push here; a batch's pushes that failed are "failed".
    const auto last = [body](std::string_view key) {
      uint64_t n = 0;
      const size_t at = body.rfind(key);
      if (at != std::string_view::npos) {
        std::from_chars(body.data() + at + key.size(), body.data() + body.size(), n);
      }
      return n;
    };
    const uint64_t delivered = last("\"delivered\":"), offline = last("\"offline\":");
    const uint64_t failed = options_.batch > 1 ? last("\"failed\":") : 0;
    // "stored" is there when saver has the message(s): every push not failed is then kept for
    // its user until acked (replayed at the next connection), whatever its delivery did.
    const bool has_stored = body.rfind("\"stored\":") != std::string_view::npos;
    const uint64_t stored = last("\"stored\":");
    const uint64_t kept = has_stored ? options_.batch - std::min(failed, options_.batch) : 0;
    // One target per push: the rest of the pushes not failed had a room that did not answer.
    const uint64_t accounted = failed + delivered + offline + stored;
    const uint64_t target_errors = options_.batch > accounted ? options_.batch - accounted : 0;
    for (Counters* c : {&total_, measuring ? &window_ : nullptr}) {
      if (!c) continue;
      c->delivered += delivered;
      c->offline += offline;
      c->errors += failed;
      c->kept += kept;
      c->target_errors += target_errors;
    }
    if (failed) error("center: " + std::to_string(failed) + " pushes of a batch failed");
  } else {
    total_.errors += options_.batch;
    if (measuring) window_.errors += options_.batch;
    error("center answered " + std::to_string(status) + ": " + std::string(body.substr(0, 200)));
  }
  if (options_.rate <= 0 && (phase_ == Phase::Warmup || phase_ == Phase::Measuring)) {
    sendOne(client);
  }
}

void UnicastLoad::onPush(std::string_view payload, int64_t now_ns) {
  uint64_t seq = 0;
  int64_t sent_ns = 0;
  if (!parseUnicastPayload(payload, &seq, &sent_ns)) {
    ++total_.unmatched;
    if (phase_ == Phase::Measuring) ++window_.unmatched;
    return;
  }
  Sent& s = ring_[seq & (kRingSize - 1)];
  if (s.seq != seq) {  // a duplicate, or far too late
    ++total_.unmatched;
    if (phase_ == Phase::Measuring) ++window_.unmatched;
    return;
  }
  s.seq = ~uint64_t{0};
  ++total_.received;
  if (options_.timeline) second_latency_.record(now_ns - s.at_ns);
  if (phase_ == Phase::Measuring) {
    ++window_.received;
    latency_.record(now_ns - s.at_ns);
  }
}

void UnicastLoad::error(const std::string& what) {
  if (first_error_.empty()) {
    first_error_ = what;
    std::fprintf(stderr, "push-load: first error: %s\n", what.c_str());
  }
}

void UnicastLoad::printStats() {
  const auto [user_s, sys_s] = cpuSeconds();
  std::printf("SENT sent=%" PRIu64 " responses=%" PRIu64 " delivered=%" PRIu64 " offline=%" PRIu64
              " errors=%" PRIu64 " skipped=%" PRIu64 " kept=%" PRIu64 " target_errors=%" PRIu64
              " cpu_ms=%.0f\n",
              total_.sent, total_.responses, total_.delivered, total_.offline, total_.errors,
              total_.skipped, total_.kept, total_.target_errors, (user_s + sys_s) * 1000);
  std::fflush(stdout);
}

void UnicastLoad::finish(int exit_code) {
  if (phase_ == Phase::Done) return;
  if (result_.empty()) result_ = buildResult(0, 0, 0);
  if (options_.stats) printStats();
  phase_ = Phase::Done;
  timer_.reset();
  if (done_) done_(exit_code);
}

std::string UnicastLoad::buildResult(double window_s, double user_s, double sys_s) const {
  const Counters& w = window_;
  auto ms = [](int64_t ns) { return static_cast<double>(ns) / 1e6; };
  const double per_s = window_s > 0 ? 1.0 / window_s : 0;
  std::string rate =
      options_.rate > 0 ? std::to_string(static_cast<uint64_t>(options_.rate)) : "closed";
  char line[1024];
  std::snprintf(
      line, sizeof line,
      "impl=push mode=unicast users=%zu http=%zu depth=%zu rate=%s sent=%" PRIu64
      " delivered_resp=%" PRIu64 " received=%" PRIu64
      " seconds=%.2f msg_per_s=%.0f"
      " p50_ms=%.3f p99_ms=%.3f errors=%" PRIu64 " responses=%" PRIu64
      " resp_per_s=%.0f"
      " offline_resp=%" PRIu64 " acks=%" PRIu64 " skipped=%" PRIu64 " unmatched=%" PRIu64
      " p999_ms=%.3f max_ms=%.3f mean_ms=%.3f loadgen_cpu=%.2f loadgen_sys=%.2f lost_clients=%zu",
      options_.users, options_.http_connections, options_.depth, rate.c_str(), w.sent, w.delivered,
      w.received, window_s, static_cast<double>(w.received) * per_s, ms(latency_.percentile(0.50)),
      ms(latency_.percentile(0.99)), w.errors, w.responses,
      static_cast<double>(w.responses) * per_s, w.offline,
      clients_ ? clients_->acksSent() - acks_at_start_ : 0, w.skipped, w.unmatched,
      ms(latency_.percentile(0.999)), ms(latency_.max()), latency_.mean() / 1e6,
      window_s > 0 ? (user_s + sys_s) / window_s : 0.0, window_s > 0 ? sys_s / window_s : 0.0,
      clients_ ? clients_->lost() : 0);
  return line;
}

}  // namespace push::loadgen

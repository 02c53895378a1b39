#include "loadtest/loadgen/broadcast_publisher.h"

#include <sys/resource.h>

#include <algorithm>
#include <charconv>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <deque>
#include <unordered_map>

#include "common/net/event_loop.h"
#include "common/net/tcp_connection.h"
#include "common/net/tcp_connector.h"
#include "loadtest/loadgen/broadcast_payload.h"
#include "loadtest/loadgen/http_pipeline_client.h"

namespace push::loadgen {
namespace {

constexpr std::chrono::milliseconds kTick{1};
constexpr std::chrono::seconds kConnectTimeout{5};
constexpr int64_t kDrainNs = 10'000'000'000;

int64_t steadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double cpuSeconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

void appendNumber(std::string& out, uint64_t v) {
  char buf[24];
  out.append(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
}

}  // namespace

class BroadcastPublisher::Transport {
 public:
  // A broadcast was answered: ok, or not with `error` (the server's words); `receivers` is
  // what the server said it reached (Redis) or 0.
  using OnCompleted =
      std::function<void(uint64_t number, bool ok, std::string_view error, uint64_t receivers)>;
  // A connection closed with `lost` broadcasts unanswered.
  using OnClosed = std::function<void(const Status& why, size_t lost)>;

  virtual ~Transport() = default;
  // `done` runs once, never inside connect().
  virtual void connect(std::function<void(const Status&)> done) = 0;
  // Queues one broadcast; false when it could not be (no connection).
  virtual bool publish(uint64_t number, std::string_view payload) = 0;
  virtual void close() = 0;
};

namespace {

// POST /v1/broadcast to center over pipelined keep-alive connections.
class CenterTransport final : public BroadcastPublisher::Transport {
 public:
  CenterTransport(net::EventLoop& loop, const BroadcastPublisher::Options& o,
                  OnCompleted on_completed, OnClosed on_closed)
      : loop_(loop),
        options_(o),
        on_completed_(std::move(on_completed)),
        on_closed_(std::move(on_closed)) {
    head_ = "POST /v1/broadcast HTTP/1.1\r\nHost: " + o.servers.front().toString() +
            "\r\nAuthorization: Bearer " + o.api_key +
            "\r\nContent-Type: application/json\r\nContent-Length: ";
  }

  void connect(std::function<void(const Status&)> done) override {
    done_ = std::move(done);
    for (size_t i = 0; i < options_.http_connections; ++i) {
      auto client = std::make_unique<HttpPipelineClient>(
          loop_,
          [this](HttpPipelineClient&, const HttpPipelineClient::Response& r) {
            on_completed_(r.tag, r.status == 200, r.status == 200 ? std::string_view() : r.body, 0);
          },
          [this](HttpPipelineClient&, const Status& why, size_t lost) {
            if (!closing_) on_closed_(why, lost);
          });
      client->connect(options_.servers.front(), options_.source, kConnectTimeout,
                      [this](HttpPipelineClient&, const Status& st) {
                        if (!done_) return;
                        if (!st.isOk() || ++connected_ == options_.http_connections) {
                          auto done = std::move(done_);
                          done_ = nullptr;
                          done(st);
                        }
                      });
      clients_.push_back(std::move(client));
    }
  }

  bool publish(uint64_t number, std::string_view payload) override {
    body_ = "{\"app\":\"" + options_.app + "\",\"qos\":";
    appendNumber(body_, options_.qos);
    body_ += ",\"payload\":\"";
    body_ += payload;  // makeBroadcastPayload() is plain ASCII: nothing to escape
    body_ += "\"}";
    request_.assign(head_);
    appendNumber(request_, body_.size());
    request_ += "\r\n\r\n";
    request_ += body_;
    for (size_t k = 0; k < clients_.size(); ++k) {
      HttpPipelineClient& c = *clients_[next_];
      next_ = (next_ + 1) % clients_.size();
      if (c.connected()) return c.send(request_, number);
    }
    return false;
  }

  void close() override {
    closing_ = true;
    for (auto& c : clients_)
      c->close();
  }

 private:
  net::EventLoop& loop_;
  const BroadcastPublisher::Options& options_;
  OnCompleted on_completed_;
  OnClosed on_closed_;
  std::function<void(const Status&)> done_;
  std::vector<std::unique_ptr<HttpPipelineClient>> clients_;
  std::string head_, body_, request_;
  size_t connected_ = 0, next_ = 0;
  bool closing_ = false;
};

// PUBLISH to every Redis server, one pipelined connection each.
class RedisTransport final : public BroadcastPublisher::Transport,
                             private net::TcpConnection::Handler {
 public:
  RedisTransport(net::EventLoop& loop, const BroadcastPublisher::Options& o,
                 OnCompleted on_completed, OnClosed on_closed)
      : loop_(loop),
        options_(o),
        on_completed_(std::move(on_completed)),
        on_closed_(std::move(on_closed)),
        conns_(o.servers.size()) {
    limits_.retain_output = 64 * 1024;
    limits_.max_input = 1u << 20;
  }

  void connect(std::function<void(const Status&)> done) override {
    done_ = std::move(done);
    for (size_t i = 0; i < options_.servers.size(); ++i) {
      net::TcpConnector::start(
          loop_, options_.servers[i], kConnectTimeout,
          [this, i](Result<net::TcpConnection*> r) {
            if (r.isOk()) {
              conns_[i].conn = *r;
              (*r)->setId(i);
              (*r)->start(this, &limits_);
            }
            if (!done_) {
              if (r.isOk()) (*r)->close();
              return;
            }
            if (!r.isOk() || ++connected_ == conns_.size()) {
              auto done = std::move(done_);
              done_ = nullptr;
              done(r.status());
            }
          },
          options_.source);
    }
  }

  bool publish(uint64_t number, std::string_view payload) override {
    command_ = "*3\r\n$7\r\nPUBLISH\r\n$";
    appendNumber(command_, options_.channel.size());
    command_ += "\r\n" + options_.channel + "\r\n$";
    appendNumber(command_, payload.size());
    command_ += "\r\n";
    command_ += payload;
    command_ += "\r\n";
    size_t queued = 0;
    for (Conn& c : conns_) {
      if (!c.conn || c.conn->closing() || !c.conn->send(command_)) continue;
      c.numbers.push_back(number);
      ++queued;
    }
    if (queued == 0) return false;
    pending_[number] = Pending{static_cast<uint32_t>(queued), queued == conns_.size(), 0};
    return true;
  }

  void close() override {
    closing_ = true;
    for (Conn& c : conns_) {
      if (c.conn) c.conn->close();
    }
  }

 private:
  struct Conn {
    net::TcpConnection* conn = nullptr;
    std::deque<uint64_t> numbers;  // PUBLISHes awaiting their reply, oldest first
  };
  struct Pending {
    uint32_t replies_left = 0;
    bool ok = true;
    uint64_t receivers = 0;
  };

  size_t onData(net::TcpConnection& conn, const char* data, size_t len) override {
    Conn& c = conns_[static_cast<size_t>(conn.id())];
    size_t used = 0;
    while (used < len) {
      const char* eol = static_cast<const char*>(std::memchr(data + used, '\n', len - used));
      if (!eol) break;
      const std::string_view reply(data + used, static_cast<size_t>(eol - (data + used)));
      used = static_cast<size_t>(eol - data) + 1;
      if (c.numbers.empty()) {
        conn.close();
        return len;
      }
      const uint64_t number = c.numbers.front();
      c.numbers.pop_front();
      uint64_t receivers = 0;
      const bool ok =
          reply.size() > 1 && reply[0] == ':' &&
          std::from_chars(reply.data() + 1, reply.data() + reply.size(), receivers).ec ==
              std::errc();
      onReply(number, ok, ok ? std::string_view() : reply, receivers);
    }
    return used;
  }

  void onReply(uint64_t number, bool ok, std::string_view error, uint64_t receivers) {
    auto it = pending_.find(number);
    if (it == pending_.end()) return;
    Pending& p = it->second;
    p.ok = p.ok && ok;
    p.receivers += receivers;
    if (!ok && error_.empty()) error_ = std::string(error);
    if (--p.replies_left > 0) return;
    const Pending done = p;
    pending_.erase(it);
    on_completed_(number, done.ok, done.ok ? std::string_view() : std::string_view(error_),
                  done.receivers);
  }

  void onClosed(net::TcpConnection& conn, net::TcpConnection::CloseReason reason) override {
    Conn& c = conns_[static_cast<size_t>(conn.id())];
    c.conn = nullptr;
    std::deque<uint64_t> lost;
    lost.swap(c.numbers);
    if (closing_) return;
    for (uint64_t n : lost)
      onReply(n, false, "connection to redis closed", 0);
    on_closed_(unavailable(std::string("redis connection closed: ") +
                           net::TcpConnection::reasonName(reason)),
               0);
  }

  net::EventLoop& loop_;
  const BroadcastPublisher::Options& options_;
  OnCompleted on_completed_;
  OnClosed on_closed_;
  net::TcpConnection::Limits limits_;
  std::function<void(const Status&)> done_;
  std::vector<Conn> conns_;
  std::unordered_map<uint64_t, Pending> pending_;
  std::string command_, error_;
  size_t connected_ = 0;
  bool closing_ = false;
};

}  // namespace

BroadcastPublisher::BroadcastPublisher(net::EventLoop& loop, Options options)
    : loop_(loop), options_(std::move(options)) {}

BroadcastPublisher::~BroadcastPublisher() = default;

void BroadcastPublisher::start(std::function<void(int)> done) {
  done_ = std::move(done);
  auto on_completed = [this](uint64_t number, bool ok, std::string_view err, uint64_t receivers) {
    completed(number, ok, err, receivers);
  };
  auto on_closed = [this](const Status& why, size_t lost) {
    errors_ += lost;
    in_flight_ -= std::min(in_flight_, lost);
    error(why.toString());
  };
  if (options_.kind == Kind::Center) {
    transport_ = std::make_unique<CenterTransport>(loop_, options_, on_completed, on_closed);
  } else {
    transport_ = std::make_unique<RedisTransport>(loop_, options_, on_completed, on_closed);
  }
  transport_->connect([this](const Status& st) {
    if (finished_) return;
    if (!st.isOk()) {
      error("connect: " + st.toString());
      return finish(1);
    }
    begin();
  });
}

void BroadcastPublisher::begin() {
  sent_at_.assign(options_.count, 0);
  start_ns_ = steadyNs();
  end_ns_ = start_ns_ + static_cast<int64_t>(options_.seconds * 1e9);
  cpu_start_ = cpuSeconds();
  timer_ = net::PeriodicTimer::create(
      loop_, [this] { tick(); }, true);
  timer_->start(kTick);
  fill(start_ns_);
}

bool BroadcastPublisher::sendOne(int64_t now) {
  const uint64_t number = issued_++;
  if (!transport_->publish(number, makeBroadcastPayload(number, now, options_.payload_bytes))) {
    ++errors_;
    error("could not queue a broadcast (no connection)");
    return false;
  }
  sent_at_[number] = now;
  if (sent_ == 0) first_send_ns_ = now;
  last_send_ns_ = now;
  ++sent_;
  ++in_flight_;
  return true;
}

// Closed loop: tops the window up.
void BroadcastPublisher::fill(int64_t now) {
  if (options_.rate > 0 || sending_done_) return;
  while (in_flight_ < options_.window && issued_ < options_.count && now < end_ns_) {
    if (!sendOne(now)) break;
  }
}

void BroadcastPublisher::tick() {
  const int64_t now = steadyNs();
  if (!sending_done_ && (issued_ >= options_.count || now >= end_ns_)) {
    sending_done_ = true;
    drain_until_ns_ = now + kDrainNs;
  }
  if (sending_done_) {
    if (in_flight_ == 0 || now >= drain_until_ns_) finish(errors_ == 0 && in_flight_ == 0 ? 0 : 1);
    return;
  }
  if (options_.rate <= 0) return fill(now);
  const auto due = std::min<uint64_t>(
      options_.count,
      static_cast<uint64_t>(options_.rate * static_cast<double>(now - start_ns_) / 1e9) + 1);
  while (issued_ < due) {
    if (in_flight_ >= options_.window) {
      ++issued_;
      ++skipped_;
      continue;
    }
    if (!sendOne(now)) break;
  }
}

void BroadcastPublisher::completed(uint64_t number, bool ok, std::string_view err,
                                   uint64_t receivers) {
  if (in_flight_ > 0) --in_flight_;
  if (ok) {
    ++ok_;
    receivers_ += receivers;
    if (number < sent_at_.size()) api_latency_.record(steadyNs() - sent_at_[number]);
  } else {
    ++errors_;
    error("answer: " + std::string(err.substr(0, 200)));
  }
  if (!finished_) fill(steadyNs());
}

void BroadcastPublisher::error(std::string_view what) {
  if (!first_error_.empty()) return;
  first_error_ = std::string(what);
  std::fprintf(stderr, "push-load: publisher: first error: %s\n", first_error_.c_str());
}

void BroadcastPublisher::finish(int exit_code) {
  if (finished_) return;
  finished_ = true;
  timer_.reset();
  const double seconds =
      sent_ > 0 ? static_cast<double>(last_send_ns_ - first_send_ns_) / 1e9 : 0.0;
  const double elapsed = start_ns_ > 0 ? static_cast<double>(steadyNs() - start_ns_) / 1e9 : 0.0;
  auto ms = [](int64_t ns) { return static_cast<double>(ns) / 1e6; };
  char line[768];
  std::snprintf(line, sizeof line,
                "sent=%" PRIu64 " ok=%" PRIu64 " errors=%" PRIu64 " skipped=%" PRIu64
                " unanswered=%zu first_send_ns=%" PRId64 " last_send_ns=%" PRId64
                " seconds=%.3f per_s=%.0f api_p50_ms=%.3f api_p99_ms=%.3f api_max_ms=%.3f"
                " receivers=%" PRIu64 " loadgen_cpu=%.2f",
                sent_, ok_, errors_, skipped_, in_flight_, first_send_ns_, last_send_ns_, seconds,
                seconds > 0 ? static_cast<double>(sent_) / seconds : 0.0,
                ms(api_latency_.percentile(0.5)), ms(api_latency_.percentile(0.99)),
                ms(api_latency_.max()), receivers_,
                elapsed > 0 ? (cpuSeconds() - cpu_start_) / elapsed : 0.0);
  result_ = line;
  if (done_) done_(exit_code);
}

void BroadcastPublisher::close() {
  timer_.reset();
  if (result_.empty()) finish(1);
  if (transport_) transport_->close();
}

}  // namespace push::loadgen

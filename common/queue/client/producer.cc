#include "common/queue/client/producer.h"

#include <algorithm>

#include "common/base/log.h"
#include "common/net/event_loop.h"
#include "common/net/periodic_timer.h"

namespace push::queue {

namespace {

constexpr std::chrono::milliseconds kTick{50};

bool startsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

}  // namespace

Status statusFromNsqError(std::string_view error) {
  std::string text(error.substr(0, 1024));
  std::string_view code = error.substr(0, error.find(' '));
  if (code == "E_INVALID" || startsWith(code, "E_BAD_")) return invalidArgument(text);
  if (code == "E_PUB_FAILED" || code == "E_MPUB_FAILED" || code == "E_DPUB_FAILED") {
    return unavailable(text);
  }
  if (code == "E_AUTH_FAILED") return Status(Code::UNAUTHENTICATED, text);
  if (code == "E_UNAUTHORIZED") return Status(Code::PERMISSION_DENIED, text);
  if (code == "E_FIN_FAILED" || code == "E_REQ_FAILED" || code == "E_TOUCH_FAILED") {
    return Status(Code::FAILED_PRECONDITION, text);
  }
  return internalError(text);
}

Result<std::unique_ptr<Producer>> Producer::create(net::EventLoop& loop, std::string_view address,
                                                   Options options) {
  Result<net::InetAddress> addr = net::InetAddress::parse(address);
  if (!addr.isOk()) return addr.status().withContext("producer address");
  if (options.max_inflight == 0 || options.max_pending_bytes == 0 || options.timeout.count() <= 0 ||
      options.reconnect_min.count() <= 0 || options.reconnect_max < options.reconnect_min) {
    return invalidArgument(
        "producer options: need max_inflight, max_pending_bytes, timeout > 0 and "
        "0 < reconnect_min <= reconnect_max");
  }
  if (options.connection.tls_v1 || options.connection.deflate || options.connection.snappy) {
    return invalidArgument("tls_v1/deflate/snappy need common/queue/codec (not wired in yet)");
  }
  return std::unique_ptr<Producer>(new Producer(loop, *addr, std::move(options)));
}

Producer::Producer(net::EventLoop& loop, const net::InetAddress& addr, Options options)
    : loop_(loop), addr_(addr), options_(std::move(options)) {
  timer_ = net::PeriodicTimer::create(loop_, [this] { onTick(); });
  timer_->start(kTick);
}

Producer::~Producer() {
  liveness_.kill();
  timer_.reset();
  conn_.reset();
  std::deque<Command> all;
  all.swap(sent_);
  for (Command& c : waiting_)
    all.push_back(std::move(c));
  waiting_.clear();
  for (Command& c : all) {
    Done done = std::move(c.done);
    done(Status(Code::CANCELLED, "the producer was destroyed"));
  }
}

void Producer::publish(std::string_view topic, std::string body, Done done) {
  Command c;
  c.line = "PUB " + std::string(topic);
  c.bytes = c.line.size() + 5 + body.size();
  c.body = std::move(body);
  c.done = std::move(done);
  if (!wire::isValidName(topic)) {
    return c.done(invalidArgument("bad topic name '" + std::string(topic) + "'"));
  }
  if (c.body.empty()) return c.done(invalidArgument("empty message body"));
  enqueue(std::move(c));
}

void Producer::multiPublish(std::string_view topic, std::vector<std::string> bodies, Done done) {
  Command c;
  c.line = "MPUB " + std::string(topic);
  c.multi = true;
  c.bytes = c.line.size() + 9;
  for (const std::string& b : bodies)
    c.bytes += 4 + b.size();
  c.done = std::move(done);
  if (!wire::isValidName(topic)) {
    return c.done(invalidArgument("bad topic name '" + std::string(topic) + "'"));
  }
  if (bodies.empty()) return c.done(invalidArgument("MPUB of no messages"));
  for (const std::string& b : bodies) {
    if (b.empty()) return c.done(invalidArgument("empty message body in MPUB"));
  }
  c.bodies = std::move(bodies);
  enqueue(std::move(c));
}

void Producer::deferredPublish(std::string_view topic, std::chrono::milliseconds delay,
                               std::string body, Done done) {
  Command c;
  c.line = "DPUB " + std::string(topic) + " " + std::to_string(std::max<int64_t>(0, delay.count()));
  c.bytes = c.line.size() + 5 + body.size();
  c.body = std::move(body);
  c.done = std::move(done);
  if (!wire::isValidName(topic)) {
    return c.done(invalidArgument("bad topic name '" + std::string(topic) + "'"));
  }
  if (c.body.empty()) return c.done(invalidArgument("empty message body"));
  enqueue(std::move(c));
}

void Producer::enqueue(Command command) {
  loop_.assertInLoopThread();
  if (inflight() >= options_.max_inflight) {
    ++stats_.failed;
    return command.done(Status(Code::OVERLOADED,
                               std::to_string(inflight()) + " commands in flight (max_inflight)"));
  }
  if (pending_bytes_ + command.bytes > options_.max_pending_bytes) {
    ++stats_.failed;
    return command.done(
        Status(Code::OVERLOADED, std::to_string(pending_bytes_) + " bytes pending, " +
                                     std::to_string(command.bytes) + " more would pass " +
                                     std::to_string(options_.max_pending_bytes)));
  }
  command.deadline_ms = loop_.nowMs() + options_.timeout.count();
  pending_bytes_ += command.bytes;
  if (conn_ && conn_->ready() && waiting_.empty()) {
    sendCommand(command);
    sent_.push_back(std::move(command));
    return;
  }
  waiting_.push_back(std::move(command));
  if (!conn_ && loop_.nowMs() >= retry_at_ms_) connect();
}

void Producer::sendCommand(Command& c) {
  if (c.multi) {
    conn_->sendMulti(c.line, c.bodies);
    c.bodies = {};
  } else {
    conn_->sendWithBody(c.line, c.body);
    std::string().swap(c.body);
  }
  // A false return means the socket is closing: onClosed fails the command with the others.
}

void Producer::connect() {
  Result<NsqConnectionPtr> conn = NsqConnection::start(loop_, addr_, options_.connection, this);
  if (!conn.isOk()) {  // options it cannot honour (checked in create(): should not happen)
    LOG_EVERY_SEC(Error, Queue, 1, "producer for {}: {}", addr_.toString(),
                  conn.status().toString());
    scheduleReconnect();
    return;
  }
  conn_ = std::move(conn).value();
}

void Producer::scheduleReconnect() {
  const uint32_t min_ms = static_cast<uint32_t>(options_.reconnect_min.count());
  const uint32_t max_ms = static_cast<uint32_t>(options_.reconnect_max.count());
  backoff_ms_ = backoff_ms_ == 0 ? min_ms : std::min(max_ms, backoff_ms_ * 2);
  rng_ ^= rng_ << 13;
  rng_ ^= rng_ >> 7;
  rng_ ^= rng_ << 17;
  const int64_t jitter =
      static_cast<int64_t>(rng_ % (backoff_ms_ / 2 + 1)) - static_cast<int64_t>(backoff_ms_ / 4);
  retry_at_ms_ = loop_.nowMs() + backoff_ms_ + jitter;
}

void Producer::onTick() {
  const int64_t now = loop_.nowMs();
  Liveness::Token alive = liveness_.token();
  // An answer overdue: the connection is stuck. Everything sent on it fails TIMEOUT.
  if (!sent_.empty() && now >= sent_.front().deadline_ms) {
    LOG_EVERY_SEC(Warn, Queue, 1, "producer: no answer from {} within {} ms; reconnecting",
                  addr_.toString(), options_.timeout.count());
    conn_.reset();
    scheduleReconnect();
    completeAll(sent_, Status(Code::TIMEOUT, "no answer from " + addr_.toString() + " within " +
                                                 std::to_string(options_.timeout.count()) +
                                                 " ms (it may have been stored)"));
    if (!alive.alive()) return;
  }
  while (!waiting_.empty() && now >= waiting_.front().deadline_ms) {
    Command c = std::move(waiting_.front());
    waiting_.pop_front();
    complete(c,
             Status(Code::TIMEOUT, "not sent: no connection to " + addr_.toString() + " within " +
                                       std::to_string(options_.timeout.count()) + " ms"));
    if (!alive.alive()) return;
  }
  if (!conn_ && !waiting_.empty() && now >= retry_at_ms_) connect();
}

void Producer::complete(Command& c, Status status) {
  pending_bytes_ -= std::min(pending_bytes_, c.bytes);
  if (status.isOk()) {
    ++stats_.ok;
  } else {
    ++stats_.failed;
  }
  Done done = std::move(c.done);
  done(std::move(status));
}

void Producer::completeFront(Status status) {
  if (sent_.empty()) {
    LOG_EVERY_SEC(Warn, Queue, 1, "producer: answer from {} with no command waiting for it: {}",
                  addr_.toString(), status.toString());
    return;
  }
  Command c = std::move(sent_.front());
  sent_.pop_front();
  complete(c, std::move(status));
}

void Producer::completeAll(std::deque<Command>& commands, const Status& status) {
  std::deque<Command> batch;
  batch.swap(commands);
  // The bytes of every command leave first: a `done` that publishes again sees them gone.
  for (Command& c : batch) {
    pending_bytes_ -= std::min(pending_bytes_, c.bytes);
    c.bytes = 0;
    if (status.isOk()) {
      ++stats_.ok;
    } else {
      ++stats_.failed;
    }
  }
  for (Command& c : batch) {
    Done done = std::move(c.done);
    done(status);  // may destroy the producer: only locals are touched from here on
  }
}

void Producer::onReady(NsqConnection& conn) {
  ++stats_.connects;
  conn_ready_ = true;
  backoff_ms_ = 0;
  retry_at_ms_ = 0;
  while (!waiting_.empty() && conn_ && conn_->ready()) {
    sendCommand(waiting_.front());
    sent_.push_back(std::move(waiting_.front()));
    waiting_.pop_front();
  }
}

void Producer::onResponse(NsqConnection& conn, std::string_view data) {
  if (data == "OK") return completeFront(Status::ok());
  LOG_EVERY_SEC(Warn, Queue, 1, "producer: unexpected answer from {}: {}", addr_.toString(),
                std::string(data.substr(0, 128)));
}

void Producer::onError(NsqConnection& conn, std::string_view data) {
  completeFront(statusFromNsqError(data));
}

void Producer::onMessage(NsqConnection& conn, const wire::MessageView& message) {
  LOG_EVERY_SEC(Warn, Queue, 1, "producer: {} sent a message on a publishing connection",
                addr_.toString());
}

void Producer::onClosed(NsqConnection& conn, const Status& why) {
  const bool was_ready = conn_ready_;
  conn_ready_ = false;
  conn_.reset();
  scheduleReconnect();
  Liveness::Token alive = liveness_.token();
  LOG_EVERY_SEC(Warn, Queue, 1, "producer: connection to {} ended: {} ({} answers lost)",
                addr_.toString(), why.toString(), sent_.size());
  completeAll(sent_, unavailable(why.message() + " (sent, not answered: it may have been "
                                                 "stored)"));
  if (!alive.alive()) return;
  if (!was_ready) {
    // The attempt failed: what waits for it fails too rather than waiting out the backoff.
    completeAll(waiting_, unavailable("not sent: " + why.message()));
  }
}

}  // namespace push::queue

#include "common/redis/redis_client.h"

#include <hiredis/hiredis.h>
#include <hiredis/read.h>

#include <algorithm>

#include "common/base/log.h"
#include "common/net/event_loop.h"
#include "common/net/periodic_timer.h"
#include "common/net/tcp_connection.h"
#include "common/net/tcp_connector.h"

namespace push::redis {

namespace {

constexpr std::chrono::milliseconds kTick{20};

Reply convert(const redisReply* r) {
  Reply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = Reply::Type::String;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = Reply::Type::Status;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = Reply::Type::Error;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::Integer;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::Array;
      out.elements.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i)
        out.elements.push_back(convert(r->element[i]));
      break;
    default:  // REDIS_REPLY_NIL
      break;
  }
  return out;
}

}  // namespace

// The socket's handler. It lives until the socket's close callback, which may come after the
// client is gone (then `client` is null and nothing is reported).
class RedisClient::Link final : public net::TcpConnection::Handler {
 public:
  explicit Link(RedisClient* client, size_t max_output) : client_(client) {
    const uint32_t cap = static_cast<uint32_t>(std::min<size_t>(max_output, UINT32_MAX / 2));
    limits_.hard_limit = cap;
    limits_.high_watermark = std::max<uint32_t>(1, cap / 2);
    limits_.low_watermark = std::max<uint32_t>(1, cap / 4);
  }
  const net::TcpConnection::Limits* limits() const { return &limits_; }
  void detach() { client_ = nullptr; }

  size_t onData(net::TcpConnection& conn, const char* data, size_t len) override {
    return client_ ? client_->onData(data, len) : len;
  }
  void onClosed(net::TcpConnection& conn, net::TcpConnection::CloseReason reason) override {
    if (client_) {
      client_->onLinkClosed(
          unavailable("connection to redis " + client_->addr_.toString() + " closed"));
    }
    delete this;
  }

 private:
  RedisClient* client_;
  net::TcpConnection::Limits limits_;
};

std::string RedisClient::encode(const std::vector<std::string>& args) {
  size_t size = 16;
  for (const auto& a : args)
    size += a.size() + 16;
  std::string out;
  out.reserve(size);
  out += '*';
  out += std::to_string(args.size());
  out += "\r\n";
  for (const auto& a : args) {
    out += '$';
    out += std::to_string(a.size());
    out += "\r\n";
    out += a;
    out += "\r\n";
  }
  return out;
}

Result<std::unique_ptr<RedisClient>> RedisClient::create(net::EventLoop& loop,
                                                         std::string_view address,
                                                         Options options) {
  Result<net::InetAddress> addr = net::InetAddress::parse(address);
  if (!addr.isOk()) return addr.status().withContext("redis address");
  if (options.max_inflight == 0 || options.timeout.count() <= 0 ||
      options.connect_timeout.count() <= 0 || options.reconnect_min.count() <= 0 ||
      options.reconnect_max < options.reconnect_min || options.max_output_bytes < 4096) {
    return invalidArgument(
        "redis client options: need max_inflight, timeout, connect_timeout > 0, "
        "0 < reconnect_min <= reconnect_max and max_output_bytes >= 4096");
  }
  return std::unique_ptr<RedisClient>(new RedisClient(loop, *addr, options));
}

RedisClient::RedisClient(net::EventLoop& loop, const net::InetAddress& addr, Options options)
    : loop_(loop), addr_(addr), options_(options) {
  timer_ = net::PeriodicTimer::create(loop_, [this] { onTick(); });
  timer_->start(kTick);
}

RedisClient::~RedisClient() {
  liveness_.kill();
  timer_.reset();
  if (connector_) connector_->cancel();  // its callback sees the dead token
  if (link_) link_->detach();
  if (conn_) conn_->close();
  if (reader_) redisReaderFree(reader_);
  std::deque<Command> all;
  all.swap(sent_);
  for (Command& c : waiting_)
    all.push_back(std::move(c));
  waiting_.clear();
  for (Command& c : all) {
    Done done = std::move(c.done);
    done(Status(Code::CANCELLED, "the redis client was destroyed"));
  }
}

void RedisClient::command(std::vector<std::string> args, Done done) {
  loop_.assertInLoopThread();
  if (args.empty()) return done(invalidArgument("redis command without arguments"));
  if (inflight() >= options_.max_inflight) {
    ++stats_.failed;
    return done(Status(Code::OVERLOADED,
                       std::to_string(inflight()) + " redis commands in flight (max_inflight)"));
  }
  Command c;
  c.bytes = encode(args);
  c.done = std::move(done);
  c.deadline_ms = loop_.nowMs() + options_.timeout.count();
  if (conn_ && waiting_.empty()) {
    if (conn_->send(c.bytes)) {
      c.bytes.clear();
      c.bytes.shrink_to_fit();
      sent_.push_back(std::move(c));
      return;
    }
    // Over the output limit: the connection is closing as a slow peer; this one waits.
  }
  waiting_.push_back(std::move(c));
  connect();
}

void RedisClient::connect() {
  if (conn_ || link_ || connector_) return;
  if (loop_.nowMs() < retry_at_ms_) return;  // onTick tries again
  connector_ = net::TcpConnector::start(
      loop_, addr_, options_.connect_timeout,
      [this, alive = liveness_.token()](Result<net::TcpConnection*> r) {
        if (!alive.alive()) {
          if (r.isOk()) (*r)->close();
          return;
        }
        connector_ = nullptr;
        if (!r.isOk()) {
          LOG_EVERY_SEC(Warn, Redis, 5, "redis {}: {}", addr_.toString(), r.status().toString());
          scheduleReconnect();
          // What waited for this attempt was never sent: it fails now.
          std::deque<Command> failed;
          failed.swap(waiting_);
          auto token = liveness_.token();
          for (Command& c : failed) {
            complete(c, r.status().withContext("connecting to redis " + addr_.toString()));
            if (!token.alive()) return;
          }
          return;
        }
        onConnected(*r);
      });
}

void RedisClient::onConnected(net::TcpConnection* conn) {
  link_ = new Link(this, options_.max_output_bytes);
  conn_ = conn;
  conn_->start(link_, link_->limits());
  reader_ = redisReaderCreate();
  backoff_ms_ = 0;
  ++stats_.connects;
  std::deque<Command> queued;
  queued.swap(waiting_);
  for (Command& c : queued) {
    if (!conn_ || !conn_->send(c.bytes)) {
      waiting_.push_back(std::move(c));
      continue;
    }
    c.bytes.clear();
    c.bytes.shrink_to_fit();
    sent_.push_back(std::move(c));
  }
}

size_t RedisClient::onData(const char* data, size_t len) {
  if (!reader_) return len;
  if (redisReaderFeed(reader_, data, len) != REDIS_OK) {
    dropConnection(Status(Code::PROTOCOL_ERROR, "redis reader: out of memory"));
    return len;
  }
  auto alive = liveness_.token();
  while (reader_) {
    void* raw = nullptr;
    if (redisReaderGetReply(reader_, &raw) != REDIS_OK) {
      dropConnection(Status(Code::PROTOCOL_ERROR, std::string("bad reply from redis ") +
                                                      addr_.toString() + ": " + reader_->errstr));
      return len;
    }
    if (!raw) break;
    auto* reply = static_cast<redisReply*>(raw);
    if (sent_.empty()) {
      freeReplyObject(reply);
      dropConnection(Status(Code::PROTOCOL_ERROR, "redis sent a reply nobody asked for"));
      return len;
    }
    Command c = std::move(sent_.front());
    sent_.pop_front();
    if (reply->type == REDIS_REPLY_ERROR) {
      ++stats_.errors;
      Status st(Code::FAILED_PRECONDITION, std::string(reply->str, reply->len));
      freeReplyObject(reply);
      Done done = std::move(c.done);
      done(std::move(st));
    } else {
      Reply out = convert(reply);
      freeReplyObject(reply);
      ++stats_.replies;
      Done done = std::move(c.done);
      done(std::move(out));
    }
    if (!alive.alive()) return len;
  }
  return len;
}

void RedisClient::complete(Command& command, Result<Reply> result) {
  if (!result.isOk()) ++stats_.failed;
  Done done = std::move(command.done);
  done(std::move(result));
}

void RedisClient::dropConnection(const Status& why) {
  if (link_) link_->detach();
  link_ = nullptr;
  if (conn_) conn_->close();
  conn_ = nullptr;
  onLinkClosed(why);
}

void RedisClient::onLinkClosed(const Status& why) {
  link_ = nullptr;
  conn_ = nullptr;
  if (reader_) {
    redisReaderFree(reader_);
    reader_ = nullptr;
  }
  scheduleReconnect();
  LOG_EVERY_SEC(Warn, Redis, 5, "redis {}: {} ({} commands lost in flight)", addr_.toString(),
                why.toString(), sent_.size());
  std::deque<Command> lost;
  lost.swap(sent_);
  auto alive = liveness_.token();
  for (Command& c : lost) {
    complete(c, why);
    if (!alive.alive()) return;
  }
}

void RedisClient::scheduleReconnect() {
  const uint32_t min = static_cast<uint32_t>(options_.reconnect_min.count());
  const uint32_t max = static_cast<uint32_t>(options_.reconnect_max.count());
  backoff_ms_ = backoff_ms_ == 0 ? min : std::min(max, backoff_ms_ * 2);
  rng_ ^= rng_ << 13;
  rng_ ^= rng_ >> 7;
  rng_ ^= rng_ << 17;
  // +-25% jitter.
  const int64_t jitter = static_cast<int64_t>(rng_ % (backoff_ms_ / 2 + 1)) - backoff_ms_ / 4;
  retry_at_ms_ = loop_.nowMs() + backoff_ms_ + jitter;
}

void RedisClient::onTick() {
  const int64_t now = loop_.nowMs();
  auto alive = liveness_.token();
  if (!sent_.empty() && sent_.front().deadline_ms <= now) {
    dropConnection(Status(Code::TIMEOUT, "redis " + addr_.toString() + " did not answer within " +
                                             std::to_string(options_.timeout.count()) + " ms"));
    if (!alive.alive()) return;
  }
  // Waiting commands past their deadline were never sent.
  while (!waiting_.empty() && waiting_.front().deadline_ms <= now) {
    Command c = std::move(waiting_.front());
    waiting_.pop_front();
    complete(c, Status(Code::TIMEOUT, "redis " + addr_.toString() + " not reachable within " +
                                          std::to_string(options_.timeout.count()) + " ms"));
    if (!alive.alive()) return;
  }
  if (!waiting_.empty()) connect();
}

}  // namespace push::redis

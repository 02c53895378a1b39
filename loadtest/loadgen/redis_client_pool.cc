#include "loadtest/loadgen/redis_client_pool.h"

#include <algorithm>
#include <chrono>

#include "common/net/event_loop.h"

namespace push::loadgen {
namespace {
// "*3\r\n$9\r\nsubscribe\r\n$<n>\r\n<channel>\r\n:1\r\n": six lines.
constexpr uint8_t kSubscribeReplyLines = 6;
}  // namespace

RedisClientPool::RedisClientPool(net::EventLoop& loop, Options options)
    : loop_(loop), options_(std::move(options)) {
  command_ = "SUBSCRIBE " + options_.channel + "\r\n";
  limits_.retain_output = 0;
  clients_.resize(options_.connect.count);
}

RedisClientPool::~RedisClientPool() = default;

void RedisClientPool::start() {
  opener_ = std::make_unique<ConnectionOpener>(
      loop_, options_.connect,
      [this](size_t index, net::TcpConnection& conn) {
        Client& c = clients_[index];
        c.conn = &conn;
        c.state = State::Subscribing;
        conn.setId(index);
        conn.start(this, &limits_);
        if (!conn.send(command_)) fail(c, "could not send SUBSCRIBE");
      },
      [this](size_t index, const Status& st) {
        clients_[index].state = State::Failed;
        ++failed_;
        if (first_error_.empty()) first_error_ = st.toString();
        maybeSettled();
      });
  opener_->start();
  maybeSettled();
}

void RedisClientPool::close() {
  if (closing_) return;
  closing_ = true;
  if (opener_) opener_->stop();
  for (Client& c : clients_) {
    if (c.conn) c.conn->close();
  }
}

size_t RedisClientPool::onData(net::TcpConnection& conn, const char* data, size_t len) {
  const size_t index = static_cast<size_t>(conn.id());
  Client& c = clients_[index];
  if (c.state == State::Active) return on_message_ ? parseMessages(c, index, data, len) : len;
  if (c.state != State::Subscribing) return len;
  if (c.lines == 0 && len > 0 && data[0] == '-') {
    fail(c, "redis: " + std::string(data, std::min<size_t>(len, 200)));
    return len;
  }
  for (size_t i = 0; i < len; ++i) {
    if (data[i] == '\n' && ++c.lines == kSubscribeReplyLines) {
      c.state = State::Active;
      ++ready_;
      opener_->finished();
      maybeSettled();
      // Messages may follow the reply in the same read.
      const size_t used = i + 1;
      if (!on_message_ || conn.closing()) return len;
      return used + parseMessages(c, index, data + used, len - used);
    }
  }
  return len;
}

namespace {

enum class Parse : uint8_t { Ok, Incomplete, Bad };

// "<prefix><decimal>\r\n" at data[*at]: the number, *at moved past the CRLF.
Parse parseHeader(const char* data, size_t len, size_t* at, char prefix, size_t* value) {
  size_t i = *at;
  if (i >= len) return Parse::Incomplete;
  if (data[i] != prefix) return Parse::Bad;
  size_t v = 0;
  for (++i; i < len && data[i] != '\r'; ++i) {
    if (data[i] < '0' || data[i] > '9' || v > (size_t{1} << 32)) return Parse::Bad;
    v = v * 10 + static_cast<size_t>(data[i] - '0');
  }
  if (i + 1 >= len) return Parse::Incomplete;
  if (data[i + 1] != '\n') return Parse::Bad;
  *at = i + 2;
  *value = v;
  return Parse::Ok;
}

// One bulk string "$<n>\r\n<n bytes>\r\n".
Parse parseBulk(const char* data, size_t len, size_t* at, std::string_view* out) {
  size_t n = 0, i = *at;
  if (Parse p = parseHeader(data, len, &i, '$', &n); p != Parse::Ok) return p;
  if (len - i < n + 2) return Parse::Incomplete;
  *out = std::string_view(data + i, n);
  *at = i + n + 2;
  return Parse::Ok;
}

}  // namespace

size_t RedisClientPool::parseMessages(Client& c, size_t index, const char* data, size_t len) {
  size_t used = 0;
  int64_t read_ns = 0;
  while (used < len) {
    size_t at = used, parts = 0;
    std::string_view kind, channel, payload;
    Parse p = parseHeader(data, len, &at, '*', &parts);
    if (p == Parse::Ok && parts != 3) p = Parse::Bad;
    if (p == Parse::Ok) p = parseBulk(data, len, &at, &kind);
    if (p == Parse::Ok) p = parseBulk(data, len, &at, &channel);
    if (p == Parse::Ok) p = parseBulk(data, len, &at, &payload);
    if (p == Parse::Incomplete) break;
    if (p == Parse::Bad) {
      fail(c, "redis: not a pub/sub message: " +
                  std::string(data + used, std::min<size_t>(len - used, 80)));
      return len;
    }
    used = at;
    if (kind != "message" || channel != options_.channel) {
      ++unexpected_;
      continue;
    }
    if (read_ns == 0) {
      read_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                    std::chrono::steady_clock::now().time_since_epoch())
                    .count();
    }
    on_message_(index, payload, read_ns);
  }
  return used;
}

void RedisClientPool::fail(Client& c, const std::string& why) {
  if (c.state == State::Subscribing || c.state == State::Idle) {
    c.state = State::Failed;
    ++failed_;
    if (first_error_.empty()) first_error_ = why;
    if (opener_) opener_->finished();
    maybeSettled();
  }
  if (c.conn) c.conn->close();
}

void RedisClientPool::onClosed(net::TcpConnection& conn, net::TcpConnection::CloseReason reason) {
  Client& c = clients_[static_cast<size_t>(conn.id())];
  c.conn = nullptr;
  if (closing_) return;
  if (c.state == State::Subscribing) {
    fail(c, std::string("closed before the SUBSCRIBE reply (") +
                net::TcpConnection::reasonName(reason) + ")");
  } else if (c.state == State::Active) {
    c.state = State::Closed;
    ++lost_;
  }
}

void RedisClientPool::maybeSettled() {
  if (settled_ || ready_ + failed_ < clients_.size()) return;
  settled_ = true;
  if (on_settled_) on_settled_(ready_, failed_, first_error_);
}

}  // namespace push::loadgen

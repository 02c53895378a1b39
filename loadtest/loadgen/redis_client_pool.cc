#include "loadtest/loadgen/redis_client_pool.h"

#include <algorithm>

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
  Client& c = clients_[static_cast<size_t>(conn.id())];
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
      break;
    }
  }
  return len;
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

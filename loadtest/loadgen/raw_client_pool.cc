#include "loadtest/loadgen/raw_client_pool.h"

#include <chrono>

#include "common/net/event_loop.h"
#include "common/net/frame_codec.h"

namespace push::loadgen {
namespace {
constexpr size_t kMaxFrameBytes = 1u << 20;
}  // namespace

RawClientPool::RawClientPool(net::EventLoop& loop, ConnectionOpener::Options options)
    : loop_(loop), options_(std::move(options)) {
  limits_.retain_output = 0;
  limits_.max_input = kMaxFrameBytes + 64;
  conns_.resize(options_.count, nullptr);
}

RawClientPool::~RawClientPool() = default;

void RawClientPool::start() {
  opener_ = std::make_unique<ConnectionOpener>(
      loop_, options_,
      [this](size_t index, net::TcpConnection& conn) {
        conns_[index] = &conn;
        conn.setId(index);
        conn.start(this, &limits_);
        ++ready_;
        opener_->finished();
        maybeSettled();
      },
      [this](size_t, const Status& st) {
        ++failed_;
        if (first_error_.empty()) first_error_ = st.toString();
        maybeSettled();
      });
  opener_->start();
  maybeSettled();
}

void RawClientPool::close() {
  if (closing_) return;
  closing_ = true;
  if (opener_) opener_->stop();
  for (net::TcpConnection* c : conns_) {
    if (c) c->close();
  }
}

size_t RawClientPool::onData(net::TcpConnection& conn, const char* data, size_t len) {
  const auto index = static_cast<size_t>(conn.id());
  const int64_t read_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                              std::chrono::steady_clock::now().time_since_epoch())
                              .count();
  size_t used = 0;
  while (used < len) {
    net::FrameView frame;
    const auto st = net::decodeLengthPrefixed(data + used, len - used, kMaxFrameBytes, &frame);
    if (st == net::FrameStatus::Incomplete) break;
    if (st == net::FrameStatus::TooLarge) {
      conn.close();
      return len;
    }
    used += frame.consumed;
    if (on_frame_) on_frame_(index, std::string_view(frame.payload, frame.size), read_ns);
  }
  return used;
}

void RawClientPool::onClosed(net::TcpConnection& conn, net::TcpConnection::CloseReason) {
  conns_[static_cast<size_t>(conn.id())] = nullptr;
  if (!closing_) ++lost_;
}

void RawClientPool::maybeSettled() {
  if (settled_ || ready_ + failed_ < conns_.size()) return;
  settled_ = true;
  if (on_settled_) on_settled_(ready_, failed_, first_error_);
}

}  // namespace push::loadgen

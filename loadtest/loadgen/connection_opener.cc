#include "loadtest/loadgen/connection_opener.h"

#include <algorithm>

#include "common/net/event_loop.h"
#include "common/net/tcp_connection.h"
#include "common/net/tcp_connector.h"

namespace push::loadgen {
namespace {
constexpr std::chrono::milliseconds kTick{5};
}  // namespace

ConnectionOpener::ConnectionOpener(net::EventLoop& loop, Options options, OnConnected on_connected,
                                   OnFailed on_failed)
    : loop_(loop),
      options_(std::move(options)),
      on_connected_(std::move(on_connected)),
      on_failed_(std::move(on_failed)) {}

ConnectionOpener::~ConnectionOpener() {
  stop();
}

void ConnectionOpener::start() {
  budget_ = 1;  // the first connection at once, on the first tick
  armTimer();
}

void ConnectionOpener::armTimer() {
  if (timer_ || stopped_) return;
  timer_ = net::PeriodicTimer::create(
      loop_, [this] { tick(); }, /*keep_alive=*/true);
  last_tick_ms_ = loop_.nowMs();
  timer_->start(kTick);
}

void ConnectionOpener::reopen(size_t index) {
  if (stopped_ || index >= options_.count) return;
  reopen_.push_back(index);
  armTimer();
}

void ConnectionOpener::stop() {
  if (stopped_) return;
  stopped_ = true;
  timer_.reset();
  reopen_.clear();
  for (auto& [index, connector] : connecting_)
    connector->cancel();
  // Their callbacks still run once each (CANCELLED) and erase nothing: stopped_ is set.
  connecting_.clear();
}

void ConnectionOpener::finished() {
  if (pending_ > 0) --pending_;
}

void ConnectionOpener::tick() {
  const int64_t now = loop_.nowMs();
  // At most 50 ms worth of budget: a late tick does not become a burst.
  budget_ =
      std::min(budget_ + options_.rate_per_s * static_cast<double>(now - last_tick_ms_) / 1000.0,
               std::max(1.0, options_.rate_per_s / 20));
  last_tick_ms_ = now;
  while (!reopen_.empty() && pending_ < options_.max_pending) {
    const size_t index = reopen_.front();
    reopen_.pop_front();
    ++reopened_;
    launch(index);
  }
  while (launched_ < options_.count && pending_ < options_.max_pending && budget_ >= 1) {
    budget_ -= 1;
    launch(launched_++);
  }
  if (launched_ >= options_.count && reopen_.empty()) timer_.reset();
}

void ConnectionOpener::launch(size_t index) {
  ++pending_;
  const net::InetAddress* local =
      options_.sources.empty() ? nullptr : &options_.sources[index % options_.sources.size()];
  // `done` never runs inside start(), so the map entry exists by the time it runs. `this`
  // stays valid: the owner keeps the opener until the loop is shut down.
  connecting_[index] = net::TcpConnector::start(
      loop_, index < options_.servers.size() ? options_.servers[index] : options_.server,
      options_.connect_timeout,
      [this, index](Result<net::TcpConnection*> result) {
        if (stopped_) {
          if (result.isOk()) (*result)->close();  // unstarted: just freed
          return;
        }
        connecting_.erase(index);
        if (!result.isOk()) {
          finished();
          on_failed_(index, result.status());
          return;
        }
        on_connected_(index, **result);
      },
      local);
}

}  // namespace push::loadgen

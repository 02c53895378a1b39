// Channel: the endpoint set and its connection pool — setEndpoints, connecting each slot,
// reconnect with jittered backoff, retired endpoints, closed connections, and the calls waiting
// for a connection.
#include "common/rpc/channel.h"

#include <algorithm>

#include "common/base/log.h"
#include "common/net/event_loop.h"
#include "common/net/inet_address.h"
#include "common/net/tcp_connector.h"
#include "common/rpc/detail/channel_state.h"

namespace push::rpc {

namespace {

// A connection that stayed up this long counts as healthy when it closes, even if it carried
// no response: its slot's reconnect backoff starts over.
constexpr int64_t kHealthyAfterMs = 1000;

}  // namespace

Status Channel::setEndpoints(const std::vector<std::string>& addresses) {
  std::vector<Endpoint> eps;
  eps.reserve(addresses.size());
  for (const auto& a : addresses)
    eps.push_back(Endpoint{a, 1});
  return setEndpoints(eps);
}

Status Channel::setEndpoints(const std::vector<Endpoint>& endpoints) {
  loop_.assertInLoopThread();
  if (closing_) return Status(Code::CANCELLED, "channel closed");
  std::vector<net::InetAddress> addrs;
  for (const auto& e : endpoints) {
    auto addr = net::InetAddress::parse(e.address);
    if (!addr.isOk()) return addr.status();
    addrs.push_back(*addr);
  }
  std::vector<std::unique_ptr<EndpointState>> next;
  for (size_t i = 0; i < endpoints.size(); ++i) {
    std::unique_ptr<EndpointState> state;
    for (auto& old : endpoints_) {
      if (old && old->endpoint.address == endpoints[i].address) {
        state = std::move(old);
        break;
      }
    }
    if (!state) {
      state = std::make_unique<EndpointState>();
      state->addr = addrs[i];
      state->slots.resize(options_.connections_per_endpoint);
      for (Slot& s : state->slots)
        s.endpoint = state.get();
    }
    state->endpoint = endpoints[i];
    state->index = static_cast<int>(i);
    next.push_back(std::move(state));
  }
  for (auto& old : endpoints_) {
    if (!old) continue;
    old->index = -1;
    retired_.push_back(std::move(old));
  }
  endpoints_ = std::move(next);
  lb_->setEndpoints(endpoints);
  refreshUsable();
  for (auto& ep : endpoints_) {
    for (Slot& s : ep->slots) {
      if (!s.conn && !s.connector) connectSlot(*ep, s);
    }
  }
  onTick();  // closes retired endpoints that are idle
  failWaitingIfHopeless();
  return Status::ok();
}

size_t Channel::usableEndpoints() const {
  return static_cast<size_t>(std::count(usable_.begin(), usable_.end(), true));
}

void Channel::refreshUsable() {
  usable_.assign(endpoints_.size(), false);
  for (size_t i = 0; i < endpoints_.size(); ++i)
    usable_[i] = endpoints_[i]->upCount() > 0;
}

bool Channel::anyEndpointConnecting() const {
  for (const auto& ep : endpoints_) {
    if (!ep->ever_failed && ep->upCount() == 0) return true;
  }
  return false;
}

void Channel::connectSlot(EndpointState& ep, Slot& slot) {
  ++open_connections_;
  Slot* s = &slot;
  slot.connector = net::TcpConnector::start(
      loop_, ep.addr, options_.connect_timeout, [this, s](Result<net::TcpConnection*> result) {
        s->connector = nullptr;
        --open_connections_;
        EndpointState& ep = *s->endpoint;
        if (closing_ || ep.index < 0) {
          if (result.isOk()) (*result)->close();
          if (closing_) {
            maybeDelete();
          } else {
            onTick();
          }
          return;
        }
        if (!result.isOk()) {
          onSlotDown(ep, *s, result.status());
          return;
        }
        net::TcpConnection* conn = *result;
        ++open_connections_;
        conn->setContext(s);
        conn->start(this, &options_.limits);
        // The Hello goes first; calls are pipelined right behind it.
        if (!hello_frame_.empty()) conn->send(hello_frame_);
        s->conn = conn;
        s->up_since_ms = loop_.nowMs();
        // The backoff is not reset here but when the connection proves healthy (onSlotDown):
        // a server that accepts and then refuses us must not be reconnected to at full speed.
        if (ep.ever_failed && !ep.refused) {
          LOG_INFO(Rpc, "RPC endpoint {} is reachable again", ep.endpoint.address);
        }
        ep.ever_failed = false;
        if (!ep.refused) ep.last_error = Status();
        refreshUsable();
        drainWaiting();
      });
}

void Channel::onSlotDown(EndpointState& ep, Slot& slot, const Status& why) {
  if (why.code() != Code::OK) {
    if (!ep.ever_failed && !slot.refused) {  // a refusal logs itself (onGoaway)
      LOG_WARN(Rpc, "RPC endpoint {} unreachable: {}", ep.endpoint.address, why.toString());
    }
    ep.ever_failed = true;
    ep.last_error = why;
  }
  const int64_t now = loop_.nowMs();
  const bool healthy =
      !slot.refused &&
      (slot.healthy || (slot.up_since_ms != 0 && now - slot.up_since_ms >= kHealthyAfterMs));
  const bool graceful = slot.graceful && !slot.refused;
  slot.up_since_ms = 0;
  slot.healthy = slot.graceful = slot.refused = false;
  if (healthy) slot.backoff_ms = 0;  // it worked: the backoff starts over
  if (graceful && healthy) {
    // The server closed an idle connection (or is going away) that worked: reconnect now
    // rather than after a backoff; a failure backs off as usual. A server that sends goaways
    // right after accepting is not healthy and gets the backoff.
    connectSlot(ep, slot);
  } else {
    const uint32_t min_ms = static_cast<uint32_t>(options_.reconnect_min.count());
    const uint32_t max_ms = static_cast<uint32_t>(options_.reconnect_max.count());
    slot.backoff_ms = slot.backoff_ms == 0 ? min_ms : std::min(max_ms, slot.backoff_ms * 2);
    // +-25% jitter so many clients of a restarted server do not reconnect in lockstep.
    rng_state_ ^= rng_state_ << 13;
    rng_state_ ^= rng_state_ >> 7;
    rng_state_ ^= rng_state_ << 17;
    const int64_t jitter = static_cast<int64_t>(rng_state_ % (slot.backoff_ms / 2 + 1)) -
                           static_cast<int64_t>(slot.backoff_ms / 4);
    slot.retry_at_ms = now + slot.backoff_ms + jitter;
    timer_->ensureRunning();
  }
  refreshUsable();
  drainWaiting();  // calls waiting for this endpoint may go to another one
  failWaitingIfHopeless();
}

void Channel::onTick() {
  if (closing_) return;
  const int64_t now = loop_.nowMs();
  bool pending = false;
  for (auto& ep : endpoints_) {
    for (Slot& s : ep->slots) {
      if (s.conn || s.connector) continue;
      if (now >= s.retry_at_ms) {
        connectSlot(*ep, s);
      } else {
        pending = true;
      }
    }
  }
  // Retired endpoints: close connections with nothing in flight; drop the state when empty.
  for (auto& ep : retired_) {
    for (Slot& s : ep->slots) {
      if (s.conn && s.inflight == 0 && !s.conn->closing()) s.conn->closeAfterFlush();
      if (s.connector) s.connector->cancel();
    }
  }
  retired_.erase(std::remove_if(retired_.begin(), retired_.end(),
                                [](const auto& ep) { return ep->openCount() == 0; }),
                 retired_.end());
  if (!retired_.empty()) pending = true;
  if (!pending) timer_->stop();
}

Status Channel::noEndpointStatus() const {
  if (endpoints_.empty()) return unavailable("channel has no endpoints");
  for (const auto& ep : endpoints_) {
    if (ep->last_error.isOk()) continue;
    const std::string why = "no endpoint reachable (" + ep->last_error.message() + ")";
    // A refusal keeps its code (UNAUTHENTICATED for a key mismatch): retrying will not help.
    return ep->refused ? Status(ep->last_error.code(), why) : unavailable(why);
  }
  return unavailable("no endpoint reachable");
}

void Channel::onClosed(net::TcpConnection& conn, net::TcpConnection::CloseReason reason) {
  Slot* slot = static_cast<Slot*>(conn.context());
  slot->conn = nullptr;
  slot->inflight = 0;
  --open_connections_;
  EndpointState& ep = *slot->endpoint;
  std::vector<uint64_t> broken;
  for (auto& [id, call] : calls_) {
    if (call.conn == &conn) {
      call.conn = nullptr;  // its slot is gone: completeCall must not touch it
      broken.push_back(id);
    }
  }
  if (!closing_ && ep.index >= 0 && !slot->graceful && !slot->refused) {  // those logged already
    LOG_INFO(Rpc, "RPC connection to {} closed ({}); {} calls in flight fail", ep.endpoint.address,
             net::TcpConnection::reasonName(reason), broken.size());
  }
  const std::string why = "connection to " + ep.endpoint.address + " closed (" +
                          net::TcpConnection::reasonName(reason) + ") with the call in flight";
  // The slot's bookkeeping comes first: completions run user code, which may replace the
  // endpoints (freeing `ep` once its connections are gone) or close the channel.
  if (!closing_) {
    if (ep.index < 0) {
      slot->up_since_ms = 0;
      slot->healthy = slot->graceful = slot->refused = false;
      onTick();  // may free the retired endpoint
    } else {
      onSlotDown(ep, *slot, slot->refused ? ep.last_error : Status());
    }
  }
  std::sort(broken.begin(), broken.end());
  for (uint64_t id : broken)
    complete(id, unavailable(why));
  if (closing_) maybeDelete();
}

void Channel::drainWaiting() {
  while (!waiting_.empty() && !closing_) {
    const uint64_t id = waiting_.front();
    waiting_.pop_front();
    auto it = calls_.find(id);
    if (it == calls_.end() || it->second.conn) continue;
    if (!resend(id, it->second, -1, false)) {
      waiting_.push_front(id);
      break;
    }
  }
}

void Channel::failWaitingIfHopeless() {
  if (waiting_.empty() || usableEndpoints() > 0 || anyEndpointConnecting()) return;
  std::deque<uint64_t> ids;
  ids.swap(waiting_);
  const Status why = noEndpointStatus();
  for (uint64_t id : ids) {
    auto it = calls_.find(id);
    if (it != calls_.end() && !it->second.conn) complete(id, why);
  }
}

}  // namespace push::rpc

#include "sdk/client_impl.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/base/log.h"
#include "common/net/host_resolver.h"
#include "common/net/tcp_connector.h"

// Client::Impl, connections: one Link per connection attempt (resolve the server's name,
// connect to its addresses in order), closing links, failover to the next server and
// make-before-break replacement, reconnect backoff, the state machine and closeInLoop().
// The class is declared in client_impl.h; frames on an open link are client_frames.cc.

namespace push::sdk {

namespace {
using std::chrono::milliseconds;
}  // namespace

void Client::Impl::startInLoop() {
  if (stopped()) return;
  retry_timer_ = net::PeriodicTimer::create(loop_, [this] { onRetryTimer(); });
  connectInLoop();
}

void Client::Impl::connectInLoop() {
  if (stopped()) return;
  switch (state_.load()) {
    case State::Disconnected:
    case State::Kicked:
    case State::NeedsToken:
      if (token_.empty()) {
        enterTerminal(State::NeedsToken, "code=SDK_NO_TOKEN message=no token set");
        return;
      }
      backoff_.reset();
      openLink();
      break;
    case State::Backoff:
      retry_timer_->stop();
      openLink();
      break;
    default:
      break;  // connecting or online already
  }
}

void Client::Impl::openLink() {
  if (!ensureTargets()) return;  // asking the dispatcher: openLink() again when answered
  if (server_index_ >= targets_.size()) server_index_ = 0;
  auto owned = std::make_unique<Link>(*this, server_index_, ++link_serial_);
  Link* link = owned.get();
  link->address = targets_[server_index_];
  link->route_gen = route_gen_;
  link->heartbeat_hint_s = targets_heartbeat_s_;
  links_.push_back(std::move(owned));
  if (primary_ && primary_->phase == Link::Phase::Online) {
    next_ = link;
  } else {
    primary_ = link;
  }
  const ServerAddress& server = link->address;
  link->connect_deadline = std::chrono::steady_clock::now() + options_.connect_timeout;
  if (link == primary_) setState(State::Connecting, "server=" + server.text);
  if (server.host.empty()) {
    link->candidates = {server.numeric};
    connectCandidate(*link);
    return;
  }
  LOG_DEBUG(Sdk, "link {}: resolving {}", link->serial, server.host);
  link->resolver = net::HostResolver::start(
      loop_, server.host, server.port, options_.connect_timeout,
      [this, link](Result<std::vector<net::InetAddress>> r) { onResolved(*link, std::move(r)); });
}

void Client::Impl::onResolved(Link& link, Result<std::vector<net::InetAddress>> result) {
  link.resolver = nullptr;
  if (link.phase == Link::Phase::Closing) {  // closed while resolving
    removeLink(link);
    return;
  }
  if (!result.isOk()) {
    linkFailed(link, kErrorConnectFailed, result.status().message(), false);
    removeLink(link);
    return;
  }
  link.candidates = std::move(*result);
  link.candidate = 0;
  connectCandidate(link);
}

void Client::Impl::connectCandidate(Link& link) {
  const net::InetAddress& addr = link.candidates[link.candidate];
  // What the attempt has left, in equal parts for the addresses still to try (the last one
  // gets all of it): one address that does not answer cannot take the others' time, and the
  // attempt ends at its deadline however many addresses the name has.
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(link.connect_deadline -
                                                                 std::chrono::steady_clock::now());
  const auto share = std::max(std::chrono::milliseconds(1),
                              left / static_cast<int64_t>(link.candidates.size() - link.candidate));
  LOG_DEBUG(Sdk, "link {}: connecting to {} ({}, {} ms)", link.serial, addr.toString(),
            link.address.text, share.count());
  link.connector = net::TcpConnector::start(
      loop_, addr, share,
      [this, l = &link](Result<net::TcpConnection*> r) { onConnected(*l, std::move(r)); });
}

void Client::Impl::onConnected(Link& link, Result<net::TcpConnection*> result) {
  link.connector = nullptr;
  if (!result.isOk()) {
    if (link.phase != Link::Phase::Closing && link.candidate + 1 < link.candidates.size() &&
        std::chrono::steady_clock::now() < link.connect_deadline) {
      LOG_DEBUG(Sdk, "link {}: {}; trying the next address", link.serial,
                result.status().message());
      ++link.candidate;
      connectCandidate(link);
      return;
    }
    if (link.phase != Link::Phase::Closing) {
      linkFailed(link, kErrorConnectFailed, result.status().message(), false);
    }
    removeLink(link);
    return;
  }
  net::TcpConnection* conn = *result;
  if (link.phase == Link::Phase::Closing) {  // closed while connecting
    conn->close();
    removeLink(link);
    return;
  }
  link.conn = conn;
  conn->setId(link.serial);
  conn->start(&link, &limits_);
  link.phase = Link::Phase::Authenticating;
  link.last_recv_ms = loop_.nowMs();
  link.timer = net::PeriodicTimer::create(loop_, [this, l = &link] { onLinkTimer(*l); });
  link.timer->start(options_.auth_timeout, false);
  sendAuth(link);
  if (&link == primary_) {
    setState(State::Authenticating, "server=" + link.address.text);
  }
}

Client::Impl::Link* Client::Impl::onlineLink() const {
  return primary_ && primary_->phase == Link::Phase::Online ? primary_ : nullptr;
}

Client::Impl::Role Client::Impl::roleOf(const Link& link) const {
  if (&link == primary_) return Role::Primary;
  if (&link == next_) return Role::Next;
  return Role::Other;
}

void Client::Impl::closeLink(Link& link, bool graceful) {
  if (link.phase == Link::Phase::Closing) return;
  link.phase = Link::Phase::Closing;
  if (&link == primary_) primary_ = nullptr;
  if (&link == next_) next_ = nullptr;
  if (link.resolver) {
    link.resolver->cancel();  // onResolved follows with CANCELLED
  } else if (link.connector) {
    link.connector->cancel();  // onConnected follows with CANCELLED
  } else if (link.conn) {
    if (graceful) {
      flushAcks(link);
      link.conn->closeAfterFlush();
      if (link.timer) link.timer->start(options_.close_timeout, false);
    } else {
      link.conn->close();
    }
  }
  for (uint64_t seq : link.upstream_inflight) {
    failUpstream(seq, kErrorConnectionLost, "connection closed before UpstreamAck");
  }
  link.upstream_inflight.clear();
  // Requests the app is waiting on go again (first, in their order) on the next connection;
  // the automatic re-subscriptions are redone by it anyway.
  for (auto it = link.tags_inflight.rbegin(); it != link.tags_inflight.rend(); ++it) {
    if (it->seq != 0) tag_queue_.push_front(std::move(*it));
  }
  link.tags_inflight.clear();
  if (!closing_) flushTagQueue();
}

void Client::Impl::linkFailed(Link& link, int code, const std::string& why, bool graceful) {
  const Role role = roleOf(link);
  const bool was_online = link.phase == Link::Phase::Online;
  if (role != Role::Other && !link.was_online) noteAttemptFailed(link);
  LOG_DEBUG(Sdk, "link {}: {} ({})", link.serial, why.empty() ? "closed" : why,
            code ? errorName(code) : "reported");
  closeLink(link, graceful);
  if (role == Role::Other) return;  // a retiring connection: nobody depends on it
  if (code != 0) invoke(callbacks_.on_error, code, why);
  if (!reconnectAllowed()) return;
  if (role == Role::Next) {
    // The replacement failed; the current connection still works. Try the next address.
    advancePast(link);
    scheduleRetry(backoff_.next(), false);
    return;
  }
  if (next_) {  // the replacement takes over
    primary_ = next_;
    next_ = nullptr;
    const State s =
        primary_->phase == Link::Phase::Connecting ? State::Connecting : State::Authenticating;
    setState(s, "server=" + primary_->address.text);
    return;
  }
  if (was_online) {
    // It worked until now: try the same room first, and forgive the past after a long run.
    if (loop_.nowMs() - link.online_since_ms >= options_.backoff_reset_after.count()) {
      backoff_.reset();
    }
  } else if (code != 0 || server_index_ == link.server) {
    advancePast(link);
  }
  scheduleRetry(backoff_.next(), true);
}

void Client::Impl::onLinkClosed(Link& link, net::TcpConnection::CloseReason reason) {
  link.conn = nullptr;
  if (link.phase != Link::Phase::Closing) {
    linkFailed(link, kErrorConnectionLost,
               std::string("connection closed (") + net::TcpConnection::reasonName(reason) + ")",
               false);
  }
  removeLink(link);
}

void Client::Impl::removeLink(Link& link) {
  link.timer.reset();
  if (primary_ == &link) primary_ = nullptr;
  if (next_ == &link) next_ = nullptr;
  links_.remove_if([&](const std::unique_ptr<Link>& l) { return l.get() == &link; });
  maybeFinishClose();
}

void Client::Impl::retire(Link& link) {
  link.retiring = true;
  flushAcks(link);
  if (link.phase == Link::Phase::Online) link.timer->start(options_.switch_grace, false);
}

void Client::Impl::scheduleRetry(milliseconds delay, bool report) {
  retry_timer_->start(delay, false);
  if (report) {
    setState(State::Backoff, "delay_ms=" + std::to_string(delay.count()) +
                                 " attempt=" + std::to_string(backoff_.attempts()));
  }
}

void Client::Impl::onRetryTimer() {
  if (!reconnectAllowed() || next_) return;
  if (primary_ && primary_->phase != Link::Phase::Online) return;  // connecting already
  openLink();
}

bool Client::Impl::reconnectAllowed() const {
  const State s = state_.load();
  return !stopped() && s != State::NeedsToken && s != State::Kicked && s != State::Closed;
}

void Client::Impl::enterTerminal(State state, std::string detail) {
  if (stopped()) return;
  storeState(state);  // first: closing links must not reconnect
  if (retry_timer_) retry_timer_->stop();
  std::vector<Link*> open;
  for (auto& l : links_)
    open.push_back(l.get());
  for (Link* l : open)
    closeLink(*l, true);
  LOG_DEBUG(Sdk, "{}: {}", stateName(state), detail);
  setState(state, std::move(detail));
}

void Client::Impl::storeState(State state) {
  State current = state_.load(std::memory_order_acquire);
  while (current != State::Closed && !state_.compare_exchange_weak(current, state)) {
  }
}

void Client::Impl::setState(State state, std::string detail) {
  if (stopped()) return;
  storeState(state);
  invoke(callbacks_.on_state, state, detail);
}

void Client::Impl::closeInLoop() {
  if (closing_) return;
  closing_ = true;
  retry_timer_.reset();
  if (route_fetch_) route_fetch_->cancel();  // answered inside: route_fetch_ is reset
  std::vector<Link*> open;
  for (auto& l : links_)
    open.push_back(l.get());
  for (Link* l : open)
    closeLink(*l, true);
  upstream_queue_.clear();
  maybeFinishClose();
}

void Client::Impl::maybeFinishClose() {
  if (closing_ && links_.empty() && !route_fetch_) loop_.stop();
}

}  // namespace push::sdk

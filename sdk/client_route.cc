#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "common/base/log.h"
#include "sdk/client_impl.h"
#include "sdk/route.h"
#include "sdk/token_app.h"

// Client::Impl, where to connect (sdk/README.md "Routing"): the dispatcher's routes, cached
// per network type until their TTL; the configured list when the dispatcher cannot be
// reached; asking again after repeated failures and on a network change. The class is declared
// in client_impl.h; the connection attempts that walk targets_ are client_links.cc.

namespace push::sdk {

namespace {

// How long the configured list stands in for an unreachable dispatcher before the next
// attempt asks the dispatcher again.
constexpr int64_t kFallbackMs = 60'000;
// The dispatcher accepts retry=0..100.
constexpr uint32_t kMaxRouteRetry = 100;
// Bytes of a refusal's body quoted in the error.
constexpr size_t kQuotedBodyBytes = 200;

size_t routeIndex(Network network) {
  return std::min<size_t>(static_cast<size_t>(network), 3);
}

}  // namespace

bool Client::Impl::ensureTargets() {
  if (!dispatcher_) return true;
  if (route_fetch_) return false;  // answered later: openLink() runs again then
  const int64_t now = loop_.nowMs();
  if (!route_stale_ && now < targets_until_ms_) return true;
  const CachedRoute& cached = routes_[routeIndex(network_)];
  if (!cached.tcp.empty() && now < cached.expires_ms) {
    const bool same =
        targets_from_dispatcher_ && targets_.size() == cached.tcp.size() &&
        std::equal(targets_.begin(), targets_.end(), cached.tcp.begin(),
                   [](const ServerAddress& x, const ServerAddress& y) { return x.text == y.text; });
    if (!same) {
      useTargets(cached.tcp, cached.heartbeat_s, cached.expires_ms, true);
    } else {
      targets_until_ms_ = cached.expires_ms;  // the same list: keep the position in it
    }
    route_stale_ = false;
    return true;
  }
  startRouteFetch();
  return false;
}

void Client::Impl::startRouteFetch() {
  const Network asked = network_;
  const std::string target =
      routeTarget(dispatcher_->path, tokenClaim(token_, "app"), tokenClaim(token_, "user"),
                  networkName(asked), options_.region, route_retry_);
  LOG_DEBUG(Sdk, "asking the dispatcher {}{}", dispatcher_->text, target);
  if (!onlineLink()) {
    setState(State::Connecting, std::string("dispatcher=") + dispatcher_->text + " net=" +
                                    networkName(asked) + " retry=" + std::to_string(route_retry_));
  }
  route_fetch_ = HttpGet::start(
      loop_, *dispatcher_, target, options_.route_timeout, kMaxRouteBytes,
      [this, asked](Result<HttpGet::Response> r) { onRouteAnswer(asked, std::move(r)); });
}

void Client::Impl::onRouteAnswer(Network asked, Result<HttpGet::Response> result) {
  route_fetch_ = nullptr;
  if (stopped()) return;  // closeInLoop() cancelled it, and finishes the close itself
  Result<Route> route = Status(Code::UNAVAILABLE, "");
  if (!result.isOk()) {
    route = result.status();
  } else if (result->status != 200) {
    route = unavailable("answered " + std::to_string(result->status) + " " +
                        result->body.substr(0, kQuotedBodyBytes));
  } else {
    route = parseRoute(result->body);
  }
  const int64_t now = loop_.nowMs();
  if (route.isOk()) {
    CachedRoute& cached = routes_[routeIndex(asked)];
    cached.tcp = std::move(route->tcp);
    cached.heartbeat_s = route->heartbeat_s;
    cached.expires_ms = now + int64_t{route->ttl_s} * 1000;
    LOG_DEBUG(Sdk, "dispatcher route for {}: {} addresses, first {}, ttl {} s", networkName(asked),
              cached.tcp.size(), cached.tcp.front().text, route->ttl_s);
    // Taken by ensureTargets() below, unless the network changed meanwhile: then that
    // network's route is looked up (or asked for) instead.
  } else {
    const std::string why = "dispatcher " + dispatcher_->text + ": " + route.status().message();
    LOG_EVERY_SEC(Warn, Sdk, 10, "{}{}", why,
                  servers_.empty() ? "; asking again after a backoff" : "; using the servers list");
    invoke(callbacks_.on_error, kErrorConnectFailed, why);
    if (stopped()) return;
    if (servers_.empty()) {
      if (!onlineLink() && reconnectAllowed()) scheduleRetry(backoff_.next(), true);
      return;
    }
    if (asked == network_) {
      useTargets(servers_, 0, now + kFallbackMs, false);
      route_stale_ = false;
    }
  }
  // Continue the connection attempt that asked (openLink), unless things moved meanwhile.
  if (!reconnectAllowed() || next_) return;
  if (primary_ && primary_->phase != Link::Phase::Online) return;
  if (!primary_ && state_.load() == State::Backoff) return;  // its timer opens the link
  openLink();
}

void Client::Impl::useTargets(const std::vector<ServerAddress>& list, uint32_t heartbeat_s,
                              int64_t until_ms, bool from_dispatcher) {
  targets_ = list;
  ++route_gen_;
  server_index_ = 0;
  failures_in_row_ = 0;
  targets_heartbeat_s_ = heartbeat_s;
  targets_until_ms_ = until_ms;
  targets_from_dispatcher_ = from_dispatcher;
}

void Client::Impl::noteAttemptFailed(const Link& link) {
  if (!dispatcher_ || link.route_gen != route_gen_) return;
  if (++failures_in_row_ < options_.route_failures) return;
  failures_in_row_ = 0;
  route_retry_ = std::min(route_retry_ + 1, kMaxRouteRetry);
  if (targets_from_dispatcher_) routes_[routeIndex(network_)].tcp.clear();  // used up
  route_stale_ = true;
  LOG_DEBUG(Sdk,
            "{} attempts in a row failed on the route: asking the dispatcher again "
            "(retry={})",
            options_.route_failures, route_retry_);
}

void Client::Impl::advancePast(const Link& link) {
  if (link.route_gen != route_gen_ || targets_.empty()) return;  // a new list starts at 0
  server_index_ = (link.server + 1) % targets_.size();
}

void Client::Impl::onNetworkChange(Network network) {
  if (network == network_) return;
  LOG_DEBUG(Sdk, "network {} -> {}", networkName(network_), networkName(network));
  network_ = network;
  if (dispatcher_) {
    route_stale_ = true;
    route_retry_ = 0;
    failures_in_row_ = 0;
  }
  if (!retry_timer_) return;  // connect() not called yet: the first attempt uses it
  switch (state_.load()) {
    case State::Backoff:
      retry_timer_->stop();
      backoff_.reset();
      openLink();
      break;
    case State::Online:
      // Make before break: the new link becomes next_ and replaces the primary once online.
      if (!next_ && !route_fetch_) {
        backoff_.reset();
        openLink();
      }
      break;
    default:
      break;  // an attempt in progress finishes first; stops wait for the app
  }
}

}  // namespace push::sdk

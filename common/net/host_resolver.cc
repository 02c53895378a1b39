#include "common/net/host_resolver.h"

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>

#include "common/net/event_loop.h"

namespace push::net {

namespace {

std::atomic<int> g_lookups_in_flight{0};

// The test override (setLookupForTest); read when a lookup starts, on any loop's thread.
std::mutex g_override_mu;
HostResolver::LookupFn g_override;  // guarded by g_override_mu

Result<std::vector<InetAddress>> systemLookup(const std::string& host, uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &res);
  if (rc != 0) {
    const char* why = rc == EAI_SYSTEM ? std::strerror(errno) : ::gai_strerror(rc);
    return unavailable("resolve '" + host + "': " + why);
  }
  std::vector<InetAddress> addrs;
  for (const addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
    InetAddress a = InetAddress::fromSockaddr(ai->ai_addr);
    a.setPort(port);
    if (std::find(addrs.begin(), addrs.end(), a) == addrs.end()) addrs.push_back(a);
  }
  ::freeaddrinfo(res);
  if (addrs.empty()) return unavailable("resolve '" + host + "': no IPv4 or IPv6 address");
  return addrs;
}

}  // namespace

// The one thing the loop side and the lookup's thread share. `resolver` is read and written on
// the loop thread only (the thread just carries the pointer back in a posted function): null
// once the resolver has decided, so a late answer is dropped.
struct HostResolver::Lookup {
  HostResolver* resolver = nullptr;
};

int HostResolver::lookupsInFlight() {
  return g_lookups_in_flight.load();
}

void HostResolver::setLookupForTest(LookupFn lookup) {
  std::lock_guard lock(g_override_mu);
  g_override = std::move(lookup);
}

HostResolver* HostResolver::start(EventLoop& loop, std::string host, uint16_t port,
                                  std::chrono::milliseconds timeout, Done done) {
  loop.assertInLoopThread();
  auto* resolver = new HostResolver(loop, std::move(host), port, std::move(done));
  resolver->begin(timeout);
  return resolver;
}

HostResolver::HostResolver(EventLoop& loop, std::string host, uint16_t port, Done done)
    : loop_(loop), host_(std::move(host)), port_(port), done_(std::move(done)) {
  uv_timer_init(loop_.uvLoop(), &timer_);
  timer_.data = this;
}

void HostResolver::begin(std::chrono::milliseconds timeout) {
  // From now, not the loop's cached time (see TcpConnector::begin).
  uv_update_time(loop_.uvLoop());
  armTimer(static_cast<uint64_t>(std::max<int64_t>(timeout.count(), 0)));
  if (g_lookups_in_flight.fetch_add(1) >= kMaxLookupsInFlight) {
    g_lookups_in_flight.fetch_sub(1);
    abort_reason_ = unavailable("resolve '" + host_ + "': " + std::to_string(kMaxLookupsInFlight) +
                                " lookups already running (is the resolver answering?)");
    armTimer(0);  // reported on a later turn, like every outcome
    return;
  }
  lookup_ = std::make_shared<Lookup>();
  lookup_->resolver = this;
  LookupFn lookup;
  {
    std::lock_guard lock(g_override_mu);
    lookup = g_override ? g_override : LookupFn(&systemLookup);
  }
  try {
    std::thread([lookup = std::move(lookup), shared = lookup_, poster = loop_.poster(),
                 host = host_, port = port_] {
      auto result = lookup(host, port);
      g_lookups_in_flight.fetch_sub(1);
      poster->post([shared, result = std::move(result)]() mutable {
        if (shared->resolver != nullptr) shared->resolver->onResolved(std::move(result));
      });
    }).detach();
  } catch (const std::exception& e) {
    // No thread (system_error: out of threads; bad_alloc): nothing will answer.
    g_lookups_in_flight.fetch_sub(1);
    lookup_.reset();
    abort_reason_ = unavailable("resolve '" + host_ + "': no thread for the lookup: " + e.what());
    armTimer(0);
  }
}

void HostResolver::armTimer(uint64_t ms) {
  uv_timer_start(
      &timer_, [](uv_timer_t* t) { static_cast<HostResolver*>(t->data)->onTimer(); }, ms, 0);
}

void HostResolver::cancel() {
  if (decided_ || !abort_reason_.isOk()) return;
  abort_reason_ = Status(Code::CANCELLED, "resolve '" + host_ + "' cancelled");
  armTimer(0);
}

void HostResolver::onTimer() {
  if (!abort_reason_.isOk()) {
    finish(abort_reason_);
  } else {
    finish(Status(Code::TIMEOUT, "resolve '" + host_ + "' timed out"));
  }
}

void HostResolver::onResolved(Result<std::vector<InetAddress>> result) {
  if (!decided_) finish(std::move(result));
}

void HostResolver::finish(Result<std::vector<InetAddress>> result) {
  decided_ = true;
  if (lookup_) lookup_->resolver = nullptr;  // a later answer is dropped
  uv_timer_stop(&timer_);
  Done done = std::move(done_);
  done(std::move(result));
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_),
           [](uv_handle_t* h) { delete static_cast<HostResolver*>(h->data); });
}

}  // namespace push::net

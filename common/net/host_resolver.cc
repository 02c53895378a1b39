#include "common/net/host_resolver.h"

#include <algorithm>
#include <utility>

#include "common/net/event_loop.h"

namespace push::net {

HostResolver* HostResolver::start(EventLoop& loop, std::string host, uint16_t port,
                                  std::chrono::milliseconds timeout, Done done) {
  loop.assertInLoopThread();
  auto* resolver = new HostResolver(loop, std::move(host), port, std::move(done));
  resolver->begin(timeout);
  return resolver;
}

HostResolver::HostResolver(EventLoop& loop, std::string host, uint16_t port, Done done)
    : loop_(loop.uvLoop()), host_(std::move(host)), port_(port), done_(std::move(done)) {
  req_.data = this;
  uv_timer_init(loop_, &timer_);
  timer_.data = this;
}

void HostResolver::begin(std::chrono::milliseconds timeout) {
  // From now, not the loop's cached time (see TcpConnector::begin).
  uv_update_time(loop_);
  armTimer(static_cast<uint64_t>(std::max<int64_t>(timeout.count(), 0)));
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  const int rc = uv_getaddrinfo(
      loop_, &req_,
      [](uv_getaddrinfo_t* req, int status, addrinfo* res) {
        static_cast<HostResolver*>(req->data)->onResolved(status, res);
      },
      host_.c_str(), nullptr, &hints);
  if (rc != 0) {
    // Not queued (bad arguments, no memory): report it on a later turn, like every outcome.
    request_done_ = true;
    abort_reason_ = unavailable("resolve '" + host_ + "': " + uv_strerror(rc));
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
  if (!request_done_) {
    // Succeeds only while the lookup waits for a pool thread; onResolved follows either way.
    uv_cancel(reinterpret_cast<uv_req_t*>(&req_));
  }
  if (!abort_reason_.isOk()) {
    finish(abort_reason_);
  } else {
    finish(Status(Code::TIMEOUT, "resolve '" + host_ + "' timed out"));
  }
}

void HostResolver::onResolved(int status, addrinfo* res) {
  request_done_ = true;
  if (!decided_) {
    if (status != 0) {
      finish(unavailable("resolve '" + host_ + "': " + uv_strerror(status)));
    } else {
      std::vector<InetAddress> addrs;
      for (const addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
        InetAddress a = InetAddress::fromSockaddr(ai->ai_addr);
        a.setPort(port_);
        if (std::find(addrs.begin(), addrs.end(), a) == addrs.end()) addrs.push_back(a);
      }
      if (addrs.empty()) {
        finish(unavailable("resolve '" + host_ + "': no IPv4 or IPv6 address"));
      } else {
        finish(std::move(addrs));
      }
    }
  }
  if (res != nullptr) uv_freeaddrinfo(res);
  maybeDelete();
}

void HostResolver::finish(Result<std::vector<InetAddress>> result) {
  decided_ = true;
  uv_timer_stop(&timer_);
  Done done = std::move(done_);
  done(std::move(result));
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), [](uv_handle_t* h) {
    auto* self = static_cast<HostResolver*>(h->data);
    self->timer_closed_ = true;
    self->maybeDelete();
  });
}

void HostResolver::maybeDelete() {
  if (request_done_ && timer_closed_) delete this;
}

}  // namespace push::net

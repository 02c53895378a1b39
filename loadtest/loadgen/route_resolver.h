#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"
#include "common/net/inet_address.h"
#include "common/net/periodic_timer.h"

namespace push::net {
class EventLoop;
}

namespace push::loadgen {

class HttpPipelineClient;

// The first "tcp" endpoint of a push-dispatcher answer (GET /v1/route, services/dispatcher/
// README.md): the user's sticky room, on the endpoint the dispatcher rotated to for this user.
// An error names what was wrong (a non-200 status with the dispatcher's error, bad JSON, no
// tcp endpoint, an address that is not host:port).
Result<net::InetAddress> firstTcpEndpoint(int status, std::string_view body);

// Asks push-dispatcher where each of `count` users connects, as the SDK does before its first
// connect: one GET /v1/route?app=&user=<prefix><first_user + i>&net= per user, pipelined over
// `connections` keep-alive connections with at most `depth` in flight on each. done(status)
// runs once: ok when every user has its address in routes() (index i: user first_user + i),
// else the first error (a refused route, a lost connection, `timeout` passed). Lifetime: keep
// the object until the loop is shut down (close() first); loop-thread only.
class RouteResolver {
 public:
  struct Options {
    net::InetAddress dispatcher;
    const net::InetAddress* source = nullptr;  // bind here when set
    std::string app;
    std::string user_prefix = "u";
    size_t first_user = 0;
    size_t count = 0;
    std::string network = "wifi";
    size_t connections = 2;
    size_t depth = 64;
    std::chrono::milliseconds timeout{60'000};
  };

  RouteResolver(net::EventLoop& loop, Options options);
  ~RouteResolver();
  RouteResolver(const RouteResolver&) = delete;
  RouteResolver& operator=(const RouteResolver&) = delete;

  void start(std::function<void(const Status&)> done);
  // Closes the connections; done() does not run after this. Idempotent.
  void close();
  const std::vector<net::InetAddress>& routes() const { return routes_; }

 private:
  void fill(HttpPipelineClient& client);
  void finish(const Status& status);

  net::EventLoop& loop_;
  Options options_;
  std::vector<std::unique_ptr<HttpPipelineClient>> clients_;
  net::PeriodicTimerPtr deadline_;
  std::vector<net::InetAddress> routes_;
  std::function<void(const Status&)> done_;
  size_t next_ = 0;      // the next user to ask for
  size_t answered_ = 0;  // users with a route
  std::string query_;    // the request up to the user's name
  std::string tail_;     // the rest of the request after it
  bool finished_ = false;
};

}  // namespace push::loadgen

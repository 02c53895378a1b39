#pragma once

#include <functional>
#include <vector>

#include "common/http/http_request.h"
#include "common/http/http_responder.h"

namespace push::http {

// A step before routing. It inspects (and may change) the request, then either answers it
// through `responder` - the chain stops there and no handler runs - or returns without
// answering to pass the request on. To act on the response (log, metrics, add a header),
// register responder.onComplete(...). Runs synchronously on the loop thread.
//
//   chain.add([](HttpRequest& req, HttpResponder& r) {          // auth
//     if (req.header("Authorization") != "Bearer s3cret") r.respondError(401, "unauthorized");
//   });
//   chain.add([&limiter](HttpRequest& req, HttpResponder& r) {  // rate limit
//     if (!limiter.allow(req.peer().host())) {
//       HttpResponse resp = HttpResponse::error(429, "rate limited");
//       resp.setHeader("Retry-After", "1");
//       r.respond(std::move(resp));
//     }
//   });
using Middleware = std::function<void(HttpRequest& req, HttpResponder& responder)>;

// An ordered list of Middleware, run in the order added, before the Router. Built before the
// server starts; loop-thread only afterwards.
class MiddlewareChain {
 public:
  void add(Middleware middleware);

  // Runs the middleware in order until one answers. Returns true when the request was
  // answered (the caller must not route it), false when every step passed it on.
  bool run(HttpRequest& req, HttpResponder& responder) const;

  size_t size() const { return steps_.size(); }

 private:
  std::vector<Middleware> steps_;
};

// Built-in: one debug line per request on the "http" logger when it completes:
// "[C<conn>] GET /v1/x -> 200 in 0.153 ms" (path as received, %-encoded, without the query).
// Costs one level check when debug is off.
Middleware requestLog();

// Built-in: counts every answered request in push_http_requests_total{code="<status>"} and
// observes push_http_request_seconds (from the request's arrival to its answer), both in
// metrics::Registry::global().
Middleware requestMetrics();

}  // namespace push::http

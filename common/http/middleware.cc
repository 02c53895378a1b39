#include "common/http/middleware.h"

#include <array>
#include <atomic>
#include <chrono>
#include <string>

#include "common/base/log.h"
#include "common/base/metrics.h"

namespace push::http {
namespace {

double secondsSince(MonoTime start) {
  if (start == MonoTime{}) return 0;  // built in code, not received
  return std::chrono::duration<double>(Clock::system().monoNow() - start).count();
}

constexpr const char* kRequestsName = "push_http_requests_total";
constexpr const char* kRequestsHelp = "HTTP requests answered, by status code.";

// Status codes 0..599; the registry lookup (lock + search) happens once per code.
metrics::Counter& requestsTotal(int code) {
  static std::array<std::atomic<metrics::Counter*>, 600> cache{};
  if (code < 200 || code >= static_cast<int>(cache.size())) code = 500;  // as serialized
  metrics::Counter* counter = cache[code].load(std::memory_order_acquire);
  if (!counter) {
    counter = &metrics::Registry::global().counter(kRequestsName, kRequestsHelp,
                                                   "code=\"" + std::to_string(code) + "\"");
    cache[code].store(counter, std::memory_order_release);
  }
  return *counter;
}

metrics::Histogram& requestSeconds() {
  static auto& h = metrics::Registry::global().histogram(
      "push_http_request_seconds", "Time from a request's last byte to its answer, seconds.",
      metrics::latencyBuckets());
  return h;
}

}  // namespace

void MiddlewareChain::add(Middleware middleware) {
  if (middleware) steps_.push_back(std::move(middleware));
}

bool MiddlewareChain::run(HttpRequest& req, HttpResponder& responder) const {
  for (const auto& step : steps_) {
    step(req, responder);
    if (responder.responded()) return true;
  }
  return false;
}

Middleware requestLog() {
  return [](HttpRequest&, HttpResponder& responder) {
    if (!log::logger(log::Component::Http).should_log(spdlog::level::debug)) return;
    responder.onComplete([](const HttpRequest& req, HttpResponse& resp) {
      // The path as received (still %-encoded): decoded bytes could forge log lines.
      LOG_CONN(Debug, Http, req.connectionId(), "{} {} -> {} in {:.3f} ms", req.method(),
               req.rawPath(), resp.status(), secondsSince(req.receivedAt()) * 1e3);
    });
  };
}

Middleware requestMetrics() {
  // Make the families visible on /metrics before the first request.
  requestSeconds();
  return [](HttpRequest&, HttpResponder& responder) {
    responder.onComplete([](const HttpRequest& req, HttpResponse& resp) {
      requestsTotal(resp.status()).inc();
      requestSeconds().observe(secondsSince(req.receivedAt()));
    });
  };
}

}  // namespace push::http

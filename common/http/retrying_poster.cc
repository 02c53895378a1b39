#include "common/http/retrying_poster.h"

#include <algorithm>
#include <charconv>

#include "common/base/backoff.h"
#include "common/net/event_loop.h"
#include "common/net/periodic_timer.h"

namespace push::http {

struct RetryingPoster::Call {
  Call(uint64_t id, Backoff::Options backoff, uint64_t seed) : id(id), backoff(backoff, seed) {}

  uint64_t id;
  std::string url;
  std::string body;
  std::vector<CurlClient::Header> headers;
  Done done;
  Backoff backoff;
  int64_t start_ms = 0;  // loop time of post()
  uint32_t attempts = 0;
  CurlClient::RequestId in_flight = 0;  // 0: none (waiting for the timer)
  net::PeriodicTimerPtr timer;          // the delay before the next attempt
};

namespace {

// "Retry-After: 3" (delta seconds). The HTTP-date form is ignored: webhooks send seconds.
std::chrono::milliseconds retryAfter(const Result<CurlClient::Response>& result) {
  if (!result.isOk()) return std::chrono::milliseconds(0);
  std::optional<std::string_view> value = result->header("Retry-After");
  if (!value) return std::chrono::milliseconds(0);
  uint32_t seconds = 0;
  auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), seconds);
  if (ec != std::errc() || end != value->data() + value->size()) {
    return std::chrono::milliseconds(0);
  }
  return std::chrono::seconds(seconds);
}

}  // namespace

RetryingPoster::RetryingPoster(net::EventLoop& loop, CurlClient& client, Policy policy)
    : loop_(loop), client_(client), policy_(policy), seeds_(std::random_device{}()) {
  policy_.max_attempts = std::max<uint32_t>(policy_.max_attempts, 1);
  policy_.min_backoff = std::max(policy_.min_backoff, std::chrono::milliseconds(1));
  policy_.max_backoff = std::max(policy_.max_backoff, policy_.min_backoff);
  policy_.jitter = std::clamp(policy_.jitter, 0.0, 0.99);
  if (policy_.deadline.count() <= 0) policy_.deadline = Policy().deadline;
  if (policy_.attempt_timeout.count() <= 0) policy_.attempt_timeout = policy_.deadline;
}

RetryingPoster::~RetryingPoster() {
  liveness_.kill();
  std::map<uint64_t, std::unique_ptr<Call>> calls;
  calls.swap(calls_);
  // First every attempt in flight leaves the client (their callbacks are dropped unrun)...
  for (auto& [id, call] : calls) {
    if (call->in_flight != 0) client_.cancel(call->in_flight);
    call->timer.reset();
  }
  // ...then the callers hear CANCELLED, in post() order.
  for (auto& [id, call] : calls) {
    Outcome outcome{Status(Code::CANCELLED, "the retrying poster was destroyed"), call->attempts,
                    std::chrono::milliseconds(loop_.nowMs() - call->start_ms)};
    Done done = std::move(call->done);
    call.reset();
    done(std::move(outcome));
  }
}

bool RetryingPoster::retryable(const Result<CurlClient::Response>& result) {
  if (result.isOk()) return result->status >= 500 || result->status == 429;
  return result.status().code() == Code::UNAVAILABLE || result.status().code() == Code::TIMEOUT;
}

void RetryingPoster::post(std::string url, std::string body,
                          std::vector<CurlClient::Header> headers, Done done) {
  loop_.assertInLoopThread();
  const uint64_t id = ++next_id_;
  auto call = std::make_unique<Call>(
      id,
      Backoff::Options{
          .initial = policy_.min_backoff, .max = policy_.max_backoff, .jitter = policy_.jitter},
      seeds_() | 1);
  call->url = std::move(url);
  call->body = std::move(body);
  call->headers = std::move(headers);
  call->done = std::move(done);
  call->start_ms = loop_.nowMs();
  Call& ref = *call;
  calls_.emplace(id, std::move(call));
  attempt(ref);  // CurlClient never completes inside request(): `done` cannot run in here
}

void RetryingPoster::attempt(Call& call) {
  call.timer.reset();
  const int64_t left = call.start_ms + policy_.deadline.count() - loop_.nowMs();
  ++call.attempts;
  CurlClient::Request request{.method = "POST",
                              .url = call.url,
                              .headers = call.headers,
                              .body = call.body,
                              .timeout = std::chrono::milliseconds(
                                  std::clamp<int64_t>(left, 1, policy_.attempt_timeout.count()))};
  call.in_flight = client_.request(
      std::move(request),
      [this, id = call.id, alive = liveness_.token()](Result<CurlClient::Response> result) {
        if (!alive.alive()) return;  // (the destructor cancels its attempts; belt and braces)
        onAttempt(id, std::move(result));
      });
}

void RetryingPoster::onAttempt(uint64_t call_id, Result<CurlClient::Response> result) {
  auto it = calls_.find(call_id);
  if (it == calls_.end()) return;
  Call& call = *it->second;
  call.in_flight = 0;
  if (!retryable(result) || call.attempts >= policy_.max_attempts) {
    return finish(call_id, std::move(result));
  }
  std::chrono::milliseconds delay = call.backoff.next();
  delay = std::max(delay, std::min(retryAfter(result), policy_.max_backoff));
  // An attempt that could only start at (or after) the deadline would be cut to nothing.
  if (loop_.nowMs() + delay.count() >= call.start_ms + policy_.deadline.count()) {
    return finish(call_id, std::move(result));
  }
  call.timer = net::PeriodicTimer::create(loop_, [this, call_id] {
    auto found = calls_.find(call_id);
    if (found != calls_.end()) attempt(*found->second);
  });
  call.timer->start(delay, false);
}

void RetryingPoster::finish(uint64_t call_id, Result<CurlClient::Response> result) {
  auto it = calls_.find(call_id);
  std::unique_ptr<Call> call = std::move(it->second);
  calls_.erase(it);
  Outcome outcome{std::move(result), call->attempts,
                  std::chrono::milliseconds(loop_.nowMs() - call->start_ms)};
  Done done = std::move(call->done);
  call.reset();
  done(std::move(outcome));
}

}  // namespace push::http

#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "common/base/liveness.h"
#include "common/base/result.h"
#include "common/http/curl_client.h"

namespace push::net {
class EventLoop;
}

namespace push::http {

// POSTs with retries on top of a CurlClient: what coordinator uses to hand an upstream message
// to an app's webhook, where the app's server may be restarting or briefly overloaded.
//
//   http::RetryingPoster poster(loop, *curl, {.max_attempts = 5, .deadline = 30s});
//   poster.post(url, body, {{"Content-Type", "application/json"}},
//               [](http::RetryingPoster::Outcome o) { ... o.result, o.attempts ... });
//
// Retried (after a backoff delay): a 5xx or 429 response, UNAVAILABLE (refused, reset, DNS)
// and TIMEOUT. Not retried: any other response (2xx, 3xx, other 4xx: the app said no, asking
// again will not change it) and every other error (INVALID_ARGUMENT, OVERLOADED of the
// client's own queue, PROTOCOL_ERROR, ...). NOTE a retried POST may run twice on the app's side
// (a timeout or a reset does not say whether it arrived): webhooks must be idempotent, e.g. by
// the message id the body carries.
//
// Delays: jittered exponential (push::Backoff: min_backoff doubling up to max_backoff,
// +-jitter). A 429/503 with "Retry-After: <seconds>" waits at least that long, at most
// max_backoff. Attempts stop at max_attempts, or when the next attempt could not start before
// the overall deadline; each attempt's timeout is attempt_timeout cut to what is left of the
// deadline. The outcome is the last attempt's result (a 503 response stays a response).
//
// Completion: `done` runs exactly once, on the loop thread, never inside post(), with the
// outcome; destroying the poster runs every pending `done` with CANCELLED INSIDE the
// destructor (attempts in flight are cancelled in the CurlClient first). A `done` may post
// again or destroy the poster. The CurlClient must outlive the poster. Loop-thread only.
class RetryingPoster {
 public:
  struct Policy {
    // Attempts at most, the first included. Default: 5. Minimum 1.
    uint32_t max_attempts = 5;
    // Delay before the second attempt; doubles per attempt up to max_backoff. Defaults:
    // 200 ms, 10 s.
    std::chrono::milliseconds min_backoff{200};
    std::chrono::milliseconds max_backoff{10'000};
    // Relative spread of each delay, 0 <= jitter < 1. Default: 0.2 (+-20%).
    double jitter = 0.2;
    // Time from post() to the outcome, every attempt and delay included. Default: 30 s.
    std::chrono::milliseconds deadline{30'000};
    // One attempt's timeout (within what is left of the deadline). Default: 5 s.
    std::chrono::milliseconds attempt_timeout{5'000};
  };

  struct Outcome {
    // The last attempt's response (any status) or error; CANCELLED when the poster was
    // destroyed first.
    Result<CurlClient::Response> result;
    // Attempts started (the one a destructor cancelled included).
    uint32_t attempts = 0;
    // From post() to the outcome.
    std::chrono::milliseconds elapsed{0};
  };
  using Done = std::function<void(Outcome)>;

  // The policy is checked and clamped (max_attempts >= 1, max_backoff >= min_backoff >= 1 ms).
  RetryingPoster(net::EventLoop& loop, CurlClient& client, Policy policy);
  // Cancels every pending post: each `done` runs with CANCELLED inside the destructor.
  ~RetryingPoster();
  RetryingPoster(const RetryingPoster&) = delete;
  RetryingPoster& operator=(const RetryingPoster&) = delete;

  // POSTs `body` to `url` with `headers` until an outcome (see above). Loop-thread only.
  void post(std::string url, std::string body, std::vector<CurlClient::Header> headers, Done done);

  // True when this result is worth another attempt (5xx, 429, UNAVAILABLE, TIMEOUT).
  static bool retryable(const Result<CurlClient::Response>& result);

  size_t pending() const { return calls_.size(); }
  const Policy& policy() const { return policy_; }

 private:
  struct Call;  // one post(): its request, attempts, backoff and timer (in the .cc)

  void attempt(Call& call);
  void onAttempt(uint64_t call_id, Result<CurlClient::Response> result);
  void finish(uint64_t call_id, Result<CurlClient::Response> result);

  net::EventLoop& loop_;
  CurlClient& client_;
  Policy policy_;
  std::map<uint64_t, std::unique_ptr<Call>> calls_;  // pending, in post() order
  uint64_t next_id_ = 0;
  std::mt19937_64 seeds_;  // seeds each call's Backoff (so calls do not share one sequence)
  Liveness liveness_;
};

}  // namespace push::http

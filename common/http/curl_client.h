#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "common/base/liveness.h"
#include "common/base/result.h"
#include "common/net/owning_ptrs.h"

namespace push::net {
class EventLoop;
}

namespace push::http {

// An asynchronous HTTP(S) client on libcurl's multi interface, driven by one net::EventLoop:
// for traffic to other people's servers (coordinator -> the apps' webhooks), where connection
// reuse, TLS, many transfers at once and per-host caps matter.
//
// Not the same job as http::HttpClient (http_client.h): that one is our own small HTTP/1.1
// client with no dependency beyond llhttp, one fresh connection per request, for rare
// control-plane calls (nsqlookupd, queued's auth server). Use CurlClient for a stream of
// requests to outside servers; use HttpClient where a libcurl dependency is not wanted.
//
//   ASSIGN_OR_RETURN(auto client, http::CurlClient::create(loop, {}));
//   client->request({.method = "POST", .url = "https://app.example/hook",
//                    .headers = {{"Content-Type", "application/json"}}, .body = json},
//                   [](Result<http::CurlClient::Response> r) { ... });
//
// How it sits on the loop (libcurl's documented multi_socket pattern, as in its multi-uv.c):
// one CURLM per client; CURLMOPT_SOCKETFUNCTION -> one uv_poll_t per socket curl wants
// watched; CURLMOPT_TIMERFUNCTION -> one uv_timer_t; a poll or timer event calls
// curl_multi_socket_action, then curl_multi_info_read hands over finished transfers. Two
// net::PeriodicTimers more: one reports errors found inside request() on the next turn, one
// expires queued requests at their deadline.
// Name resolution is curl's (Debian's libcurl uses its threaded resolver: it does not block
// the loop).
//
// Limits: at most Options::max_transfers running, at most max_transfers_per_host to one
// scheme://host:port; more wait in one FIFO (a request whose host is at its cap does not hold
// up requests to other hosts). At most max_queued wait; one more fails OVERLOADED without being
// queued. Connections are kept alive and reused (curl's connection cache, max_idle_connections).
//
// Completion: `done` runs exactly once, on the loop thread, NEVER inside the call that made
// the request (request() only queues; even an error found at once is reported on a later
// turn), with
//   the response             any status: a 404 or a 503 is a Response, not an error;
//   INVALID_ARGUMENT         the URL does not parse, its scheme is not http/https, or a method
//                            or header cannot be sent; nothing was sent;
//   OVERLOADED               max_queued requests were already waiting; nothing was sent;
//   TIMEOUT                  the request's timeout passed (counted from the call: time spent
//                            queued counts), whatever it was doing then;
//   UNAVAILABLE              the name did not resolve, the connection was refused or broke
//                            before the response was complete, or TLS failed;
//   PROTOCOL_ERROR           the response body went over max_body_bytes (the transfer is
//                            aborted at that point; a larger Content-Length fails before the
//                            body is read) or the bytes were not HTTP;
//   INTERNAL                 curl itself failed (out of memory, ...);
//   CANCELLED                the client was destroyed first: its destructor runs every pending
//                            `done` with CANCELLED, INSIDE the destructor, in request order.
// A `done` may make more requests or destroy the client (the rest of that loop turn's
// completions then come as CANCELLED from the destructor). A `done` run by the destructor
// must not use the client.
//
// Ownership: the client owns its CURLM, every easy handle and every uv handle. Each uv_poll_t
// lives in a small heap box that is uv_close()d when curl says REMOVE (or by the destructor)
// and freed in its close callback, so a client can be destroyed at any time; the memory of its
// last handles goes one loop turn later. Destroy the client before the loop's shutdown().
// The request's body and headers are owned by the client until `done`.
//
// Loop-thread only (create, request, cancel, the destructor). Not copyable.
class CurlClient {
 public:
  using Header = std::pair<std::string, std::string>;

  struct Request {
    // Any token ("GET", "POST", "PUT", "DELETE", ...). HEAD reads no body.
    std::string method = "GET";
    // "http://..." or "https://...".
    std::string url;
    // Sent as given, in order. Without a Content-Type none is sent (curl would otherwise add
    // application/x-www-form-urlencoded to a body). "Expect: 100-continue" is never sent.
    std::vector<Header> headers;
    // Sent when not empty, and always (Content-Length: 0) for POST, PUT and PATCH.
    std::string body;
    // Deadline of the whole request from the call: queueing, resolve, connect, TLS, send,
    // receive. 0: Options::timeout.
    std::chrono::milliseconds timeout{0};
  };

  // What the server answered. Plain value type.
  struct Response {
    int status = 0;
    std::vector<Header> headers;  // of the final response, in the order received
    std::string body;

    // First header of that name (case-insensitive), or nullopt.
    std::optional<std::string_view> header(std::string_view name) const;
  };

  struct Options {
    // A request's deadline when Request::timeout is 0. Default: 10 s.
    std::chrono::milliseconds timeout{10'000};
    // Deadline of connecting (TCP and TLS) within a request's deadline. Default: 3 s.
    std::chrono::milliseconds connect_timeout{3'000};
    // Largest response body kept; more fails the request PROTOCOL_ERROR. Default: 1 MiB.
    size_t max_body_bytes = 1u << 20;
    // Transfers running at once, over all hosts. Default: 256. Minimum 1.
    uint32_t max_transfers = 256;
    // Transfers running at once to one scheme://host:port (also curl's cap on connections
    // to it). Default: 16. Minimum 1.
    uint32_t max_transfers_per_host = 16;
    // Requests waiting for a transfer slot; one more fails OVERLOADED. Default: 10000.
    uint32_t max_queued = 10'000;
    // Idle connections curl keeps for reuse (CURLMOPT_MAXCONNECTS). Default: 64.
    uint32_t max_idle_connections = 64;
    // Sent as User-Agent. Default: "push-curl-client/0.1".
    std::string user_agent = "push-curl-client/0.1";
    // Verify the server's TLS certificate and name. Default: true. Tests only turn it off.
    bool verify_tls = true;
  };

  struct Stats {
    uint64_t requests = 0;     // request() calls
    uint64_t responses = 0;    // completed with a Response (any status)
    uint64_t failures = 0;     // completed with an error (CANCELLED and OVERLOADED included)
    uint64_t overloaded = 0;   // refused: the queue was full
    uint64_t connections = 0;  // new connections opened (the rest reused a kept-alive one)
  };

  using Done = std::function<void(Result<Response>)>;
  // Names a request for cancel(). Never 0; not reused by one client.
  using RequestId = uint64_t;

  // INTERNAL when curl cannot be initialised. Loop-thread only.
  static Result<std::unique_ptr<CurlClient>> create(net::EventLoop& loop, Options options);

  // Cancels every pending request: each `done` runs with CANCELLED inside the destructor.
  ~CurlClient();
  CurlClient(const CurlClient&) = delete;
  CurlClient& operator=(const CurlClient&) = delete;

  // Starts `request` (or queues it, see Limits) and returns its id. `done` runs later, once
  // (see Completion). Loop-thread only.
  RequestId request(Request request, Done done);

  // Aborts a pending request: its transfer is dropped (its connection closed if it was in
  // use) and its `done` is destroyed WITHOUT running. False when `id` is not pending (done
  // already ran or is running). Loop-thread only; not from inside that request's `done`.
  bool cancel(RequestId id);

  // Requests not completed: running, queued, or with their error waiting to be reported.
  size_t pending() const { return transfers_.size(); }
  size_t running() const { return running_; }
  size_t queued() const { return queue_.size(); }
  const Stats& stats() const { return stats_; }
  const Options& options() const { return options_; }

 private:
  struct Transfer;     // one request: its easy handle, buffers, `done` (in the .cc)
  struct SocketWatch;  // one uv_poll_t for one socket curl watches (in the .cc)
  struct CurlTimer;    // the uv_timer_t of CURLMOPT_TIMERFUNCTION (in the .cc)
  friend struct CallbacksForCurl;

  CurlClient(net::EventLoop& loop, Options options, void* multi);
  Status start(Transfer& t);
  void startQueued();
  void completeLater(Transfer& t, Status status);
  void onDeferred();
  void onQueueTimer();
  void armQueueTimer();
  void socketAction(int fd, int flags);
  void drainFinished();
  void closeWatch(SocketWatch* watch);
  std::unique_ptr<Transfer> take(Transfer& t);

  net::EventLoop& loop_;
  Options options_;
  void* multi_;                               // CURLM*; owned
  CurlTimer* curl_timer_ = nullptr;           // closed by the destructor; frees itself
  net::PeriodicTimerPtr defer_timer_;         // reports errors found inside request() a turn later
  net::PeriodicTimerPtr queue_timer_;         // fails queued requests whose deadline passed
  std::unordered_set<SocketWatch*> watches_;  // open ones; each frees itself once closed
  std::map<RequestId, std::unique_ptr<Transfer>> transfers_;  // every pending request
  std::list<Transfer*> queue_;                                // waiting for a slot, FIFO
  std::vector<RequestId> deferred_;                           // errors to report next turn
  std::unordered_map<std::string, uint32_t> running_per_host_;
  size_t running_ = 0;
  RequestId next_id_ = 0;
  Stats stats_;
  Liveness liveness_;  // a `done` may destroy the client: loops over completions check it
};

}  // namespace push::http

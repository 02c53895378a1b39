#pragma once

// A minimal HTTP/1.1 GET for the SDK's dispatcher requests. Internal to the SDK: not part of
// the public headers.
//
// Why not common/http's HttpClient: push::sdk links only push::net and push::proto
// (docs/ARCHITECTURE.md §3.2), so that apps embedding the SDK do not pull in llhttp, wslay and
// OpenSSL for one small request every few minutes. This is the smallest correct client for
// that request: one connection per request ("Connection: close"), Content-Length, chunked or
// read-until-close bodies, everything bounded.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include <vector>

#include "common/base/result.h"
#include "common/net/inet_address.h"
#include "common/net/owning_ptrs.h"
#include "common/net/tcp_connection.h"

namespace push::net {
class EventLoop;
class HostResolver;
class TcpConnector;
}  // namespace push::net

namespace push::sdk {

// "http://host[:port][/path]": host a name, an IPv4 address or [IPv6]; port default 80.
struct HttpUrl {
  std::string host;  // without brackets
  uint16_t port = 80;
  std::string path;  // "" or "/..." without a trailing '/'; no query
  std::string text;  // as given, for logs

  // INVALID_ARGUMENT naming "dispatcher" for another scheme (https included), an empty host,
  // a bad port, a query or fragment, or a byte outside printable ASCII.
  static Result<HttpUrl> parse(std::string_view url);
};

// Percent-encodes everything but RFC 3986 unreserved bytes, for a query value.
std::string urlEncode(std::string_view value);

// One GET with one deadline (resolve, connect, send, receive).
//
// `done` runs exactly once on the loop thread, never inside start(): status and body (any
// status: a 503 is an answer), or UNAVAILABLE (name not resolved, refused, closed early),
// TIMEOUT (`timeout` passed), PROTOCOL_ERROR (not HTTP/1.x, or the response over
// `max_response_bytes`), or CANCELLED from cancel() (inside that call).
//
// Ownership: the object owns itself and is deleted once `done` has run and its resolver,
// connector and connection are finished; the pointer from start() is valid until `done` runs
// (for cancel()). Loop-thread only.
class HttpGet final : net::TcpConnection::Handler {
 public:
  struct Response {
    int status = 0;
    std::string body;  // de-chunked
  };
  using Done = std::function<void(Result<Response>)>;

  // `target` is the path and query sent on the request line ("/v1/route?app=a").
  // `max_response_bytes` bounds status line, headers and body together.
  static HttpGet* start(net::EventLoop& loop, const HttpUrl& url, std::string target,
                        std::chrono::milliseconds timeout, size_t max_response_bytes, Done done);

  // Gives up: `done` runs now with CANCELLED unless it already ran. Idempotent.
  void cancel();

 private:
  HttpGet(net::EventLoop& loop, const HttpUrl& url, std::string target, size_t max_bytes,
          Done done);
  ~HttpGet();
  void begin(std::chrono::milliseconds timeout);
  void connectTo(size_t index);
  void onConnected(Result<net::TcpConnection*> result);
  size_t onData(net::TcpConnection& conn, const char* data, size_t len) override;
  void onClosed(net::TcpConnection& conn, net::TcpConnection::CloseReason reason) override;
  // Parses what arrived; true once the response is complete (or failed: decided_).
  bool parse(bool at_eof);
  void finish(Result<Response> result);
  void maybeDelete();

  net::EventLoop& loop_;
  const HttpUrl url_;
  const std::string target_;
  const size_t max_bytes_;
  Done done_;
  std::chrono::milliseconds timeout_{0};
  std::vector<net::InetAddress> addresses_;
  net::HostResolver* resolver_ = nullptr;
  net::TcpConnector* connector_ = nullptr;
  net::TcpConnection* conn_ = nullptr;
  net::PeriodicTimerPtr timer_;  // the deadline; reset when decided
  std::string in_;               // everything received
  bool decided_ = false;
};

}  // namespace push::sdk

#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/base/result.h"

namespace push::net {
class EventLoop;
}

namespace push::http {

// A URL of the form the client takes: "http://host[:port][/path][?query]".
struct Url {
  std::string host;  // a name, an IPv4 address or an IPv6 address without brackets
  uint16_t port = 80;
  std::string target = "/";  // path and query, as sent on the request line

  // INVALID_ARGUMENT for another scheme ("https" included), an empty host, a bad port, or
  // characters that cannot go on a request line (space, CR, LF, NUL).
  static Result<Url> parse(std::string_view url);
};

// What a server answered. Plain value type.
struct ClientResponse {
  using Header = std::pair<std::string, std::string>;
  int status = 0;
  std::vector<Header> headers;  // in the order received (duplicates kept)
  std::string body;             // de-chunked

  // First header of that name (case-insensitive), or nullopt.
  std::optional<std::string_view> header(std::string_view name) const;
};

// An asynchronous HTTP/1.1 client on one loop, for small control-plane requests (nsqlookupd's
// /lookup, queued's auth server): one new connection per request ("Connection: close"),
// names resolved off the loop (net::HostResolver), the response parsed with llhttp
// (Content-Length, chunked, or until the server closes), one deadline for the whole request.
// No TLS, no connection reuse, no caps: for streams of requests to outside servers (the apps'
// webhooks) use http::CurlClient (curl_client.h, libcurl multi on the loop) instead; this one
// stays for callers that must not depend on libcurl.
//
//   http::HttpClient client(loop);
//   client.get("http://127.0.0.1:4161/lookup?topic=t",
//              [](Result<http::ClientResponse> r) { ... });
//
// Completion: `done` runs exactly once, on the loop thread, never inside get()/post(), with
//   the response (any status: a 404 is a response, not an error);
//   INVALID_ARGUMENT  the URL cannot be used (see Url::parse); nothing was sent;
//   UNAVAILABLE       the name did not resolve, the connection was refused or broke before the
//                     response was complete;
//   TIMEOUT           Options::timeout passed (counted from the call, resolving included);
//   PROTOCOL_ERROR    the bytes were not an HTTP/1.x response, or the headers or the body went
//                     over their limit (the connection is closed at once);
//   CANCELLED         the client was destroyed first (its destructor runs `done`).
//
// Ownership: each request is a heap object that the client tracks; destroying the client
// completes every pending request with CANCELLED (inside the destructor) and closes its
// connection. A `done` may destroy the client. Loop-thread only.
class HttpClient {
 public:
  struct Options {
    // Deadline of a whole request: resolve, connect, send, receive. Default: 5 s.
    std::chrono::milliseconds timeout{5000};
    // Largest response body kept (after de-chunking); more fails the request with
    // PROTOCOL_ERROR. Default: 4 MiB.
    size_t max_body_bytes = 4u << 20;
    // Largest status line plus headers (each header counted 4 bytes more). Default: 64 KiB.
    size_t max_header_bytes = 64u << 10;
    // Sent as User-Agent. Default: "push-http-client/0.1".
    std::string user_agent = "push-http-client/0.1";
  };
  using Done = std::function<void(Result<ClientResponse>)>;
  using Headers = std::vector<std::pair<std::string, std::string>>;

  explicit HttpClient(net::EventLoop& loop);
  HttpClient(net::EventLoop& loop, Options options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  void get(std::string_view url, Done done, Headers headers = {});
  // POST with `body` (Content-Length set; Content-Type when `content_type` is not empty).
  void post(std::string_view url, std::string body, std::string content_type, Done done,
            Headers headers = {});
  // Any method; `body` is sent when not empty, or when the method is POST/PUT.
  void request(std::string_view method, std::string_view url, std::string body, Headers headers,
               Done done);

  // Requests not completed yet.
  size_t pending() const { return requests_.size(); }
  const Options& options() const { return options_; }

 private:
  class Request;  // in the .cc (keeps <llhttp.h> and <uv.h> out of this header)
  friend class Request;
  void forget(Request* request);

  net::EventLoop& loop_;
  Options options_;
  std::vector<Request*> requests_;  // pending; each deletes itself once its handles closed
};

}  // namespace push::http

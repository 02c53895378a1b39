#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/base/ascii.h"
#include "common/base/clock.h"
#include "common/base/status.h"
#include "common/net/inet_address.h"

namespace push::http {

// One HTTP/1.x request as a handler sees it: method, decoded path, parsed query, headers with
// case-insensitive lookup, body, the path parameters the Router matched and the peer address.
//
// The server builds it (a public header only: no parser state in here); tests and tools may
// build one in code with the setters. Plain value type, not thread-safe.
//
// Lifetime when it comes from HttpServer: it belongs to the HttpResponder handed to the
// handler and stays valid for as long as that responder object exists, wherever it was moved
// (see http_responder.h).
class HttpRequest {
 public:
  // (name, value) in arrival order. Names keep the client's spelling; values have surrounding
  // spaces and tabs removed.
  using Header = std::pair<std::string, std::string>;
  using Param = std::pair<std::string, std::string>;

  HttpRequest() = default;

  // "GET", "POST", ... (case-sensitive, as on the wire).
  const std::string& method() const { return method_; }
  // The request target as received: "/v1/apps/a%20b?x=1".
  const std::string& target() const { return target_; }
  // The percent-decoded path without the query: "/v1/apps/a b". "*" for "OPTIONS *".
  const std::string& path() const { return path_; }
  // The path as received, still percent-encoded (what the Router splits on '/').
  std::string_view rawPath() const {
    return std::string_view(target_).substr(path_begin_, path_len_);
  }
  // The query string after '?', still encoded ("" when absent).
  std::string_view rawQuery() const;

  int httpMajor() const { return http_major_; }
  int httpMinor() const { return http_minor_; }

  // First header with this name (ASCII case-insensitive), or nullopt.
  std::optional<std::string_view> header(std::string_view name) const;
  const std::vector<Header>& headers() const { return headers_; }

  // First query parameter with this name (names and values are percent-decoded, '+' is a
  // space), or nullopt. "?a" gives a = "".
  std::optional<std::string_view> query(std::string_view name) const;
  const std::vector<Param>& queryParams() const { return query_; }

  // A path parameter the Router matched ("{app}" -> pathParam("app")), decoded, or nullopt.
  std::optional<std::string_view> pathParam(std::string_view name) const;
  const std::vector<Param>& pathParams() const { return path_params_; }

  const std::string& body() const { return body_; }
  std::string& mutableBody() { return body_; }

  const net::InetAddress& peer() const { return peer_; }
  // The server's id of the connection the request came on (for log lines); 0 when built in code.
  uint64_t connectionId() const { return connection_id_; }
  // When the last byte of the request arrived (for durations).
  MonoTime receivedAt() const { return received_at_; }
  // False when the connection closes after this request's response (HTTP/1.0 without
  // keep-alive, "Connection: close", upgrade requests).
  bool keepAlive() const { return keep_alive_; }

  // Builders, used by the server and by tests.
  void setMethod(std::string method) { method_ = std::move(method); }
  // Splits `target` into path and query and decodes both. INVALID_ARGUMENT (request left
  // unchanged) when the target is not origin-form ("/..."), absolute-form ("http://host/...")
  // or "*", or has a bad %-escape.
  Status setTarget(std::string target);
  void setVersion(int major, int minor) {
    http_major_ = major;
    http_minor_ = minor;
  }
  void addHeader(std::string name, std::string value);
  // Room for `n` headers before the first reallocation (parsers call it once per request).
  void reserveHeaders(size_t n) { headers_.reserve(n); }
  void setBody(std::string body) { body_ = std::move(body); }
  void setPathParams(std::vector<Param> params) { path_params_ = std::move(params); }
  void setPeer(const net::InetAddress& peer) { peer_ = peer; }
  void setConnectionId(uint64_t id) { connection_id_ = id; }
  void setReceivedAt(MonoTime at) { received_at_ = at; }
  void setKeepAlive(bool keep_alive) { keep_alive_ = keep_alive; }

 private:
  std::string method_;
  std::string target_;
  std::string path_;
  uint32_t path_begin_ = 0;  // rawPath() = target_[path_begin_, path_begin_ + path_len_)
  uint32_t path_len_ = 0;
  int http_major_ = 1;
  int http_minor_ = 1;
  std::vector<Header> headers_;
  std::vector<Param> query_;
  std::vector<Param> path_params_;
  std::string body_;
  net::InetAddress peer_;
  uint64_t connection_id_ = 0;
  MonoTime received_at_{};
  bool keep_alive_ = true;
};

// ASCII case-insensitive equality, for header names and tokens (common/base/ascii.h).
using ::push::equalsIgnoreCase;

// True for a non-empty RFC 9110 token (header names, methods): letters, digits and
// !#$%&'*+-.^_`|~.
bool isHttpToken(std::string_view s);

// Decodes %XX escapes (and '+' as a space when `plus_is_space`). nullopt on a bad escape.
std::optional<std::string> percentDecode(std::string_view in, bool plus_is_space);

}  // namespace push::http

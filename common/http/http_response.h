#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace push::http {

// What a handler answers: status, headers, body. Plain value type.
//
// The server owns framing: it always writes Content-Length (computed from the body; none for
// 1xx/204/304, which carry no body) and its own Connection header. Headers named
// Content-Length, Transfer-Encoding or Connection set here are not sent as such; a
// "Connection: close" set here makes the server close the connection after this response.
// Headers whose name is not a token or whose value holds CR, LF or NUL are dropped (no header
// injection through user data).
class HttpResponse {
 public:
  using Header = std::pair<std::string, std::string>;

  HttpResponse() = default;
  explicit HttpResponse(int status) : status_(status) {}

  // Body with a content type: text(200, "ok") -> "text/plain; charset=utf-8".
  static HttpResponse text(int status, std::string body);
  static HttpResponse json(int status, std::string body);
  // The error shape every endpoint uses: {"error":"<message>"} (message JSON-escaped).
  static HttpResponse error(int status, std::string_view message);

  int status() const { return status_; }
  void setStatus(int status) { status_ = status; }

  // Replaces every header of that name (case-insensitive) with one.
  void setHeader(std::string_view name, std::string value);
  // Appends, keeping existing ones (Set-Cookie style).
  void addHeader(std::string name, std::string value);
  void removeHeader(std::string_view name);
  // First header of that name, or nullopt.
  std::optional<std::string_view> header(std::string_view name) const;
  const std::vector<Header>& headers() const { return headers_; }

  const std::string& body() const { return body_; }
  std::string& mutableBody() { return body_; }
  // Sets the body and its Content-Type header.
  void setBody(std::string body, std::string content_type);
  void setBody(std::string body) { body_ = std::move(body); }

  // True when a Connection header here asks to close ("close" among its tokens).
  bool wantsClose() const;

  // Appends the wire form to `out`: status line, headers, Content-Length, "Connection: close"
  // when `close` (or "Connection: keep-alive" when `keep_alive_header`, for HTTP/1.0 clients),
  // blank line and (unless `head`) the body. An invalid status (outside 200..599) is sent as
  // 500. Used by the server; public so tests can check the bytes.
  void serializeTo(std::string* out, bool head, bool close, bool keep_alive_header) const;

  // "OK", "Not Found", ...; "Unknown" for codes without a standard phrase.
  static std::string_view reasonPhrase(int status);

 private:
  int status_ = 200;
  std::vector<Header> headers_;
  std::string body_;
};

// JSON string contents for `in` (no surrounding quotes), by the code base's one escaper,
// push::appendJsonEscaped (common/base/json_writer.h: control characters escaped, each byte
// of invalid UTF-8 replaced by U+FFFD, so the result is always valid JSON).
std::string jsonEscape(std::string_view in);

}  // namespace push::http

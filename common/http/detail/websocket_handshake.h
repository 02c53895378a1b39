#pragma once

// Internal to common/http: the WebSocket opening handshake (RFC 6455 4.2.1) parsed by llhttp,
// the same parser HttpConnection uses. Included only by common/http/*.cc (it pulls in
// <llhttp.h>).

#include <llhttp.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace push::http::detail {

// Reads one upgrade request off a byte stream and decides: accept (101 with the accept key) or
// refuse (an HTTP error answer, then close).
//
// Checked: method GET (else 405), HTTP/1.1 or later 1.x, target path == `path` (query
// ignored; else 404), one Host, Upgrade listing "websocket", Connection listing "upgrade",
// one Sec-WebSocket-Key that is base64 of 16 bytes, Sec-WebSocket-Version 13 (another
// version: 426 with "Sec-WebSocket-Version: 13"), no body, header names that are tokens.
// Missing or malformed fields and anything llhttp refuses: 400. The request target plus every
// header name and value (each line counted 4 bytes more, as HttpServer counts) over
// `max_bytes`: 431.
//
// llhttp stops right after the request's blank line (HPE_PAUSED_UPGRADE): bytes after it
// belong to the WebSocket and are left to the caller (feed() does not consume them).
//
// Loop-thread only (no shared state); one object per handshake, dropped once decided.
class WebSocketHandshake {
 public:
  enum class State { Reading, Accepted, Refused };

  // `path` must outlive the object.
  WebSocketHandshake(std::string_view path, size_t max_bytes);
  WebSocketHandshake(const WebSocketHandshake&) = delete;
  WebSocketHandshake& operator=(const WebSocketHandshake&) = delete;

  // Parses bytes of the request. Returns how many belong to it: all of `len` while Reading;
  // up to the end of the request once Accepted (the rest are WebSocket frames); all once
  // Refused (nothing more is parsed). Call only while Reading.
  size_t feed(const char* data, size_t len);

  State state() const { return state_; }
  // Accepted: the client's Sec-WebSocket-Key.
  const std::string& key() const { return key_; }
  // Refused: the HTTP status, a short reason for the JSON body, and one extra header
  // (name empty when none): "Allow: GET" with 405, "Sec-WebSocket-Version: 13" with 426.
  int status() const { return status_; }
  const std::string& reason() const { return reason_; }
  const std::string& extraHeaderName() const { return extra_name_; }
  const std::string& extraHeaderValue() const { return extra_value_; }

 private:
  static const llhttp_settings_t& settings();
  static WebSocketHandshake& self(llhttp_t* parser);
  static int onUrl(llhttp_t* parser, const char* at, size_t len);
  static int onHeaderField(llhttp_t* parser, const char* at, size_t len);
  static int onHeaderValue(llhttp_t* parser, const char* at, size_t len);
  static int onHeaderValueComplete(llhttp_t* parser);
  static int onHeadersComplete(llhttp_t* parser);
  static int onMessageComplete(llhttp_t* parser);

  // Counts against max_bytes; false (and 431 set) when over.
  bool addBytes(size_t len);
  // Records a refusal found in a callback and returns the llhttp error that stops parsing.
  int refuseInCallback(int status, std::string reason);
  // Checks the complete header section; sets the refusal on failure.
  bool validate(const llhttp_t& parser);
  void refuse(int status, std::string reason, std::string extra_name = "",
              std::string extra_value = "");

  const std::string_view path_;
  const size_t max_bytes_;
  llhttp_t parser_;
  State state_ = State::Reading;
  size_t bytes_ = 0;

  std::string target_;
  std::string field_;
  std::string value_;
  // Header values kept (others are only counted). Upgrade and Connection may come in several
  // lines: their values are joined with ','.
  std::string host_;
  std::string upgrade_;
  std::string connection_;
  std::string key_;
  std::string version_;
  int hosts_ = 0;
  int keys_ = 0;
  int versions_ = 0;

  int status_ = 0;
  std::string reason_;
  std::string extra_name_;
  std::string extra_value_;
};

// True when `key` is a valid Sec-WebSocket-Key: base64 (with padding) of exactly 16 bytes.
bool isWebSocketKey(std::string_view key);

}  // namespace push::http::detail

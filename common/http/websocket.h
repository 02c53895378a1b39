#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace push::net {
class TcpConnection;
}

namespace push::http {

// The server side of one WebSocket connection (RFC 6455) on a TcpConnection: first the HTTP/1.1
// upgrade handshake (GET <path>, Host, Upgrade: websocket, Connection: upgrade,
// Sec-WebSocket-Key, version 13 -> 101 with Sec-WebSocket-Accept), parsed by llhttp like every
// other request (detail/websocket_handshake.h), then messages. Frames are decoded and encoded
// with wslay; control frames (ping -> pong, close -> close reply) are handled here; fragmented
// messages are reassembled up to Options::max_message_bytes. Bytes that follow the handshake
// in the same read are frames and are decoded at once.
//
// Hostile input: a bad handshake gets an HTTP error with a JSON body and "Connection: close",
// and the connection closes once it is written: 400 (malformed, missing or bad Host, Upgrade,
// Connection or Sec-WebSocket-Key, a body, not HTTP/1.1), 404 (another path), 405 (not GET),
// 426 + "Sec-WebSocket-Version: 13" (another or no version), 431 (over max_handshake_bytes).
// After the handshake, bad input gets a close frame and the connection closes once it is
// written: 1002 protocol error (reserved bits, unmasked client frame, unknown or misplaced
// opcode, fragmented or oversized control frame, bad close frame or code), 1007 invalid UTF-8
// in a text message or close reason, 1009 a message over max_message_bytes (1011 if wslay
// runs out of memory). Counted in push_http_websocket_handshake_failures_total and
// push_http_websocket_protocol_errors_total{code}. None of these reach the Sink as messages.
//
// The session never closes a connection on a timer: after a refusal or a close frame it
// calls TcpConnection::closeAfterFlush(), which waits for the peer to close; the owner bounds
// that wait (and the handshake's) with its own deadline and TcpConnection::close().
//
// Ownership: one per connection, owned by whoever owns the connection's state; it keeps a
// reference to the TcpConnection and must be destroyed no later than that connection's
// Handler::onClosed. Loop-thread only.
class WebSocketServerSession {
 public:
  struct Options {
    // The one path upgrades are accepted on (the query is ignored). Default: "/ws".
    std::string path = "/ws";
    // Largest data message, bytes, after reassembly of fragments; more gets close 1009.
    // Default: 64 KiB.
    size_t max_message_bytes = 64 * 1024;
    // Limit on the handshake's request target plus header names and values (each header
    // line counted 4 bytes more, as HttpServer counts); more gets 431. Default: 8 KiB.
    size_t max_handshake_bytes = 8 * 1024;
  };

  class Sink {
   public:
    // One complete data message (binary or text). `data` is valid during the call only.
    virtual void onWsMessage(const char* data, size_t len, bool binary) = 0;
    // The handshake completed (101 sent): the connection now carries messages.
    virtual void onWsOpen() {}
    // The peer sent a close frame (`code` is its code, 0 when it sent none), or the session
    // closed on bad input (`code` is the one sent: 1002, 1007, 1009, 1011). Called from
    // inside onData(); the TcpConnection closes once the close frame is written.
    virtual void onWsClosed(uint16_t code) {}

   protected:
    ~Sink() = default;
  };

  // `options` must outlive the session.
  WebSocketServerSession(net::TcpConnection& conn, const Options& options);
  ~WebSocketServerSession();
  WebSocketServerSession(const WebSocketServerSession&) = delete;
  WebSocketServerSession& operator=(const WebSocketServerSession&) = delete;

  // Feeds received bytes (TcpConnection::Handler::onData); returns how many were consumed
  // (always all of them: partial requests and frames are kept inside). Calls `sink` for the
  // handshake, each complete message and the close; the sink may call send*() and close()
  // from those callbacks.
  size_t onData(const char* data, size_t len, Sink& sink);

  bool isOpen() const;

  // Sends one binary (or text) message as one frame. False when not open or the connection
  // refused the bytes (closing, over its hard limit).
  bool sendBinary(const void* data, size_t len);
  bool sendText(std::string_view text);

  // Sends a close frame with `code` and closes the connection after it is written.
  void close(uint16_t code, std::string_view reason);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// The Sec-WebSocket-Accept value for a Sec-WebSocket-Key (base64(SHA1(key + GUID))).
std::string webSocketAccept(std::string_view key);

}  // namespace push::http

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
// upgrade handshake (GET <path>, Upgrade: websocket, Sec-WebSocket-Key, version 13 -> 101 with
// Sec-WebSocket-Accept), then messages. Frames are decoded and encoded with wslay; control
// frames (ping -> pong, close -> close reply) are handled here; fragmented messages are
// reassembled up to Options::max_message_bytes.
//
// Hostile input: a bad handshake gets 400 (wrong path 404, wrong version 426) and a close;
// a handshake over max_handshake_bytes gets 431 and a close; a protocol error or an oversized
// message gets a close frame (1002 / 1009) and the connection closes after it is written. None
// of these reach the Sink as messages.
//
// Ownership: one per connection, owned by whoever owns the connection's state; it keeps a
// reference to the TcpConnection and must be destroyed no later than that connection's
// Handler::onClosed. Loop-thread only.
class WebSocketServerSession {
 public:
  struct Options {
    std::string path = "/ws";
    size_t max_message_bytes = 64 * 1024;
    size_t max_handshake_bytes = 8 * 1024;
  };

  class Sink {
   public:
    // One complete data message (binary or text). `data` is valid during the call only.
    virtual void onWsMessage(const char* data, size_t len, bool binary) = 0;
    // The handshake completed (101 sent): the connection now carries messages.
    virtual void onWsOpen() {}
    // The peer sent a close frame, or the session closed on a protocol error; the
    // TcpConnection will close once the close reply is written.
    virtual void onWsClosed(uint16_t code) {}

   protected:
    ~Sink() = default;
  };

  // `options` must outlive the session.
  WebSocketServerSession(net::TcpConnection& conn, const Options& options);
  ~WebSocketServerSession();
  WebSocketServerSession(const WebSocketServerSession&) = delete;
  WebSocketServerSession& operator=(const WebSocketServerSession&) = delete;

  // Feeds received bytes (TcpConnection::Handler::onData); returns how many were consumed.
  // Calls `sink` for the handshake and each complete message.
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

#include "common/http/websocket.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <wslay/wslay.h>

#include <algorithm>
#include <cstring>

#include "common/base/log.h"
#include "common/base/metrics.h"
#include "common/http/detail/websocket_handshake.h"
#include "common/http/http_response.h"
#include "common/net/tcp_connection.h"

namespace push::http {

namespace {

constexpr char kGuid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

metrics::Counter& handshakeFailures() {
  static auto& c = metrics::Registry::global().counter(
      "push_http_websocket_handshake_failures_total", "WebSocket upgrades refused.");
  return c;
}

// Close codes we send on bad input: 1002 protocol error, 1007 invalid UTF-8 in a text
// message or close reason, 1009 message over max_message_bytes, 1011 out of memory.
metrics::Counter& protocolErrors(uint16_t code) {
  static constexpr char kHelp[] =
      "WebSocket connections closed on bad input, by the close code sent (1002 protocol "
      "error, 1007 invalid UTF-8, 1009 message too big, 1011 internal error).";
  static auto& protocol = metrics::Registry::global().counter(
      "push_http_websocket_protocol_errors_total", kHelp, R"(code="1002")");
  static auto& utf8 = metrics::Registry::global().counter(
      "push_http_websocket_protocol_errors_total", kHelp, R"(code="1007")");
  static auto& too_big = metrics::Registry::global().counter(
      "push_http_websocket_protocol_errors_total", kHelp, R"(code="1009")");
  static auto& internal = metrics::Registry::global().counter(
      "push_http_websocket_protocol_errors_total", kHelp, R"(code="1011")");
  switch (code) {
    case WSLAY_CODE_INVALID_FRAME_PAYLOAD_DATA:
      return utf8;
    case WSLAY_CODE_MESSAGE_TOO_BIG:
      return too_big;
    case WSLAY_CODE_INTERNAL_SERVER_ERROR:
      return internal;
    default:
      return protocol;
  }
}

}  // namespace

std::string webSocketAccept(std::string_view key) {
  std::string input(key);
  input += kGuid;
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  unsigned char out[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
  int n = EVP_EncodeBlock(out, digest, SHA_DIGEST_LENGTH);
  return std::string(reinterpret_cast<char*>(out), static_cast<size_t>(n));
}

// How bad input ends a session: wslay finds most protocol errors itself and, for those it
// finds while decoding a frame it accepted (reserved bits, unmasked client frame, unknown or
// misplaced opcode, invalid close code, invalid UTF-8, message too big), queues a close frame
// with the right code (1002 / 1007 / 1009), stops reading and returns 0: pump() sends it. For
// errors in a frame header (a fragmented or over-125-byte control frame, a non-minimal
// length) it queues a close *without* a code and returns an error; so does running out of
// memory. Those, and what wslay lets through (a close frame with a 1-byte payload), are
// answered by failProtocol(): our own close frame with the code, the queued one never sent.
class WebSocketServerSession::Impl {
 public:
  Impl(net::TcpConnection& conn, const Options& options)
      : conn_(conn),
        options_(options),
        handshake_(std::make_unique<detail::WebSocketHandshake>(options.path,
                                                                options.max_handshake_bytes)) {}
  ~Impl() {
    if (ctx_) wslay_event_context_free(ctx_);
  }

  size_t onData(const char* data, size_t len, Sink& sink) {
    if (failed_) return len;
    size_t used = 0;
    if (!ctx_) {
      used = handshake_->feed(data, len);
      switch (handshake_->state()) {
        case detail::WebSocketHandshake::State::Reading:
          return len;
        case detail::WebSocketHandshake::State::Refused:
          refuse();
          return len;
        case detail::WebSocketHandshake::State::Accepted:
          if (!accept(sink)) return len;
          break;
      }
    }
    if (used == len) return len;  // no frame bytes (yet)
    input_ = data + used;
    input_left_ = len - used;
    sink_ = &sink;
    const int rc = wslay_event_recv(ctx_);
    sink_ = nullptr;
    input_left_ = 0;
    if (failed_) return len;  // the sink closed the session meanwhile
    if (rc != 0) {
      failProtocol(
          rc == WSLAY_ERR_NOMEM ? WSLAY_CODE_INTERNAL_SERVER_ERROR : WSLAY_CODE_PROTOCOL_ERROR,
          sink);
      return len;
    }
    if (pending_error_ != 0) {
      failProtocol(pending_error_, sink);
      return len;
    }
    // wslay stopped reading without a close from the peer: it refused a frame and queued a
    // close frame with the code.
    const bool refused_by_wslay =
        !wslay_event_get_read_enabled(ctx_) && !wslay_event_get_close_received(ctx_);
    pump();
    if (refused_by_wslay && wslay_event_get_close_sent(ctx_)) {
      const uint16_t code = wslay_event_get_status_code_sent(ctx_);
      protocolErrors(code).inc();
      LOG_CONN(Debug, Http, conn_.id(), "websocket: bad frame from {}, closed with {}",
               conn_.peerAddress().toString(), code);
      sink.onWsClosed(code);
    }
    return len;  // wslay keeps any partial frame in its own buffer
  }

  bool isOpen() const { return ctx_ && !failed_ && !wslay_event_get_close_sent(ctx_); }

  bool sendMessage(uint8_t opcode, const void* data, size_t len) {
    if (!isOpen()) return false;
    wslay_event_msg msg{opcode, static_cast<const uint8_t*>(data), len};
    if (wslay_event_queue_msg(ctx_, &msg) != 0) return false;
    send_ok_ = true;
    pump();
    return send_ok_;
  }

  void close(uint16_t code, std::string_view reason) {
    if (!ctx_ || failed_) {
      failed_ = true;
      conn_.closeAfterFlush();
      return;
    }
    wslay_event_shutdown_read(ctx_);  // no more messages for the sink
    if (!wslay_event_get_close_sent(ctx_)) {
      wslay_event_queue_close(ctx_, code, reinterpret_cast<const uint8_t*>(reason.data()),
                              std::min<size_t>(reason.size(), 123));
    }
    pump();
  }

 private:
  // The handshake was accepted: 101, then the wslay context. False when the session failed.
  bool accept(Sink& sink) {
    const std::string response =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: " +
        webSocketAccept(handshake_->key()) + "\r\n\r\n";
    handshake_.reset();  // an open session keeps no parser
    static const wslay_event_callbacks callbacks = {
        &Impl::onRecv, &Impl::onSend, nullptr, nullptr, nullptr, nullptr, &Impl::onMessage};
    if (wslay_event_context_server_init(&ctx_, &callbacks, this) != 0) {
      ctx_ = nullptr;
      failed_ = true;
      conn_.close();
      return false;
    }
    wslay_event_config_set_max_recv_msg_length(ctx_, options_.max_message_bytes);
    if (!conn_.send(response)) {
      failed_ = true;  // the connection is closing (e.g. over its output limit)
      return false;
    }
    sink.onWsOpen();
    return !failed_ && !conn_.closing();
  }

  // Answers a refused handshake with its HTTP error and closes after it is written.
  void refuse() {
    handshakeFailures().inc();
    failed_ = true;
    const detail::WebSocketHandshake& h = *handshake_;
    LOG_CONN(Debug, Http, conn_.id(), "websocket upgrade from {} refused: {} {}",
             conn_.peerAddress().toString(), h.status(), h.reason());
    HttpResponse response =
        HttpResponse::error(h.status(), "websocket upgrade refused: " + h.reason());
    if (!h.extraHeaderName().empty()) response.setHeader(h.extraHeaderName(), h.extraHeaderValue());
    std::string bytes;
    response.serializeTo(&bytes, /*head=*/false, /*close=*/true, /*keep_alive_header=*/false);
    handshake_.reset();
    conn_.send(bytes);
    conn_.closeAfterFlush();
  }

  // Sends a close frame with `code` (unless one went out already) and closes after it.
  void failProtocol(uint16_t code, Sink& sink) {
    if (failed_) return;
    failed_ = true;
    protocolErrors(code).inc();
    LOG_CONN(Debug, Http, conn_.id(), "websocket: bad frame from {}, closing with {}",
             conn_.peerAddress().toString(), code);
    if (!wslay_event_get_close_sent(ctx_)) {
      // A server frame is unmasked: FIN + opcode 8, payload length 2, the code in network
      // order. No frame of ours is half written (onSend takes whole buffers), so this starts
      // on a frame boundary.
      const char frame[4] = {static_cast<char>(0x88), 2, static_cast<char>(code >> 8),
                             static_cast<char>(code & 0xff)};
      conn_.send(frame, sizeof frame);
    }
    sink.onWsClosed(code);
    conn_.closeAfterFlush();
  }

  // Writes whatever wslay has queued (replies to ping/close, our messages); closes the
  // connection once a close frame went out.
  void pump() {
    if (!ctx_ || failed_) return;
    if (wslay_event_want_write(ctx_) && wslay_event_send(ctx_) != 0) {
      failed_ = true;  // the connection refused the bytes: it is closing already
      conn_.closeAfterFlush();
      return;
    }
    if (wslay_event_get_close_sent(ctx_)) {
      failed_ = true;  // no more messages either way
      conn_.closeAfterFlush();
    }
  }

  static ssize_t onRecv(wslay_event_context_ptr ctx, uint8_t* buf, size_t len, int, void* user) {
    auto* self = static_cast<Impl*>(user);
    if (self->input_left_ == 0) {
      wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
      return -1;
    }
    size_t n = std::min(len, self->input_left_);
    std::memcpy(buf, self->input_, n);
    self->input_ += n;
    self->input_left_ -= n;
    return static_cast<ssize_t>(n);
  }

  static ssize_t onSend(wslay_event_context_ptr ctx, const uint8_t* data, size_t len, int,
                        void* user) {
    auto* self = static_cast<Impl*>(user);
    if (!self->conn_.send(data, len)) {
      self->send_ok_ = false;
      wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
      return -1;
    }
    return static_cast<ssize_t>(len);
  }

  static void onMessage(wslay_event_context_ptr ctx, const wslay_event_on_msg_recv_arg* arg,
                        void* user) {
    auto* self = static_cast<Impl*>(user);
    if (!self->sink_ || self->pending_error_ != 0) return;
    if (arg->opcode == WSLAY_BINARY_FRAME || arg->opcode == WSLAY_TEXT_FRAME) {
      self->sink_->onWsMessage(reinterpret_cast<const char*>(arg->msg), arg->msg_length,
                               arg->opcode == WSLAY_BINARY_FRAME);
    } else if (arg->opcode == WSLAY_CONNECTION_CLOSE) {
      if (arg->msg_length == 1) {
        // A close payload is empty or a 2-byte code first (RFC 6455 5.5.1); wslay echoes
        // this one without a code. failProtocol() answers 1002 instead.
        self->pending_error_ = WSLAY_CODE_PROTOCOL_ERROR;
        wslay_event_shutdown_read(ctx);
        return;
      }
      self->sink_->onWsClosed(arg->status_code);
    }
  }

  net::TcpConnection& conn_;
  const Options& options_;
  std::unique_ptr<detail::WebSocketHandshake> handshake_;  // until the handshake is decided
  wslay_event_context_ptr ctx_ = nullptr;                  // once it is accepted
  const char* input_ = nullptr;
  size_t input_left_ = 0;
  Sink* sink_ = nullptr;
  uint16_t pending_error_ = 0;  // a close code found in onMessage, sent after recv returns
  bool failed_ = false;
  bool send_ok_ = true;
};

WebSocketServerSession::WebSocketServerSession(net::TcpConnection& conn, const Options& options)
    : impl_(std::make_unique<Impl>(conn, options)) {}

WebSocketServerSession::~WebSocketServerSession() = default;

size_t WebSocketServerSession::onData(const char* data, size_t len, Sink& sink) {
  return impl_->onData(data, len, sink);
}

bool WebSocketServerSession::isOpen() const {
  return impl_->isOpen();
}

bool WebSocketServerSession::sendBinary(const void* data, size_t len) {
  return impl_->sendMessage(WSLAY_BINARY_FRAME, data, len);
}

bool WebSocketServerSession::sendText(std::string_view text) {
  return impl_->sendMessage(WSLAY_TEXT_FRAME, text.data(), text.size());
}

void WebSocketServerSession::close(uint16_t code, std::string_view reason) {
  impl_->close(code, reason);
}

}  // namespace push::http

#include "common/http/websocket.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <wslay/wslay.h>

#include <algorithm>
#include <cstring>

#include "common/base/log.h"
#include "common/base/metrics.h"
#include "common/net/tcp_connection.h"

namespace push::http {

namespace {

constexpr char kGuid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

metrics::Counter& handshakeFailures() {
  static auto& c = metrics::Registry::global().counter(
      "push_http_websocket_handshake_failures_total", "WebSocket upgrades refused.");
  return c;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// True when the comma-separated header value lists `token` (case-insensitive).
bool listsToken(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    size_t comma = value.find(',');
    if (iequals(trim(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
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

class WebSocketServerSession::Impl {
 public:
  Impl(net::TcpConnection& conn, const Options& options) : conn_(conn), options_(options) {}
  ~Impl() {
    if (ctx_) wslay_event_context_free(ctx_);
  }

  size_t onData(const char* data, size_t len, Sink& sink) {
    if (failed_) return len;
    size_t used = 0;
    if (!ctx_) {
      used = handshake(data, len, sink);
      if (!ctx_) return used;  // still waiting, or refused
    }
    input_ = data + used;
    input_left_ = len - used;
    sink_ = &sink;
    int rc = wslay_event_recv(ctx_);
    sink_ = nullptr;
    input_left_ = 0;
    if (rc != 0) {
      fail();
      return len;
    }
    pump();
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
      conn_.closeAfterFlush();
      return;
    }
    if (!wslay_event_get_close_sent(ctx_)) {
      wslay_event_queue_close(ctx_, code, reinterpret_cast<const uint8_t*>(reason.data()),
                              std::min<size_t>(reason.size(), 123));
    }
    pump();
  }

 private:
  // Parses the upgrade request; answers 101 and creates the wslay context, or answers an
  // error and closes. Returns bytes consumed.
  size_t handshake(const char* data, size_t len, Sink& sink) {
    request_.append(data, len);
    size_t end = request_.find("\r\n\r\n");
    if (end == std::string::npos) {
      if (request_.size() > options_.max_handshake_bytes) refuse(431, "Request Header Fields Too Large");
      return len;
    }
    if (end + 4 > options_.max_handshake_bytes) {
      refuse(431, "Request Header Fields Too Large");
      return len;
    }
    const size_t extra = request_.size() - (end + 4);  // frames sent right after the request
    std::string_view head(request_.data(), end);
    size_t line_end = head.find("\r\n");
    std::string_view request_line = head.substr(0, line_end);
    std::string_view method = request_line.substr(0, request_line.find(' '));
    size_t path_start = request_line.find(' ');
    size_t path_end = request_line.rfind(' ');
    if (path_start == std::string_view::npos || path_end <= path_start ||
        request_line.substr(path_end + 1).substr(0, 5) != "HTTP/") {
      refuse(400, "Bad Request");
      return len;
    }
    std::string_view path = request_line.substr(path_start + 1, path_end - path_start - 1);
    path = path.substr(0, path.find('?'));
    std::string_view upgrade, connection, key, version;
    size_t pos = line_end;
    while (pos != std::string_view::npos && pos < head.size()) {
      size_t next = head.find("\r\n", pos + 2);
      std::string_view line = head.substr(pos + 2, next == std::string_view::npos ? head.npos : next - pos - 2);
      size_t colon = line.find(':');
      if (colon != std::string_view::npos) {
        std::string_view name = trim(line.substr(0, colon));
        std::string_view value = trim(line.substr(colon + 1));
        if (iequals(name, "Upgrade")) upgrade = value;
        else if (iequals(name, "Connection")) connection = value;
        else if (iequals(name, "Sec-WebSocket-Key")) key = value;
        else if (iequals(name, "Sec-WebSocket-Version")) version = value;
      }
      pos = next;
    }
    if (method != "GET") {
      refuse(405, "Method Not Allowed");
      return len;
    }
    if (path != options_.path) {
      refuse(404, "Not Found");
      return len;
    }
    if (!listsToken(upgrade, "websocket") || !listsToken(connection, "upgrade") || key.empty() ||
        key.size() > 64) {
      refuse(400, "Bad Request");
      return len;
    }
    if (version != "13") {
      refuse(426, "Upgrade Required", "Sec-WebSocket-Version: 13\r\n");
      return len;
    }
    std::string response =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: " + webSocketAccept(key) + "\r\n\r\n";
    conn_.send(response);
    static const wslay_event_callbacks callbacks = {
        &Impl::onRecv, &Impl::onSend, nullptr, nullptr, nullptr, nullptr, &Impl::onMessage};
    if (wslay_event_context_server_init(&ctx_, &callbacks, this) != 0) {
      ctx_ = nullptr;
      failed_ = true;
      conn_.close();
      return len;
    }
    wslay_event_config_set_max_recv_msg_length(ctx_, options_.max_message_bytes);
    request_.clear();
    request_.shrink_to_fit();
    sink.onWsOpen();
    return len - extra;
  }

  void refuse(int status, const char* reason, const char* extra_headers = "") {
    handshakeFailures().inc();
    failed_ = true;
    std::string body = std::string("{\"error\":\"websocket upgrade refused: ") + reason + "\"}";
    conn_.send("HTTP/1.1 " + std::to_string(status) + " " + reason +
               "\r\nContent-Type: application/json\r\nContent-Length: " +
               std::to_string(body.size()) + "\r\nConnection: close\r\n" + extra_headers + "\r\n" + body);
    conn_.closeAfterFlush();
  }

  void fail() {
    if (failed_) return;
    failed_ = true;
    conn_.closeAfterFlush();
  }

  // Writes whatever wslay has queued (replies to ping/close, our messages); closes the
  // connection once a close frame went out.
  void pump() {
    if (!ctx_ || failed_) return;
    if (wslay_event_want_write(ctx_) && wslay_event_send(ctx_) != 0) {
      fail();
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

  static ssize_t onSend(wslay_event_context_ptr ctx, const uint8_t* data, size_t len, int, void* user) {
    auto* self = static_cast<Impl*>(user);
    if (!self->conn_.send(data, len)) {
      self->send_ok_ = false;
      wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
      return -1;
    }
    return static_cast<ssize_t>(len);
  }

  static void onMessage(wslay_event_context_ptr, const wslay_event_on_msg_recv_arg* arg, void* user) {
    auto* self = static_cast<Impl*>(user);
    if (!self->sink_) return;
    if (arg->opcode == WSLAY_BINARY_FRAME || arg->opcode == WSLAY_TEXT_FRAME) {
      self->sink_->onWsMessage(reinterpret_cast<const char*>(arg->msg), arg->msg_length,
                               arg->opcode == WSLAY_BINARY_FRAME);
    } else if (arg->opcode == WSLAY_CONNECTION_CLOSE) {
      self->sink_->onWsClosed(arg->status_code);
    }
  }

  net::TcpConnection& conn_;
  const Options& options_;
  wslay_event_context_ptr ctx_ = nullptr;
  std::string request_;  // the handshake request, until complete
  const char* input_ = nullptr;
  size_t input_left_ = 0;
  Sink* sink_ = nullptr;
  bool failed_ = false;
  bool send_ok_ = true;
};

WebSocketServerSession::WebSocketServerSession(net::TcpConnection& conn, const Options& options)
    : impl_(std::make_unique<Impl>(conn, options)) {}

WebSocketServerSession::~WebSocketServerSession() = default;

size_t WebSocketServerSession::onData(const char* data, size_t len, Sink& sink) {
  return impl_->onData(data, len, sink);
}

bool WebSocketServerSession::isOpen() const { return impl_->isOpen(); }

bool WebSocketServerSession::sendBinary(const void* data, size_t len) {
  return impl_->sendMessage(WSLAY_BINARY_FRAME, data, len);
}

bool WebSocketServerSession::sendText(std::string_view text) {
  return impl_->sendMessage(WSLAY_TEXT_FRAME, text.data(), text.size());
}

void WebSocketServerSession::close(uint16_t code, std::string_view reason) { impl_->close(code, reason); }

}  // namespace push::http

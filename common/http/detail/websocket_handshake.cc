#include "common/http/detail/websocket_handshake.h"

#include <utility>

#include "common/http/http_request.h"

namespace push::http::detail {
namespace {

// True when the comma-separated header value lists `token` (case-insensitive).
bool listsToken(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    const size_t comma = value.find(',');
    if (equalsIgnoreCase(trimBlanks(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

void appendListValue(std::string* list, std::string_view value) {
  if (!list->empty()) list->push_back(',');
  list->append(value);
}

bool isBase64Char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

}  // namespace

bool isWebSocketKey(std::string_view key) {
  // 16 bytes = 5 groups of 3 plus one byte: 22 characters and "==". The last character
  // carries only 2 bits of data, so its low 4 bits are 0: one of 'A', 'Q', 'g', 'w'.
  if (key.size() != 24 || key.substr(22) != "==") return false;
  for (size_t i = 0; i < 22; ++i) {
    if (!isBase64Char(key[i])) return false;
  }
  const char last = key[21];
  return last == 'A' || last == 'Q' || last == 'g' || last == 'w';
}

WebSocketHandshake::WebSocketHandshake(std::string_view path, size_t max_bytes)
    : path_(path), max_bytes_(max_bytes) {
  llhttp_init(&parser_, HTTP_REQUEST, &settings());
  parser_.data = this;
}

const llhttp_settings_t& WebSocketHandshake::settings() {
  static const llhttp_settings_t kSettings = [] {
    llhttp_settings_t s;
    llhttp_settings_init(&s);
    s.on_url = &WebSocketHandshake::onUrl;
    s.on_header_field = &WebSocketHandshake::onHeaderField;
    s.on_header_value = &WebSocketHandshake::onHeaderValue;
    s.on_header_value_complete = &WebSocketHandshake::onHeaderValueComplete;
    s.on_headers_complete = &WebSocketHandshake::onHeadersComplete;
    s.on_message_complete = &WebSocketHandshake::onMessageComplete;
    return s;
  }();
  return kSettings;
}

WebSocketHandshake& WebSocketHandshake::self(llhttp_t* parser) {
  return *static_cast<WebSocketHandshake*>(parser->data);
}

size_t WebSocketHandshake::feed(const char* data, size_t len) {
  if (state_ != State::Reading) return len;
  const llhttp_errno_t err = llhttp_execute(&parser_, data, len);
  if (err == HPE_OK) return len;  // more to come
  if (err == HPE_PAUSED_UPGRADE && status_ == 0) {
    state_ = State::Accepted;
    return static_cast<size_t>(llhttp_get_error_pos(&parser_) - data);
  }
  if (status_ == 0) {
    refuse(400, std::string("malformed request: ") + llhttp_get_error_reason(&parser_));
  }
  state_ = State::Refused;
  return len;
}

void WebSocketHandshake::refuse(int status, std::string reason, std::string extra_name,
                                std::string extra_value) {
  status_ = status;
  reason_ = std::move(reason);
  extra_name_ = std::move(extra_name);
  extra_value_ = std::move(extra_value);
  state_ = State::Refused;
}

int WebSocketHandshake::refuseInCallback(int status, std::string reason) {
  refuse(status, std::move(reason));
  llhttp_set_error_reason(&parser_, "websocket handshake refused");
  return HPE_USER;
}

bool WebSocketHandshake::addBytes(size_t len) {
  bytes_ += len;
  return bytes_ <= max_bytes_;
}

// ---- llhttp callbacks ----

int WebSocketHandshake::onUrl(llhttp_t* parser, const char* at, size_t len) {
  WebSocketHandshake& h = self(parser);
  if (!h.addBytes(len)) return h.refuseInCallback(431, "request headers too large");
  h.target_.append(at, len);
  return HPE_OK;
}

int WebSocketHandshake::onHeaderField(llhttp_t* parser, const char* at, size_t len) {
  WebSocketHandshake& h = self(parser);
  if (!h.addBytes(len)) return h.refuseInCallback(431, "request headers too large");
  h.field_.append(at, len);
  return HPE_OK;
}

int WebSocketHandshake::onHeaderValue(llhttp_t* parser, const char* at, size_t len) {
  WebSocketHandshake& h = self(parser);
  if (!h.addBytes(len)) return h.refuseInCallback(431, "request headers too large");
  h.value_.append(at, len);
  return HPE_OK;
}

int WebSocketHandshake::onHeaderValueComplete(llhttp_t* parser) {
  WebSocketHandshake& h = self(parser);
  if (!h.addBytes(4)) return h.refuseInCallback(431, "request headers too large");
  // llhttp (non-strict build) lets spaces into names; HttpConnection refuses them too.
  if (!isHttpToken(h.field_)) return h.refuseInCallback(400, "invalid header name");
  const std::string_view value = trimBlanks(h.value_);
  if (equalsIgnoreCase(h.field_, "Host")) {
    ++h.hosts_;
    h.host_ = value;
  } else if (equalsIgnoreCase(h.field_, "Upgrade")) {
    appendListValue(&h.upgrade_, value);
  } else if (equalsIgnoreCase(h.field_, "Connection")) {
    appendListValue(&h.connection_, value);
  } else if (equalsIgnoreCase(h.field_, "Sec-WebSocket-Key")) {
    ++h.keys_;
    h.key_ = value;
  } else if (equalsIgnoreCase(h.field_, "Sec-WebSocket-Version")) {
    ++h.versions_;
    h.version_ = value;
  }
  h.field_.clear();
  h.value_.clear();
  return HPE_OK;
}

int WebSocketHandshake::onHeadersComplete(llhttp_t* parser) {
  WebSocketHandshake& h = self(parser);
  // An error here makes llhttp_execute() return HPE_CB_HEADERS_COMPLETE; status_ is set.
  return h.validate(*parser) ? HPE_OK : -1;
}

int WebSocketHandshake::onMessageComplete(llhttp_t* parser) {
  // A valid handshake is an upgrade without a body: llhttp returns HPE_PAUSED_UPGRADE right
  // after this. Anything else was refused in onHeadersComplete; stop regardless.
  return parser->upgrade ? HPE_OK : HPE_PAUSED;
}

bool WebSocketHandshake::validate(const llhttp_t& parser) {
  if (parser.method != HTTP_GET) {
    refuse(405, "a websocket upgrade is a GET", "Allow", "GET");
    return false;
  }
  if (parser.http_major != 1 || parser.http_minor < 1) {
    refuse(400, "a websocket upgrade needs HTTP/1.1");
    return false;
  }
  const std::string_view target(target_);
  if (target.substr(0, target.find('?')) != path_) {
    refuse(404, "not found");
    return false;
  }
  if (hosts_ != 1 || host_.empty()) {
    refuse(400, "exactly one Host header is required");
    return false;
  }
  if ((parser.flags & (F_CHUNKED | F_TRANSFER_ENCODING)) != 0 ||
      ((parser.flags & F_CONTENT_LENGTH) != 0 && parser.content_length > 0)) {
    refuse(400, "a websocket upgrade has no body");
    return false;
  }
  if (!listsToken(upgrade_, "websocket") || !listsToken(connection_, "upgrade") ||
      parser.upgrade == 0) {
    refuse(400, "not a websocket upgrade (Upgrade: websocket, Connection: Upgrade)");
    return false;
  }
  if (versions_ > 1) {
    refuse(400, "more than one Sec-WebSocket-Version");
    return false;
  }
  if (version_ != "13") {
    refuse(426, "Sec-WebSocket-Version 13 required", "Sec-WebSocket-Version", "13");
    return false;
  }
  if (keys_ != 1 || !isWebSocketKey(key_)) {
    refuse(400, "Sec-WebSocket-Key must be base64 of 16 bytes, once");
    return false;
  }
  return true;
}

}  // namespace push::http::detail

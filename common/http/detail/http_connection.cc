#include "common/http/detail/http_connection.h"

#include <string>

#include "common/base/log.h"
#include "common/base/metrics.h"
#include "common/http/http_server.h"
#include "common/net/event_loop.h"
#include "common/net/tcp_connection.h"

namespace push::http::detail {
namespace {

metrics::Counter& protocolErrors(int status) {
  static auto& bad_request = metrics::Registry::global().counter(
      "push_http_protocol_errors_total",
      "Requests refused before routing (then the connection closes), by status code.",
      "code=\"400\"");
  static auto& too_large = metrics::Registry::global().counter(
      "push_http_protocol_errors_total",
      "Requests refused before routing (then the connection closes), by status code.",
      "code=\"413\"");
  static auto& headers_too_large = metrics::Registry::global().counter(
      "push_http_protocol_errors_total",
      "Requests refused before routing (then the connection closes), by status code.",
      "code=\"431\"");
  switch (status) {
    case 413:
      return too_large;
    case 431:
      return headers_too_large;
    default:
      return bad_request;
  }
}

metrics::Counter& timeouts(bool linger) {
  static auto& idle = metrics::Registry::global().counter(
      "push_http_connection_timeouts_total",
      "HTTP connections the server closed on a deadline: idle_timeout (idle), or "
      "close_linger_timeout (close_linger: a closing client that did not read its last answer "
      "or did not close its side).",
      R"(reason="idle")");
  static auto& close_linger = metrics::Registry::global().counter(
      "push_http_connection_timeouts_total",
      "HTTP connections the server closed on a deadline: idle_timeout (idle), or "
      "close_linger_timeout (close_linger: a closing client that did not read its last answer "
      "or did not close its side).",
      R"(reason="close_linger")");
  return linger ? close_linger : idle;
}

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

}  // namespace

HttpConnection::HttpConnection(HttpServer& server, net::TcpConnection& conn, uint64_t id,
                               const net::InetAddress& peer)
    : server_(server), conn_(conn), id_(id), peer_(peer) {
  llhttp_init(&parser_, HTTP_REQUEST, &settings());
  parser_.data = this;
  last_activity_ms_ = conn_.loop().nowMs();
}

HttpConnection::~HttpConnection() = default;

const llhttp_settings_t& HttpConnection::settings() {
  static const llhttp_settings_t kSettings = [] {
    llhttp_settings_t s;
    llhttp_settings_init(&s);
    s.on_message_begin = &HttpConnection::onMessageBegin;
    s.on_url = &HttpConnection::onUrl;
    s.on_header_field = &HttpConnection::onHeaderField;
    s.on_header_value = &HttpConnection::onHeaderValue;
    s.on_header_value_complete = &HttpConnection::onHeaderValueComplete;
    s.on_headers_complete = &HttpConnection::onHeadersComplete;
    s.on_body = &HttpConnection::onBody;
    s.on_message_complete = &HttpConnection::onMessageComplete;
    return s;
  }();
  return kSettings;
}

HttpConnection& HttpConnection::self(llhttp_t* parser) {
  return *static_cast<HttpConnection*>(parser->data);
}

bool HttpConnection::closing() const {
  return conn_.closing();
}

// ---- llhttp callbacks (inside llhttp_execute; they only record, never dispatch) ----

int HttpConnection::onMessageBegin(llhttp_t* parser) {
  HttpConnection& c = self(parser);
  c.request_ = HttpRequest();
  c.in_message_ = true;
  c.request_.reserveHeaders(8);  // typical API requests carry 4-8 headers
  c.target_.clear();
  c.field_.clear();
  c.value_.clear();
  c.header_bytes_ = 0;
  c.headers_done_ = false;
  return HPE_OK;
}

int HttpConnection::limitError(int status, const char* reason) {
  error_status_ = status;
  error_message_ = reason;
  llhttp_set_error_reason(&parser_, reason);
  return HPE_USER;
}

bool HttpConnection::addHeaderBytes(size_t len) {
  header_bytes_ += len;
  return header_bytes_ <= server_.options_.max_header_bytes;
}

int HttpConnection::onUrl(llhttp_t* parser, const char* at, size_t len) {
  HttpConnection& c = self(parser);
  if (!c.addHeaderBytes(len)) return c.limitError(431, "request headers too large");
  c.target_.append(at, len);
  return HPE_OK;
}

int HttpConnection::onHeaderField(llhttp_t* parser, const char* at, size_t len) {
  HttpConnection& c = self(parser);
  if (!c.addHeaderBytes(len)) return c.limitError(431, "request headers too large");
  c.field_.append(at, len);
  return HPE_OK;
}

int HttpConnection::onHeaderValue(llhttp_t* parser, const char* at, size_t len) {
  HttpConnection& c = self(parser);
  if (!c.addHeaderBytes(len)) return c.limitError(431, "request headers too large");
  c.value_.append(at, len);
  return HPE_OK;
}

int HttpConnection::onHeaderValueComplete(llhttp_t* parser) {
  HttpConnection& c = self(parser);
  if (!c.addHeaderBytes(4)) return c.limitError(431, "request headers too large");
  // llhttp (non-strict build) lets spaces into names ("Bad Name: v", "X-A : v"); such
  // names are how request smuggling starts, so refuse them.
  if (!isHttpToken(c.field_)) {
    llhttp_set_error_reason(parser, "invalid header name");
    return HPE_USER;
  }
  if (!c.headers_done_) {  // trailers of a chunked body are counted, not kept
    c.request_.addHeader(std::move(c.field_), std::move(c.value_));
  }
  c.field_.clear();
  c.value_.clear();
  return HPE_OK;
}

int HttpConnection::onHeadersComplete(llhttp_t* parser) {
  HttpConnection& c = self(parser);
  c.headers_done_ = true;
  const bool has_length = (parser->flags & F_CONTENT_LENGTH) != 0;
  if (has_length && parser->content_length > c.server_.options_.max_body_bytes) {
    c.limitError(413, "request body too large");
    return -1;  // do not read the body
  }
  // "Expect: 100-continue": tell the client to send the body, unless earlier answers are
  // still due (the 100 would overtake them; the client then sends after its own timeout).
  const bool body_expected =
      (parser->flags & F_CHUNKED) != 0 || (has_length && parser->content_length > 0);
  if (body_expected && c.slots_.empty() && parser->http_major == 1 && parser->http_minor >= 1) {
    auto expect = c.request_.header("Expect");
    if (expect && equalsIgnoreCase(*expect, "100-continue")) c.conn_.send(kContinue);
  }
  return HPE_OK;
}

int HttpConnection::onBody(llhttp_t* parser, const char* at, size_t len) {
  HttpConnection& c = self(parser);
  std::string& body = c.request_.mutableBody();
  if (body.size() + len > c.server_.options_.max_body_bytes) {
    return c.limitError(413, "request body too large");
  }
  body.append(at, len);
  return HPE_OK;
}

int HttpConnection::onMessageComplete(llhttp_t* parser) {
  HttpConnection& c = self(parser);
  c.request_.setMethod(llhttp_method_name(static_cast<llhttp_method_t>(parser->method)));
  c.request_.setVersion(parser->http_major, parser->http_minor);
  // Upgrade/CONNECT: we do not speak the next protocol; answer, then close.
  c.request_.setKeepAlive(llhttp_should_keep_alive(parser) != 0 && parser->upgrade == 0);
  c.message_ready_ = true;
  return HPE_PAUSED;  // llhttp_execute() returns right after this request
}

// ---- input ----

size_t HttpConnection::onData(const char* data, size_t len) {
  if (stopped_ || len == 0) return len;  // after an error or Connection: close: discard
  size_t offset = 0;
  while (offset < len) {
    const llhttp_errno_t err = llhttp_execute(&parser_, data + offset, len - offset);
    if (err == HPE_OK) return len;
    if (err == HPE_PAUSED && message_ready_) {
      offset = static_cast<size_t>(llhttp_get_error_pos(&parser_) - data);
      llhttp_resume(&parser_);
      message_ready_ = false;
      completeRequest();
      if (closing()) return len;
      if (stopped_) {
        conn_.stopReading();
        return len;
      }
      if (slots_.size() >= server_.options_.max_pipelined) {
        read_paused_ = true;
        conn_.stopReading();
        return offset;  // the rest stays in the TcpConnection until startReading()
      }
      continue;
    }
    if (error_status_ != 0) {
      fail(error_status_, error_message_);
    } else {
      fail(400, std::string("malformed request: ") + llhttp_get_error_reason(&parser_));
    }
    return len;
  }
  return len;
}

void HttpConnection::completeRequest() {
  in_message_ = false;
  last_activity_ms_ = conn_.loop().nowMs();
  Status st = request_.setTarget(std::move(target_));
  target_.clear();
  if (!st.isOk()) {
    fail(400, st.message());
    return;
  }
  request_.setPeer(peer_);
  request_.setConnectionId(id_);
  request_.setReceivedAt(Clock::system().monoNow());

  Slot slot;
  slot.seq = next_seq_++;
  slot.keep_alive = request_.keepAlive();
  slot.head = request_.method() == "HEAD";
  slot.keep_alive_header =
      slot.keep_alive && request_.httpMajor() == 1 && request_.httpMinor() == 0;
  slots_.push_back(std::move(slot));
  // Nothing after a request that ends the connection is read (llhttp would refuse it too).
  if (!request_.keepAlive()) stopped_ = true;

  const uint64_t seq = slots_.back().seq;
  server_.dispatch(*this, std::move(request_), seq);  // may answer (and flush) right away
}

void HttpConnection::fail(int status, std::string_view message) {
  LOG_CONN(Debug, Http, id_, "{} from {}: {} ({} earlier answers pending)", status,
           peer_.toString(), message, slots_.size());
  protocolErrors(status).inc();
  stopped_ = true;
  conn_.stopReading();
  Slot slot;
  slot.seq = next_seq_++;
  slot.keep_alive = false;
  slot.close_after = true;
  HttpResponse::error(status, message).serializeTo(&slot.bytes, false, /*close=*/true, false);
  slot.ready = true;
  slots_.push_back(std::move(slot));
  flushSlots();
}

void HttpConnection::onPeerShutdown() {
  // The client sent everything it will send; what it asked for is still answered.
  peer_shutdown_ = true;
  stopped_ = true;
  if (slots_.empty()) beginClose();
}

// ---- output ----

void HttpConnection::deliver(uint64_t seq, HttpResponse&& response) {
  if (closing() || slots_.empty()) return;
  const uint64_t first = slots_.front().seq;
  if (seq < first || seq - first >= slots_.size()) return;
  Slot& slot = slots_[seq - first];
  if (slot.ready) return;
  slot.close_after = !slot.keep_alive || response.wantsClose();
  response.serializeTo(&slot.bytes, slot.head, slot.close_after,
                       !slot.close_after && slot.keep_alive_header);
  slot.ready = true;
  flushSlots();
}

void HttpConnection::flushSlots() {
  size_t sent = 0;
  while (sent < slots_.size() && slots_[sent].ready) {
    Slot& slot = slots_[sent++];
    if (!conn_.send(slot.bytes)) return;  // closing (e.g. too slow a reader)
    if (slot.close_after) {
      stopped_ = true;
      slots_.clear();  // answers still due after this one are dropped
      beginClose();
      return;
    }
  }
  if (sent == 0) return;
  slots_.erase(slots_.begin(), slots_.begin() + static_cast<std::ptrdiff_t>(sent));
  last_activity_ms_ = conn_.loop().nowMs();
  if (slots_.empty()) {
    if (peer_shutdown_) {
      beginClose();
      return;
    }
    slots_.shrink_to_fit();  // idle connections keep no memory
  }
  if (read_paused_ && !stopped_ && slots_.size() < server_.options_.max_pipelined) {
    read_paused_ = false;
    conn_.startReading();  // offers the kept bytes again on a later pass, not from here
  }
}

// ---- timers and close ----

int64_t HttpConnection::checkIdle(int64_t now_ms) {
  if (closing()) return 0;
  const int64_t timeout = server_.options_.idle_timeout.count();
  if (!slots_.empty()) return now_ms + timeout;  // a handler is working: not idle
  const int64_t deadline = last_activity_ms_ + timeout;
  if (now_ms < deadline) return deadline;
  LOG_CONN(Debug, Http, id_, "idle for {} ms: closing", now_ms - last_activity_ms_);
  timeouts(/*linger=*/false).inc();
  closed_hard_ = true;
  conn_.close();
  return 0;
}

bool HttpConnection::quietFor(int64_t now_ms, int64_t quiet_ms) const {
  return !closing() && slots_.empty() && !in_message_ && !read_paused_ &&
         conn_.bufferedInputBytes() == 0 && now_ms - last_activity_ms_ >= quiet_ms;
}

void HttpConnection::beginClose() {
  if (close_begun_) return;
  close_begun_ = true;
  conn_.closeAfterFlush();  // may close at once (FIN seen, nothing left to write)
  server_.onClosing(id_);
}

void HttpConnection::lingerExpired() {
  // Still registered, so the TcpConnection has not finished closing: a close it started
  // itself (the client's FIN, an I/O error) completes in the same loop iteration, before
  // timers run again. So unless we closed it hard in this timer pass, it is still draining
  // (output stuck: the client does not read) or lingering (the client does not close).
  if (closed_hard_) return;
  closed_hard_ = true;
  LOG_CONN(Debug, Http, id_, "close to {} not finished after {} ms ({} bytes unsent): closing hard",
           peer_.toString(), server_.options_.close_linger_timeout.count(), conn_.pendingBytes());
  timeouts(/*linger=*/true).inc();
  conn_.close();
}

void HttpConnection::close() {
  closed_hard_ = true;
  conn_.close();
}

}  // namespace push::http::detail

#include "common/net/tcp_connection.h"

#include <cassert>
#include <cstring>
#include <string>

#include "common/base/log.h"
#include "common/base/metrics.h"
#include "common/net/event_loop.h"
#include "common/net/stream_filter.h"

namespace push::net {
namespace {

struct NetMetrics {
  metrics::Gauge& open = metrics::Registry::global().gauge(
      "push_net_connections_open", "TCP connections currently open (all servers and clients).");
  metrics::Counter& bytes_in =
      metrics::Registry::global().counter("push_net_read_bytes_total", "Bytes read from sockets.");
  metrics::Counter& bytes_out = metrics::Registry::global().counter(
      "push_net_written_bytes_total", "Bytes handed to the kernel for sockets.");
  metrics::Counter& writes = metrics::Registry::global().counter(
      "push_net_writes_total", "Write system calls (coalesced: one per connection per turn).");
  metrics::Counter& slow_peer = metrics::Registry::global().counter(
      "push_net_closed_total", "Connections closed, by reason.", R"(reason="slow_peer")");
  metrics::Counter& input_too_large = metrics::Registry::global().counter(
      "push_net_closed_total", "Connections closed, by reason.", R"(reason="input_too_large")");
  metrics::Counter& io_error = metrics::Registry::global().counter(
      "push_net_closed_total", "Connections closed, by reason.", R"(reason="io_error")");
  metrics::Counter& filter_error = metrics::Registry::global().counter(
      "push_net_closed_total", "Connections closed, by reason.", R"(reason="filter_error")");
};

NetMetrics& netMetrics() {
  static NetMetrics* m = new NetMetrics();
  return *m;
}

uv_stream_t* asStream(uv_tcp_t* tcp) {
  return reinterpret_cast<uv_stream_t*>(tcp);
}

}  // namespace

struct TcpConnection::WriteReq {
  uv_write_t req;  // first member: the uv_write_t* is the WriteReq*
  Buffer data;
  TcpConnection* conn;
};

// Everything a filtered connection needs beyond the plain one, in one allocation behind one
// pointer. The scratch strings are cleared after each use and keep their capacity only up to
// Limits::retain_input / retain_output, as in_ and out_ do, so an idle filtered connection
// holds the filter's own state and little else.
struct TcpConnection::Filtered {
  std::unique_ptr<StreamFilter> filter;
  std::string plain;  // decode(): the plain bytes of one read, handed to onData
  std::string wire;   // decode()'s to_peer and encode()'s output, queued at once
  Buffer staging;     // prepareSend()'s room, encoded by commitSend()
};

namespace {

void clearScratch(std::string& s, size_t keep) {
  if (s.capacity() > keep) {
    std::string().swap(s);
  } else {
    s.clear();
  }
}

}  // namespace

const char* TcpConnection::reasonName(CloseReason reason) {
  switch (reason) {
    case CloseReason::Local:
      return "local";
    case CloseReason::PeerClosed:
      return "peer closed";
    case CloseReason::ReadError:
      return "read error";
    case CloseReason::WriteError:
      return "write error";
    case CloseReason::SlowPeer:
      return "slow peer";
    case CloseReason::InputTooLarge:
      return "input too large";
    case CloseReason::FilterError:
      return "filter error";
  }
  return "?";
}

void TcpConnection::Handler::onPeerShutdown(TcpConnection& conn) {
  conn.closeAfterFlush();
}

TcpConnection* TcpConnection::createUnstarted(EventLoop& loop) {
  return new TcpConnection(loop);
}

TcpConnection::TcpConnection(EventLoop& loop) {
  uv_tcp_init(loop.uvLoop(), &tcp_);
  tcp_.data = this;
  netMetrics().open.add(1);
}

TcpConnection::~TcpConnection() {
  assert(closing_ && "TcpConnection deleted without close()");
  netMetrics().open.add(-1);
}

EventLoop& TcpConnection::loop() const {
  return *EventLoop::fromUv(tcp_.loop);
}

int TcpConnection::fd() const {
  uv_os_fd_t fd = -1;
  if (closing_ || uv_fileno(reinterpret_cast<const uv_handle_t*>(&tcp_), &fd) != 0) return -1;
  return fd;
}

InetAddress TcpConnection::peerAddress() const {
  sockaddr_storage ss{};
  int len = sizeof ss;
  if (uv_tcp_getpeername(&tcp_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return {};
  return InetAddress::fromSockaddr(reinterpret_cast<sockaddr*>(&ss));
}

InetAddress TcpConnection::localAddress() const {
  sockaddr_storage ss{};
  int len = sizeof ss;
  if (uv_tcp_getsockname(&tcp_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return {};
  return InetAddress::fromSockaddr(reinterpret_cast<sockaddr*>(&ss));
}

void TcpConnection::start(Handler* handler, const Limits* limits) {
  assert(handler && limits && !handler_);
  handler_ = handler;
  limits_ = limits;
  uv_tcp_nodelay(&tcp_, 1);
  startReading();
}

void TcpConnection::setFilter(std::unique_ptr<StreamFilter> filter) {
  assert(!handler_ && "setFilter() after start()");
  assert(filter && !filtered_);
  filtered_ = std::make_unique<Filtered>();
  filtered_->filter = std::move(filter);
}

void TcpConnection::startReading() {
  // After EOF there is nothing more to read, and onPeerShutdown() must not run twice.
  if (closing_ || draining_ || reading_ || peer_shutdown_) return;
  int rc = uv_read_start(
      asStream(&tcp_),
      [](uv_handle_t* h, size_t, uv_buf_t* buf) {
        EventLoop* loop = EventLoop::fromUv(h->loop);
        buf->base = loop->readBuffer();
        buf->len = EventLoop::kReadBufferSize;
      },
      [](uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
        static_cast<TcpConnection*>(s->data)->onRead(nread, buf->base);
      });
  if (rc != 0) {
    LOG_CONN(Debug, Net, id_, "read start failed: {}", uv_strerror(rc));
    close(CloseReason::ReadError);
    return;
  }
  reading_ = true;
  if (!in_.empty()) {
    reprocess_input_ = true;
    scheduleFlush();
  }
}

void TcpConnection::stopReading() {
  if (!reading_ || closing_ || draining_) return;  // a drain keeps reading (closeAfterFlush)
  uv_read_stop(asStream(&tcp_));
  reading_ = false;
}

void TcpConnection::onRead(ssize_t nread, const char* data) {
  if (nread == 0 || closing_) return;  // EAGAIN, or closing: drop
  if (nread < 0) {
    reading_ = false;  // libuv stopped reading
    if (nread == UV_EOF) {
      peer_shutdown_ = true;
      if (draining_) {
        // The owner is closing already: this only ends the drain (finishDrain() closes once
        // the output is out; when lingering, it is out and FIN sent).
        if (lingering_) close(CloseReason::Local);
        return;
      }
      handler_->onPeerShutdown(*this);
    } else {
      LOG_CONN(Debug, Net, id_, "read error: {}", uv_strerror(static_cast<int>(nread)));
      netMetrics().io_error.inc();
      close(CloseReason::ReadError);
    }
    return;
  }
  netMetrics().bytes_in.inc(static_cast<uint64_t>(nread));
  loop().noteIo();
  if (draining_) return;  // closing after flush: input is no longer wanted
  if (filtered_) {
    decodeInput(data, static_cast<size_t>(nread));
  } else {
    processInput(data, static_cast<size_t>(nread));
  }
}

void TcpConnection::decodeInput(const char* data, size_t len) {
  Filtered& f = *filtered_;
  Status status = f.filter->decode(std::string_view(data, len), &f.plain, &f.wire);
  if (!status.isOk()) {
    // The stream is broken: what decoded before the bad unit is dropped (answers to it could
    // not be encoded any more: filter errors are sticky). The alert, if any, goes out first.
    LOG_CONN(Debug, Net, id_, "filter refused input: {}", status.toString());
    netMetrics().filter_error.inc();
    clearScratch(f.plain, limits_->retain_input);
    bool queued = f.wire.empty() || queueWire(f.wire);
    clearScratch(f.wire, limits_->retain_output);
    if (!queued || closing_) return;
    close_reason_ = CloseReason::FilterError;  // finishDrain() closes with it
    closeAfterWrite();
    return;
  }
  if (!f.wire.empty()) {
    // Handshake bytes go out before anything the handler answers to this input.
    bool queued = queueWire(f.wire);
    clearScratch(f.wire, limits_->retain_output);
    if (!queued) return;
  }
  if (f.plain.empty()) return;  // a handshake or a partial record: nothing for the handler
  // f.plain stays untouched during onData: nothing the handler can call decodes.
  processInput(f.plain.data(), f.plain.size());
  clearScratch(f.plain, limits_->retain_input);
}

void TcpConnection::processInput(const char* data, size_t len) {
  if (in_.empty()) {
    // Common case: whole frames in this read. Hand over the loop's buffer; keep only the tail.
    size_t used = handler_->onData(*this, data, len);
    if (closing_) return;
    if (used < len) in_.append(data + used, len - used);
  } else {
    if (len > 0) in_.append(data, len);
    size_t used = handler_->onData(*this, in_.data(), in_.size());
    if (closing_) return;
    in_.consume(used);
    if (in_.empty() && in_.capacity() > limits_->retain_input) in_.release();
  }
  if (in_.size() > limits_->max_input) {
    LOG_CONN(Debug, Net, id_, "{} unconsumed input bytes, limit {}", in_.size(),
             limits_->max_input);
    netMetrics().input_too_large.inc();
    close(CloseReason::InputTooLarge);
  }
}

char* TcpConnection::prepareSend(size_t len) {
  assert(loop().isInLoopThread());
  if (closing_ || draining_ || !handler_) return nullptr;
  // With a filter this checks the plain size; the encoded one is checked again on commit.
  if (pendingBytes() + len > limits_->hard_limit) {
    LOG_CONN(Debug, Net, id_, "output queue {} + {} over hard limit {}: closing slow peer",
             pendingBytes(), len, limits_->hard_limit);
    netMetrics().slow_peer.inc();
    close(CloseReason::SlowPeer);
    return nullptr;
  }
  // An empty, never-allocated Buffer reserves 0 bytes as nullptr, which would read as failure.
  if (filtered_) return filtered_->staging.reserve(len > 0 ? len : 1);
  return out_.reserve(len > 0 ? len : 1);
}

void TcpConnection::commitSend(size_t len) {
  if (filtered_) {
    Buffer& staging = filtered_->staging;
    staging.commit(len);
    (void)encodeAndQueue(staging.view());
    staging.clear();
    if (staging.capacity() > limits_->retain_output) staging.release();
    return;
  }
  out_.commit(len);
  scheduleFlush();
  checkHighWatermark();
  maybeWriteEarly();
}

bool TcpConnection::send(const void* data, size_t len) {
  if (len == 0) return !closing_ && !draining_ && handler_;  // nothing to queue or flush
  if (filtered_) {
    if (closing_ || draining_ || !handler_) return false;
    return encodeAndQueue(std::string_view(static_cast<const char*>(data), len));
  }
  char* dst = prepareSend(len);
  if (!dst) return false;
  if (len > 0) std::memcpy(dst, data, len);
  commitSend(len);
  return true;
}

bool TcpConnection::encodeAndQueue(std::string_view plain) {
  if (plain.empty()) return true;
  Filtered& f = *filtered_;
  Status status = f.filter->encode(plain, &f.wire);
  if (!status.isOk()) {
    LOG_CONN(Debug, Net, id_, "filter refused output: {}", status.toString());
    netMetrics().filter_error.inc();
    clearScratch(f.wire, limits_->retain_output);
    close(CloseReason::FilterError);
    return false;
  }
  bool queued = queueWire(f.wire);
  clearScratch(f.wire, limits_->retain_output);
  return queued;
}

bool TcpConnection::queueWire(std::string_view wire) {
  if (pendingBytes() + wire.size() > limits_->hard_limit) {
    LOG_CONN(Debug, Net, id_, "output queue {} + {} over hard limit {}: closing slow peer",
             pendingBytes(), wire.size(), limits_->hard_limit);
    netMetrics().slow_peer.inc();
    close(CloseReason::SlowPeer);
    return false;
  }
  out_.append(wire);
  scheduleFlush();
  checkHighWatermark();
  maybeWriteEarly();
  return true;
}

void TcpConnection::checkHighWatermark() {
  if (!above_high_ && pendingBytes() > limits_->high_watermark) {
    above_high_ = true;
    handler_->onHighWatermark(*this);
  }
}

void TcpConnection::scheduleFlush() {
  if (flush_scheduled_ || closing_) return;
  flush_scheduled_ = true;
  flush_index_ = loop().scheduleFlush(this);
}

void TcpConnection::flushNow() {
  flush_scheduled_ = false;
  early_write_paused_ = false;
  if (closing_) return;
  if (reprocess_input_) {
    reprocess_input_ = false;
    if (reading_ && !draining_ && !in_.empty()) {
      processInput(nullptr, 0);
      if (closing_) return;
    }
  }
  if (writing_) return;  // onWriteDone() sends what accumulated meanwhile
  if (out_.empty()) {
    if (draining_) finishDrain();
    return;
  }
  writeQueued();
}

void TcpConnection::maybeWriteEarly() {
  // Not while a write is in flight (onWriteDone sends the rest), above the high watermark (a
  // write that empties the queue would call onLowWatermark from inside send()), draining, with
  // input to re-offer first, or after an early write this turn that did not take everything;
  // the flush pass stays scheduled either way.
  if (limits_->write_early_bytes == 0 || out_.size() < limits_->write_early_bytes || writing_ ||
      above_high_ || draining_ || closing_ || reprocess_input_ || early_write_paused_) {
    return;
  }
  uv_buf_t buf = uv_buf_init(out_.data(), static_cast<unsigned>(out_.size()));
  const int n = uv_try_write(asStream(&tcp_), &buf, 1);
  netMetrics().writes.inc();
  if (n > 0) {
    netMetrics().bytes_out.inc(static_cast<uint64_t>(n));
    out_.consume(static_cast<size_t>(n));  // keeps its capacity: more follows this turn
  }
  // The kernel's buffer is full, or the write failed: the rest waits for the flush pass, which
  // hands it to libuv or closes the connection. Closing here, inside the owner's send(), would
  // stop the owner's reading in the middle of a read (an RPC channel would fail calls whose
  // answers it holds).
  if (!out_.empty()) early_write_paused_ = true;
}

void TcpConnection::writeQueued() {
  uv_buf_t buf = uv_buf_init(out_.data(), static_cast<unsigned>(out_.size()));
  int n = uv_try_write(asStream(&tcp_), &buf, 1);
  netMetrics().writes.inc();
  if (n == static_cast<int>(out_.size())) {
    netMetrics().bytes_out.inc(static_cast<uint64_t>(n));
    if (out_.capacity() > limits_->retain_output) {
      out_.release();
    } else {
      out_.clear();
    }
    afterOutputShrank();
    return;
  }
  if (n < 0 && n != UV_EAGAIN) {
    LOG_CONN(Debug, Net, id_, "write error: {}", uv_strerror(n));
    netMetrics().io_error.inc();
    close(CloseReason::WriteError);
    return;
  }
  if (n > 0) {
    netMetrics().bytes_out.inc(static_cast<uint64_t>(n));
    out_.consume(static_cast<size_t>(n));
  }
  // The kernel buffer is full: hand the rest to libuv, which writes it when writable.
  auto* req = new WriteReq{};
  req->data = std::move(out_);
  req->conn = this;
  inflight_bytes_ = static_cast<uint32_t>(req->data.size());
  buf = uv_buf_init(req->data.data(), static_cast<unsigned>(req->data.size()));
  int rc = uv_write(&req->req, asStream(&tcp_), &buf, 1, [](uv_write_t* r, int status) {
    auto* wr = reinterpret_cast<WriteReq*>(r);
    wr->conn->onWriteDone(wr, status);
  });
  if (rc != 0) {
    delete req;
    inflight_bytes_ = 0;
    netMetrics().io_error.inc();
    close(CloseReason::WriteError);
    return;
  }
  writing_ = true;
}

void TcpConnection::onWriteDone(WriteReq* req, int status) {
  const size_t written = req->data.size();
  delete req;  // the request owns its bytes, whatever the status (docs/CONVENTIONS.md §7.3)
  writing_ = false;
  inflight_bytes_ = 0;
  if (status < 0) {
    if (status != UV_ECANCELED && !closing_) {
      LOG_CONN(Debug, Net, id_, "write error: {}", uv_strerror(status));
      netMetrics().io_error.inc();
      close(CloseReason::WriteError);
    }
    return;
  }
  netMetrics().bytes_out.inc(written);
  if (closing_) return;
  if (!out_.empty()) {
    // Everything queued while the write was in flight, in one write. When the flush pass is
    // already due to do it, leave it there: flushNow() clears flush_scheduled_, and a closing
    // connection only removes itself from the loop's flush list while that flag is set.
    if (!flush_scheduled_) flushNow();
    return;
  }
  afterOutputShrank();
}

void TcpConnection::afterOutputShrank() {
  if (draining_ && pendingBytes() == 0) {
    finishDrain();
    return;
  }
  if (above_high_ && pendingBytes() <= limits_->low_watermark) {
    above_high_ = false;
    handler_->onLowWatermark(*this);
  }
}

void TcpConnection::closeAfterFlush() {
  if (closing_ || draining_) return;
  // Keep reading (onRead() discards while draining): input left unread at close() would make
  // the kernel answer with a reset. After EOF there is nothing more to read.
  if (!peer_shutdown_) startReading();  // before draining_ is set: it refuses afterwards
  if (closing_) return;                 // could not read
  draining_ = true;
  close_is_ours_ = !peer_shutdown_;
  if (pendingBytes() == 0) {
    finishDrain();
  } else {
    scheduleFlush();
  }
}

void TcpConnection::closeAfterWrite() {
  if (closing_ || draining_) return;
  no_linger_ = true;
  closeAfterFlush();
}

void TcpConnection::finishDrain() {
  // After the peer's EOF it sends nothing more, so closing cannot cause a reset;
  // closeAfterWrite() takes that risk rather than wait. close_reason_ is Local unless a filter
  // error started the drain.
  if (peer_shutdown_ || no_linger_) {
    close(close_reason_);
    return;
  }
  if (lingering_) return;
  lingering_ = true;
  // FIN after the last byte; onRead() closes when the peer's EOF arrives.
  auto* req = new uv_shutdown_t;
  req->data = this;
  int rc = uv_shutdown(req, asStream(&tcp_), [](uv_shutdown_t* r, int status) {
    auto* self = static_cast<TcpConnection*>(r->data);
    delete r;
    // UV_ECANCELED: closed meanwhile (the close callback, which deletes self, comes later).
    if (status < 0 && status != UV_ECANCELED) self->close(CloseReason::WriteError);
  });
  if (rc != 0) {
    delete req;
    close(CloseReason::Local);
  }
}

void TcpConnection::close(CloseReason reason) {
  if (closing_) return;
  closing_ = true;
  close_reason_ = reason == CloseReason::Local && peer_shutdown_ && !close_is_ours_
                      ? CloseReason::PeerClosed
                      : reason;
  if (flush_scheduled_) {
    loop().cancelFlush(this, flush_index_);
    flush_scheduled_ = false;
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_),
           [](uv_handle_t* h) { static_cast<TcpConnection*>(h->data)->onCloseComplete(); });
}

void TcpConnection::onCloseComplete() {
  if (handler_) handler_->onClosed(*this, close_reason_);
  delete this;
}

}  // namespace push::net

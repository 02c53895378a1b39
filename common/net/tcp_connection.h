#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "common/net/buffer.h"
#include "common/net/conn_id.h"
#include "common/net/inet_address.h"

namespace push::net {

class EventLoop;
class StreamFilter;

// One TCP connection on a loop: reads into the loop's shared buffer, keeps only an unconsumed
// tail per connection, and coalesces everything sent in one loop turn into one write.
//
// Ownership (docs/CONVENTIONS.md §7-8): created by TcpServer (accepted) or TcpConnector
// (connected); it owns itself from then on. The only way to destroy it is close(): the libuv close
// callback calls Handler::onClosed() and then deletes the object, so a TcpConnection* stays
// valid until onClosed() returns. Registries should hold a ConnId and look it up.
//
// Threading: every method is loop-thread only.
//
// <uv.h> is included because uv_tcp_t is embedded: one allocation per connection, not two.
//
// Memory: an idle connection is this object (~360 bytes, most of it uv_tcp_t) and nothing
// else: per-server state (Handler, Limits) is shared by pointer, buffers are released when
// empty. A filtered connection (setFilter) adds one heap object: the filter and its scratch.
//
// Filter (setFilter, e.g. TLS): bytes read are decoded first and the handler sees only the
// plain bytes, with the same partial-input rules; bytes sent are encoded before they are
// queued. Limits and pendingBytes() count the encoded bytes that go to the socket.
class TcpConnection {
 public:
  enum class CloseReason : uint8_t {
    Local,          // close()/closeAfterFlush() by the owner
    PeerClosed,     // the peer closed its end (EOF)
    ReadError,      // reset by peer or another read error
    WriteError,     // write failed (EPIPE, ECONNRESET, ...)
    SlowPeer,       // output queue over Limits::hard_limit
    InputTooLarge,  // unconsumed input over Limits::max_input
    FilterError,    // the filter (setFilter) refused input or output (bad TLS record, ...)
  };
  static const char* reasonName(CloseReason reason);

  // Limits shared by all connections of one server or client; must outlive them.
  struct Limits {
    // Output bytes queued (buffered + being written) above which onHighWatermark() fires once;
    // produce less until onLowWatermark(). Default: 1 MiB.
    uint32_t high_watermark = 1u << 20;
    // Output bytes below which onLowWatermark() fires after a high-watermark event.
    // Default: 256 KiB.
    uint32_t low_watermark = 256u << 10;
    // Output bytes above which the peer is too slow to keep: send() fails and the connection
    // closes with SlowPeer. Default: 16 MiB.
    uint32_t hard_limit = 16u << 20;
    // Unconsumed input kept between reads (a partial frame). More closes the connection with
    // InputTooLarge. Set above the protocol's max frame. Default: 16 MiB + 64 KiB.
    uint32_t max_input = (16u << 20) + (64u << 10);
    // Output buffer capacity kept after a complete flush, to avoid reallocating on busy
    // connections (RPC). 0 frees it, best for many idle clients. Default: 0.
    uint32_t retain_output = 0;
    // The same for the partial-frame input buffer once it is drained. Freeing and regrowing a
    // large buffer on every read costs a malloc consolidation each time. Default: 0.
    uint32_t retain_input = 0;
    // Output queued this turn at which it is written at once instead of at the turn's end.
    // A pipelined peer then starts on the first part of a long burst while this side is
    // still producing the rest, so the two sides work in parallel rather than in turns
    // (RPC: a client answering 1024 responses with 1024 new calls). Each early write is a
    // syscall, so keep it at many frames' worth. 0: only at the turn's end. Default: 0.
    uint32_t write_early_bytes = 0;
  };

  // Implemented by whoever owns a set of connections; shared by all of them.
  class Handler {
   public:
    // `data` holds every byte not consumed yet (valid only during the call). Return how many
    // bytes were consumed; the rest is kept and offered again, with more, on the next read.
    // May call send(), close(), stopReading() on `conn`.
    virtual size_t onData(TcpConnection& conn, const char* data, size_t len) = 0;
    // The connection is closed and about to be deleted; drop every reference to it. Called
    // exactly once per started connection, from the libuv close callback.
    virtual void onClosed(TcpConnection& conn, CloseReason reason) = 0;
    // The peer shut down its sending side. Default: finish writing, then close.
    virtual void onPeerShutdown(TcpConnection& conn);
    // Output queue crossed Limits::high_watermark (once per crossing).
    virtual void onHighWatermark(TcpConnection& conn) {}
    // Output queue fell below Limits::low_watermark after a high-watermark event.
    virtual void onLowWatermark(TcpConnection& conn) {}

   protected:
    ~Handler() = default;
  };

  TcpConnection(const TcpConnection&) = delete;
  TcpConnection& operator=(const TcpConnection&) = delete;

  // Attaches the owner and starts reading. Call once, from the accept or connect callback.
  // `handler` and `limits` must outlive the connection.
  void start(Handler* handler, const Limits* limits);

  // Puts `filter` (TLS, compression) between the socket and the handler for the whole life of
  // the connection: call once, before start() (a stream cannot be switched mid-way here; NSQ's
  // IDENTIFY upgrade drives its codec itself). The connection owns it. From then on:
  //  - read bytes go through filter->decode(); its plain output reaches Handler::onData as
  //    unfiltered bytes do (unconsumed plain bytes are kept and offered again); its to_peer
  //    output (a TLS handshake) is queued for the socket as is;
  //  - send() and commitSend() encode before queuing; prepareSend() returns a staging buffer;
  //  - a decode error drops the plain bytes of that read, queues the filter's to_peer bytes (a
  //    TLS alert), and closes once they are written (closeAfterWrite) as FilterError; an
  //    encode error makes send() fail and closes at once as FilterError.
  // No filter: the plain path, whose only extra cost is one pointer test per read and send.
  void setFilter(std::unique_ptr<StreamFilter> filter);

  // Queues bytes; they leave with everything else queued this loop turn, just before the loop
  // waits for I/O. Returns false, dropping the bytes, when the connection is closing or when
  // the output would pass Limits::hard_limit (the connection is then closed as SlowPeer), or
  // when a filter fails to encode them (closed as FilterError).
  bool send(const void* data, size_t len);
  bool send(std::string_view data) { return send(data.data(), data.size()); }
  // Zero-copy form: room for `len` bytes at the end of the output, or nullptr exactly when
  // send() of `len` bytes would fail its checks. Write into it, then commitSend(n) with
  // n <= len before anything else touches the connection. With a filter the room is a staging
  // buffer that commitSend() encodes into the output (not zero-copy then); because the
  // encoding is longer, commitSend() may still close the connection as SlowPeer (or as
  // FilterError), dropping the bytes.
  char* prepareSend(size_t len);
  void commitSend(size_t len);

  // Closes now; queued output is discarded. Idempotent. onClosed() runs on a later callback.
  void close(CloseReason reason = CloseReason::Local);
  // Writes what is queued, then closes. Input is no longer offered: it is read and discarded.
  // Unless the peer has already shut down, the close is a "lingering" one: FIN goes out after
  // the last byte and the connection closes when the peer closes its side, because closing
  // with unread input makes the kernel reset the connection and drop output it has not sent
  // yet. Callers that must bound the wait use their own deadline and close() (a peer that
  // never reads, or never closes, holds the connection forever).
  void closeAfterFlush();
  // Writes what is queued, then closes at once, without waiting for the peer's FIN: for
  // refusals (an Error frame at accept) that must not hold a file descriptor for a peer that
  // never closes. Input that arrived and was not read by then makes the kernel reset the
  // connection, which may cost the peer the last bytes; use closeAfterFlush() when they
  // matter more than the descriptor.
  void closeAfterWrite();
  bool closing() const { return closing_ || draining_; }

  // Pause and resume reading (backpressure on the peer). Input kept from earlier reads is
  // offered to onData() again shortly after startReading().
  void stopReading();
  void startReading();

  // Bytes queued and not yet handed to the kernel.
  size_t pendingBytes() const { return out_.size() + inflight_bytes_; }
  // Unconsumed input bytes kept for the next read.
  size_t bufferedInputBytes() const { return in_.size(); }

  // The owner's id (conn_id.h) and per-connection state (opaque here).
  ConnId id() const { return id_; }
  void setId(ConnId id) { id_ = id; }
  void* context() const { return context_; }
  void setContext(void* context) { context_ = context; }

  EventLoop& loop() const;
  InetAddress peerAddress() const;
  InetAddress localAddress() const;
  // The socket, for options the class does not wrap (SO_SNDBUF in tests); -1 if closed.
  int fd() const;

  // Internal: called by EventLoop's flush pass and the creators. Not for owners.
  void flushNow();
  uv_tcp_t* uvHandle() { return &tcp_; }
  static TcpConnection* createUnstarted(EventLoop& loop);

 private:
  struct WriteReq;
  struct Filtered;  // the filter and its scratch buffers, in the .cc
  explicit TcpConnection(EventLoop& loop);
  ~TcpConnection();

  void scheduleFlush();
  // Writes what out_ can hand to the kernel now when it reached Limits::write_early_bytes and
  // nothing else is due first. Never closes the connection nor starts a libuv write: what it
  // cannot write, and any error, is left to the flush pass.
  void maybeWriteEarly();
  // Hands out_ to the kernel (and to libuv for what does not fit). out_ must not be empty.
  void writeQueued();
  void onRead(ssize_t nread, const char* data);
  void processInput(const char* data, size_t len);
  // The filtered halves of onRead() and send()/commitSend().
  void decodeInput(const char* data, size_t len);
  bool encodeAndQueue(std::string_view plain);
  // Queues bytes that are already in their wire form; false (closed as SlowPeer) over the
  // hard limit.
  bool queueWire(std::string_view wire);
  void onWriteDone(WriteReq* req, int status);
  void afterOutputShrank();
  void finishDrain();
  void onCloseComplete();
  void checkHighWatermark();

  uv_tcp_t tcp_;
  Handler* handler_ = nullptr;
  const Limits* limits_ = nullptr;
  Buffer in_;   // unconsumed input tail
  Buffer out_;  // output queued this turn (or while a write is in flight)
  ConnId id_ = 0;
  void* context_ = nullptr;
  // Null unless setFilter(). The filter and all its scratch live behind this one pointer, so
  // a plain connection pays 8 bytes for the feature (a room holds a million of them).
  std::unique_ptr<Filtered> filtered_;
  uint32_t inflight_bytes_ = 0;  // bytes handed to uv_write and not completed
  uint32_t flush_index_ = 0;     // position on the loop's flush list while flush_scheduled_
  // Why it closed; before that, while draining, the reason finishDrain() closes with (Local,
  // or FilterError after a decode error).
  CloseReason close_reason_ = CloseReason::Local;
  bool closing_ = false;          // uv_close called; no more callbacks to the handler
  bool draining_ = false;         // closeAfterFlush(): close when output is empty
  bool lingering_ = false;        // drained and FIN sent: close when the peer closes
  bool no_linger_ = false;        // closeAfterWrite(): close as soon as the output is out
  bool close_is_ours_ = false;    // closeAfterFlush() before the peer's EOF: reason Local
  bool writing_ = false;          // a uv_write is in flight
  bool flush_scheduled_ = false;  // on the loop's flush list
  bool reading_ = false;
  bool above_high_ = false;
  bool peer_shutdown_ = false;       // EOF seen: a later local close is reported as PeerClosed
  bool reprocess_input_ = false;     // startReading() with input kept: offer it on the next pass
  bool early_write_paused_ = false;  // an early write this turn left bytes: none until the flush
};

}  // namespace push::net

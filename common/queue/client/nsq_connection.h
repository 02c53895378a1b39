#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/base/status.h"
#include "common/net/inet_address.h"
#include "common/net/owning_ptrs.h"
#include "common/net/tcp_connection.h"
#include "common/queue/wire.h"

namespace push::net {
class EventLoop;
class TcpConnector;
}  // namespace push::net

namespace push::queue {

class NsqConnection;

// The owning handle start() returns: destroying it (or reset()) calls close().
struct NsqConnectionCloser {
  void operator()(NsqConnection* conn) const;
};
using NsqConnectionPtr = std::unique_ptr<NsqConnection, NsqConnectionCloser>;

// What the daemon said about itself in its IDENTIFY answer (feature negotiation). Defaults are
// nsqd's, kept when the daemon answers a plain "OK".
struct NsqServerInfo {
  std::string version;
  uint32_t max_rdy_count = 2500;
  int64_t max_msg_timeout_ms = 15 * 60 * 1000;
  int64_t msg_timeout_ms = 60 * 1000;
  bool auth_required = false;
  // Negotiated stream features; all off until common/queue/codec is wired in (see Options).
  bool tls_v1 = false;
  bool deflate = false;
  bool snappy = false;
};

// One connection to one nsqd (or queued) speaking protocol V2, client side: connect, magic,
// IDENTIFY (+ AUTH when the daemon asks and a secret is set), then frames in and commands out.
// It answers heartbeats itself (NOP) and hands everything else to its Owner. It knows nothing
// of producers and consumers: they build the command lines.
//
// Lifecycle: start() connects on a later turn. Owner::onReady once IDENTIFY (and AUTH) are
// done; after that onResponse / onError / onMessage, in wire order. Owner::onClosed runs
// exactly once when the connection ends for any reason other than close(): refused, timed out,
// a protocol error (bad frame, bad IDENTIFY answer, an Error frame during the handshake),
// heartbeats missing for two intervals, or the daemon closing. No Owner callback runs after
// close() or after onClosed, and none inside start() or close().
//
// Ownership: start() returns an NsqConnectionPtr; destroying it (or reset()) closes it (queued
// commands are written first when the socket is up, bounded by Options::close_timeout) and the
// object deletes itself once its socket is closed. Owner callbacks may reset the pointer.
// Loop-thread only.
class NsqConnection final : private net::TcpConnection::Handler {
 public:
  struct Options {
    // IDENTIFY fields. Empty client_id / hostname: this host's name.
    std::string client_id;
    std::string hostname;
    std::string user_agent = "push-queue-client/0.1";
    // How often the daemon sends _heartbeat_ (answered with NOP); the connection is declared
    // dead after two intervals with nothing received. nsqd accepts 1 s..60 s. Default: 30 s.
    // 0: the daemon's default (30 s for nsqd).
    std::chrono::milliseconds heartbeat_interval{30'000};
    // Server-side time before an unfinished message is redelivered. 0: the daemon's default
    // (nsqd's --msg-timeout, 60 s). nsqd accepts 1 s..--max-msg-timeout.
    std::chrono::milliseconds msg_timeout{0};
    // Connect, and then IDENTIFY (+AUTH) answered, each within this. Default: 5 s.
    std::chrono::milliseconds connect_timeout{5'000};
    // close() writes what is queued and waits at most this long for it. Default: 1 s.
    std::chrono::milliseconds close_timeout{1'000};
    // Largest frame accepted from the daemon; more is a protocol error. Default: 16 MiB.
    uint32_t max_frame_bytes = 16u << 20;
    // Sent with AUTH when the daemon says auth_required. Empty: such a daemon is refused
    // (UNAUTHENTICATED).
    std::string auth_secret;
    // Stream codecs (TLS, deflate, snappy). The seam for common/queue/codec: the IDENTIFY
    // flags are sent as set here, but until a StreamCodec is plugged in below the framing
    // (decode(in, plain*, to_peer*) on input, encode(plain, to_peer*) on output) start() refuses
    // any of them with INVALID_ARGUMENT. Default: all off.
    bool tls_v1 = false;
    bool deflate = false;
    int deflate_level = 6;
    bool snappy = false;
    // Output limits of the socket (hard_limit bounds what a slow daemon can make us queue).
    net::TcpConnection::Limits limits = defaultLimits();

    static net::TcpConnection::Limits defaultLimits();
  };

  class Owner {
   public:
    // IDENTIFY (and AUTH) succeeded; commands may be sent.
    virtual void onReady(NsqConnection& conn) = 0;
    // A Response frame other than _heartbeat_ ("OK", "CLOSE_WAIT"). Valid during the call.
    virtual void onResponse(NsqConnection& conn, std::string_view data) = 0;
    // An Error frame ("E_BAD_TOPIC ..."). nsqd closes the connection after most of them
    // (onClosed follows); E_FIN_FAILED, E_REQ_FAILED and E_TOUCH_FAILED leave it open.
    virtual void onError(NsqConnection& conn, std::string_view data) = 0;
    // A message; the views are valid during the call only.
    virtual void onMessage(NsqConnection& conn, const wire::MessageView& message) = 0;
    // The connection ended (see above); `why` says how: UNAVAILABLE (refused, reset, the
    // daemon closed), TIMEOUT (connect/handshake/heartbeat), PROTOCOL_ERROR, UNAUTHENTICATED.
    virtual void onClosed(NsqConnection& conn, const Status& why) = 0;

   protected:
    ~Owner() = default;
  };

  // Starts connecting to `addr`. `owner` must outlive the connection's callbacks (until
  // close() or onClosed). INVALID_ARGUMENT (nothing started) for options it cannot honour.
  static Result<NsqConnectionPtr> start(net::EventLoop& loop, const net::InetAddress& addr,
                                        const Options& options, Owner* owner);

  // Sends a command line ("SUB t c", without '\n') and, when `body` is given, its sized body
  // ([u32 size][bytes]). Before onReady the command waits and goes right after the handshake.
  // False when the connection is closing or the output would pass limits.hard_limit (the
  // connection is then closed and onClosed follows).
  bool send(std::string_view line);
  bool sendWithBody(std::string_view line, std::string_view body);
  // MPUB: `line` then [u32 size][u32 count] and each [u32 size][bytes].
  bool sendMulti(std::string_view line, const std::vector<std::string>& bodies);

  // Closes: no Owner callback after this. Idempotent. NsqConnectionPtr calls it.
  void close();

  bool ready() const { return state_ == State::Ready; }
  const NsqServerInfo& serverInfo() const { return info_; }
  const net::InetAddress& address() const { return addr_; }
  // Bytes queued on the socket and not yet written.
  size_t pendingBytes() const;
  // A number unique to this connection in the process (for ids that must not match a later
  // connection to the same daemon).
  uint64_t serial() const { return serial_; }

 private:
  enum class State { Connecting, Identifying, Authenticating, Ready, Closed };
  NsqConnection(net::EventLoop& loop, const net::InetAddress& addr, const Options& options,
                Owner* owner);
  ~NsqConnection();

  size_t onData(net::TcpConnection& conn, const char* data, size_t len) override;
  void onClosed(net::TcpConnection& conn, net::TcpConnection::CloseReason reason) override;

  void begin();
  void onConnected(net::TcpConnection* conn);
  void sendIdentify();
  // The answer to IDENTIFY / AUTH; false when the connection was failed.
  bool onHandshakeFrame(const wire::FrameView& frame);
  Status parseIdentifyAnswer(std::string_view data);
  // Ends the connection and tells the owner (unless it closed it). May delete this.
  void fail(Status why);
  void onTimer();
  void maybeDelete();
  bool write(std::string_view bytes);

  net::EventLoop& loop_;
  const net::InetAddress addr_;
  const Options options_;
  Owner* owner_;  // nullptr once the owner must hear nothing more
  const uint64_t serial_;
  State state_ = State::Connecting;
  net::TcpConnector* connector_ = nullptr;
  net::TcpConnection* conn_ = nullptr;
  net::PeriodicTimerPtr timer_;
  std::string early_;  // commands sent before onReady
  NsqServerInfo info_;
  int64_t deadline_ms_ = 0;       // handshake / close deadline (loop time)
  int64_t last_read_ms_ = 0;      // heartbeat watchdog
  bool closed_by_owner_ = false;  // close() was called
  int in_callback_depth_ = 0;     // owner callbacks running: delete later
};

}  // namespace push::queue

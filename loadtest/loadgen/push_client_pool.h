#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <queue>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/backoff.h"
#include "common/net/periodic_timer.h"
#include "common/net/tcp_connection.h"
#include "loadtest/loadgen/connection_opener.h"
#include "loadtest/loadgen/latency_histogram.h"
#include "proto/client.pb.h"

namespace push::loadgen {

// Many authenticated client connections to one room, as cheap as possible on the client side
// (16 bytes of state per connection next to the TcpConnection; no timer per connection).
//
// Connection i authenticates as user `user_prefix + (first_user + i)`, device `device`, with a
// token minted here from the app secret (sdk/PROTOCOL.md 4). After AuthResult it sends a Ping
// every heartbeat interval the room proposed (one pool-wide 100 ms timer, so the Pings of
// clients that authenticated in different 100 ms slots leave apart, as real clients' would,
// not in one burst a second; the first Ping one full
// interval after auth), acks every QoS-1 Push (one Ack per read, like the SDK) and reports it
// to `on_push`.
//
// `on_settled(ready, failed, first_error)` runs once, when every connection has either
// authenticated or failed (refused, closed, connect error). Connections that close later are
// counted in lost(). Callbacks run on the loop thread. Loop-thread only.
//
// With Options::reconnect a lost client (any ending but a Kick) connects and authenticates
// again, as the SDK does: after a jittered backoff (`reconnect_backoff`, doubling per failed
// attempt), to the same server, for as long as the pool runs; reconnected() counts the clients
// back, connected() those authenticated now. A drain's Reconnect frame makes a client leave
// once its delay_ms is over (lost, Ending::Moved) and come back at once. The reconnect-storm
// scenario of push-loadtest measures how fast a room's clients are all back after it lost some.
//
// Lifetime: keep the pool until the loop is shut down (its connections call back into it
// until their close callbacks ran): close(), then EventLoop::shutdown(), then destroy.
class PushClientPool final : private net::TcpConnection::Handler {
 public:
  struct Options {
    ConnectionOpener::Options connect;  // server, sources, count, rate
    std::string app;
    std::string secret;
    std::string user_prefix = "u";
    size_t first_user = 0;
    std::string device = "d";
    client::NetworkType network = client::NETWORK_WIFI;
    // Token lifetime, seconds from now.
    int64_t token_ttl_s = 86'400;
    // Seconds between Pings; 0: the interval the room proposes in AuthResult.
    uint16_t heartbeat_s = 0;
    // Reconnect lost clients (see above), waiting as Backoff does (initial 500 ms, max 60 s,
    // jitter 0.2 by default, like the SDK). The wait is served at the pool's 100 ms tick.
    bool reconnect = false;
    Backoff::Options reconnect_backoff;
  };
  // How a connection ended: one that never authenticated (failed) or one lost after its
  // AuthResult. At scale the first question about lost clients is who closed them.
  enum class Ending : uint8_t {
    ConnectError,  // connect() failed or timed out (failed only)
    AuthTimeout,   // the room's Error AUTH_TIMEOUT: Auth not answered within its deadline
    ErrorFrame,    // another Error frame from the room (refused token, over a limit, ...)
    Kicked,        // a Kick frame (an operator's kick, displaced by a newer connection)
    PeerClosed,    // the room closed the socket without a frame saying why (EOF)
    Reset,         // a read or write error (ECONNRESET, EPIPE, ...)
    Other,         // a bad frame from the room, an output or input limit, ...
    Moved,         // the room's Reconnect (a drain): left after its delay_ms (lost only)
  };
  static constexpr size_t kEndingCount = 8;
  using EndingCounts = std::array<uint64_t, kEndingCount>;
  // Short names for logs and STATS lines: "connect", "auth_timeout", "error", "kick",
  // "closed", "reset", "other".
  static const char* endingName(Ending ending);
  // ("moved" for Moved)
  // "name:count,..." of the non-zero counts, in enum order ("" when all are zero).
  static std::string encodeEndings(const EndingCounts& counts);

  // `client` is the connection's index (user first_user + client); `now_ns` is steady_clock
  // time when the read that carried the push was handled.
  using OnPush = std::function<void(size_t client, const client::Push& push, int64_t now_ns)>;
  using OnSettled =
      std::function<void(size_t ready, size_t failed, const std::string& first_error)>;
  // Sees every frame of an authenticated client before it is parsed as a client::Frame:
  // `frame` is the protobuf bytes (no length prefix), `read_ns` the steady_clock time of the
  // read that carried it. Returning true consumes the frame (it is not parsed, not counted in
  // pushes() and not acked). The broadcast benchmark reads millions of Push frames a second
  // this way: a full Frame parse (a string copy of each payload) would cost the load generator
  // more CPU than the room it measures.
  using OnRawFrame = std::function<bool(size_t client, std::string_view frame, int64_t read_ns)>;
  // An UpstreamAck read by client `client` at steady_clock `now_ns`.
  using OnUpstreamAck =
      std::function<void(size_t client, const client::UpstreamAck& ack, int64_t now_ns)>;

  PushClientPool(net::EventLoop& loop, Options options);
  ~PushClientPool();
  PushClientPool(const PushClientPool&) = delete;
  PushClientPool& operator=(const PushClientPool&) = delete;

  void setOnPush(OnPush fn) { on_push_ = std::move(fn); }
  void setOnSettled(OnSettled fn) { on_settled_ = std::move(fn); }
  void setOnRawFrame(OnRawFrame fn) { on_raw_frame_ = std::move(fn); }
  void setOnUpstreamAck(OnUpstreamAck fn) { on_upstream_ack_ = std::move(fn); }
  // Sends Upstream{seq, payload} (the auth app, no type) on client `client`: false when it is
  // not authenticated or its output is over its limit (nothing sent).
  bool sendUpstream(size_t client, uint64_t seq, std::string_view payload);
  size_t size() const { return clients_.size(); }
  // Before start(): client i connects to servers[i] (its room as push-dispatcher routed it),
  // reconnects included, instead of Options::connect.server.
  void setServers(std::vector<net::InetAddress> servers) {
    options_.connect.servers = std::move(servers);
  }
  void start();
  // Stops connecting and heartbeats and closes every connection. Idempotent.
  void close();

  size_t ready() const { return ready_; }
  size_t failed() const { return failed_; }
  size_t lost() const { return lost_; }
  // Reconnect: clients authenticated again after they were lost (one per return), attempts
  // that failed (connect error, refused, closed before AuthResult; each retried), the
  // steady_clock nanoseconds of the latest return (0 before one).
  size_t reconnected() const { return reconnected_; }
  size_t reconnectFailures() const { return reconnect_failures_; }
  int64_t lastReconnectNs() const { return last_reconnect_ns_; }
  // Authenticated now.
  size_t connected() const { return ready_ + reconnected_ - lost_; }
  const EndingCounts& failedBy() const { return failed_by_; }
  const EndingCounts& lostBy() const { return lost_by_; }
  uint64_t pushes() const { return pushes_; }
  uint64_t acksSent() const { return acks_sent_; }
  uint64_t pings() const { return pings_; }
  uint64_t pongs() const { return pongs_; }
  // Round trips of Ping/Pong (nanoseconds, from the heartbeat tick that sent the Ping, so the
  // time to write a tick's Pings is included) since the last call; the pool's histogram is
  // reset. A Pong is matched to its client's latest Ping: a round trip longer than the
  // heartbeat interval is measured from the newer Ping (too short), so watch the p99 well
  // below the interval.
  LatencyHistogram takePingRtt();

 private:
  // Waiting: lost, its reconnect due later (Options::reconnect). Moving: authenticated, told by
  // a Reconnect frame to leave at a time in reconnect_due_ (Options::reconnect).
  enum class State : uint8_t { Idle, Authenticating, Active, Failed, Closed, Waiting, Moving };
  struct Client {
    net::TcpConnection* conn = nullptr;
    uint32_t auth_tick = 0;  // heartbeat tick of the AuthResult
    uint16_t heartbeat_s = 0;
    State state = State::Idle;
    uint8_t attempts = 0;  // reconnect attempts since it was lost; 0 on its first connection
  };

  size_t onData(net::TcpConnection& conn, const char* data, size_t len) override;
  void onClosed(net::TcpConnection& conn, net::TcpConnection::CloseReason reason) override;

  void onConnected(size_t index, net::TcpConnection& conn);
  void onFrame(Client& c, const char* data, size_t len);
  void fail(Client& c, Ending ending, const std::string& why);
  // An authenticated client is gone: counts it lost and, with Options::reconnect, schedules its
  // return (not after a Kick).
  void onLost(Client& c, Ending ending);
  // A reconnect attempt of `c` failed (c.conn is closed or null): tries again later.
  void scheduleReconnect(Client& c);
  void reopenDue();
  void maybeSettled();
  void heartbeatTick();

  net::EventLoop& loop_;
  Options options_;
  net::TcpConnection::Limits limits_;
  std::unique_ptr<ConnectionOpener> opener_;
  net::PeriodicTimerPtr heartbeat_;
  std::vector<Client> clients_;
  OnPush on_push_;
  OnUpstreamAck on_upstream_ack_;
  OnSettled on_settled_;
  OnRawFrame on_raw_frame_;
  client::Frame scratch_;          // parsing reuses its memory
  std::vector<uint64_t> ack_ids_;  // acks of the current read
  std::string first_error_;
  // Heartbeat ticks a second. Pings of a second all sent at once made the room answer the last
  // of them ~100 ms late at 10k Pings/s: the figure measured the burst, not the room.
  static constexpr uint32_t kTicksPerSecond = 10;
  uint32_t tick_ = 0;      // ticks since origin_ns_, run so far
  int64_t origin_ns_ = 0;  // steady_clock time of tick 0
  // steady_clock time of the last kTickRing heartbeat ticks (102 s), by tick & (kTickRing - 1): a
  // Pong's Ping went out at a tick computable from the client's auth tick and interval.
  static constexpr uint32_t kTickRing = 1024;
  std::vector<int64_t> tick_ns_;
  LatencyHistogram ping_rtt_;
  size_t ready_ = 0, failed_ = 0, lost_ = 0;
  size_t reconnected_ = 0, reconnect_failures_ = 0;
  int64_t last_reconnect_ns_ = 0;
  // Reconnects due: (steady ns, client index), soonest first.
  using Due = std::pair<int64_t, uint32_t>;
  std::priority_queue<Due, std::vector<Due>, std::greater<>> reconnect_due_;
  std::mt19937_64 jitter_rng_{std::random_device{}()};
  EndingCounts failed_by_{}, lost_by_{};
  uint64_t pushes_ = 0, acks_sent_ = 0, pings_ = 0, pongs_ = 0;
  bool settled_ = false;
  bool closing_ = false;
};

}  // namespace push::loadgen

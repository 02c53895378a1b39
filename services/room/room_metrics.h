#pragma once

#include <algorithm>
#include <array>

#include "common/base/metrics.h"
#include "common/net/tcp_connection.h"

namespace push::room {

// The room's counters in /metrics (one set per process, shared by its parts).
struct RoomMetrics {
  metrics::Counter& accepted;
  metrics::Counter& refused;
  metrics::Counter& auth_ok;
  metrics::Counter& auth_failed;
  metrics::Counter& auth_timeout;
  metrics::Counter& heartbeat_timeout;
  metrics::Counter& bad_frames;
  metrics::Counter& pushes;
  metrics::Counter& acks;
  metrics::Counter& unknown_acks;
  metrics::Counter& kicks;
  metrics::Counter& displaced;
  metrics::Counter& session_limit_refused;
  metrics::Counter& pings;
  // Broadcasts (BroadcastConsumer, BroadcastPacer).
  metrics::Counter& broadcasts_delivered;  // written to every connection meant for them
  metrics::Counter& broadcasts_expired;    // read at or after their expires_ms: dropped
  metrics::Counter& broadcasts_invalid;    // undecodable, or not for the topic's app: dropped
  metrics::Counter& broadcast_writes;      // one broadcast written to one connection
  // Saver (AckForwarder, OfflineReplay).
  metrics::Counter& saver_acks_forwarded;    // acks saver answered
  metrics::Counter& saver_acks_dropped;      // over the backlog bound: never forwarded
  metrics::Counter& saver_ack_calls_failed;  // Ack calls that failed (retried)
  metrics::Counter& replayed_messages;       // stored messages written at auth
  metrics::Counter& replayed_broadcasts;     // missed broadcasts written at auth
  metrics::Counter& replay_load_failures;    // Load / LoadBroadcasts calls that failed
  metrics::Counter& replay_timeouts;         // replays that outlived replay_timeout
  metrics::Counter& replay_hold_overflows;   // replays whose held pushes hit replay_hold_max
  metrics::Histogram& replay_seconds;        // auth to the end of its replay
  // Apps (AppTable): served now, and the app lists taken from ZooKeeper.
  metrics::Gauge& apps_served;
  metrics::Counter& app_updates;
  // Client connections whose socket closed, by how (TcpConnection::CloseReason, label `how`):
  // "local" is the room's own decision (auth or heartbeat timeout, an error, a kick, a drain:
  // their own counters say which); the others are the client's end (EOF, reset) or a limit.
  // Who closes connections at scale is the first question when clients are lost.
  static constexpr size_t kCloseReasons =
      static_cast<size_t>(net::TcpConnection::CloseReason::FilterError) + 1;  // the last one
  std::array<metrics::Counter*, kCloseReasons> closed;
  metrics::Counter& closedBy(net::TcpConnection::CloseReason reason) {
    // A reason added after FilterError without growing kCloseReasons counts as the last one
    // instead of writing past the array.
    return *closed[std::min(static_cast<size_t>(reason), kCloseReasons - 1)];
  }
};
RoomMetrics& roomMetrics();

}  // namespace push::room

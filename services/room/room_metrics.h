#pragma once

#include "common/base/metrics.h"

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
};
RoomMetrics& roomMetrics();

}  // namespace push::room

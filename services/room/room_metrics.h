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
};
RoomMetrics& roomMetrics();

}  // namespace push::room

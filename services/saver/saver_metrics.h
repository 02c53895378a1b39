#pragma once

#include "common/base/metrics.h"

namespace push::saver {

// saver's counters on /metrics (push_saver_*); the gauges (write-behind backlog, health) are
// callbacks registered by SaverServer.
struct SaverMetrics {
  metrics::Counter& stored;
  metrics::Counter& duplicates;
  metrics::Counter& loaded;
  metrics::Counter& acked;
  metrics::Counter& dropped_max_loads;
  metrics::Counter& expired;
  metrics::Counter& broadcasts_stored;
  metrics::Counter& broadcasts_loaded;
  metrics::Counter& calls_ok;
  metrics::Counter& calls_failed;
  metrics::Counter& calls_invalid;
};

SaverMetrics& saverMetrics();

}  // namespace push::saver

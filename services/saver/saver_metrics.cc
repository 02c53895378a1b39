#include "services/saver/saver_metrics.h"

namespace push::saver {

SaverMetrics& saverMetrics() {
  static SaverMetrics* m = [] {
    metrics::Registry& r = metrics::Registry::global();
    const char* calls = "Saver RPC calls, by outcome.";
    return new SaverMetrics{
        .stored = r.counter("push_saver_stored_total", "(message, user) pairs stored."),
        .duplicates = r.counter("push_saver_store_duplicates_total",
                                "(message, user) pairs stored again (a retried Store)."),
        .loaded = r.counter("push_saver_loaded_total", "Stored messages returned by Load."),
        .acked = r.counter("push_saver_acked_total", "Stored messages removed by an ack."),
        .dropped_max_loads =
            r.counter("push_saver_dropped_total",
                      "Stored messages dropped after max_loads loads without an ack."),
        .expired = r.counter("push_saver_expired_total",
                             "Stored messages not stored or removed because they expired."),
        .broadcasts_stored =
            r.counter("push_saver_broadcasts_stored_total", "Broadcasts appended to an app's log."),
        .broadcasts_loaded = r.counter("push_saver_broadcasts_loaded_total",
                                       "Broadcasts returned by LoadBroadcasts."),
        .calls_ok = r.counter("push_saver_calls_total", calls, R"(result="ok")"),
        .calls_failed = r.counter("push_saver_calls_total", calls, R"(result="failed")"),
        .calls_invalid = r.counter("push_saver_calls_total", calls, R"(result="invalid")"),
    };
  }();
  return *m;
}

}  // namespace push::saver

#pragma once

#include <array>

#include "common/base/metrics.h"
#include "common/base/status.h"

namespace push::rpc::detail {

// The client side's metrics (common/rpc/README.md, "Metrics"), one set for every Channel of the
// process: registered in metrics::Registry::global() when first used, never freed.
struct ClientMetrics {
  std::array<metrics::Counter*, 16> calls{};
  metrics::Histogram& seconds = metrics::Registry::global().histogram(
      "push_rpc_client_call_seconds", "Client call latency, all channels.",
      metrics::latencyBuckets());
  metrics::Counter& late = metrics::Registry::global().counter(
      "push_rpc_client_late_responses_total", "Responses that arrived after their call timed out.");
  metrics::Counter& retries = metrics::Registry::global().counter(
      "push_rpc_client_retries_total", "Calls re-sent after a server did not execute them.");
  metrics::Counter& oversized = metrics::Registry::global().counter(
      "push_rpc_client_oversized_requests_total",
      "Calls failed INVALID_ARGUMENT without being sent: request over max_request_bytes.");
  metrics::Counter& refused = metrics::Registry::global().counter(
      "push_rpc_client_refused_connections_total",
      "Connections a server refused (goaway with an error: cluster key missing or wrong).");
  metrics::Counter& goaways = metrics::Registry::global().counter(
      "push_rpc_client_goaways_total",
      "Connections a server closed as idle or shutting down (goaway UNAVAILABLE).");

  // Registers push_rpc_client_calls_total{code} for each of the first 16 codes.
  ClientMetrics();
  // Counts one completed call under `code`; a code past the table counts as INTERNAL.
  // Thread-safe (the counters are).
  void count(Code code, uint64_t n = 1);
};

// The process-wide instance, created on the first call (thread-safe) and the same ever after.
// Channel's constructor calls it so that /metrics shows the counters at zero before any call.
ClientMetrics& clientMetrics();

}  // namespace push::rpc::detail

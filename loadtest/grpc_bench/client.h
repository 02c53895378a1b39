#pragma once

#include <string>

#include "loadtest/grpc_bench/tuning.h"

namespace push::grpcbench {

struct ClientOptions {
  // "127.0.0.1:<port>"; other hosts are refused.
  std::string target;
  // Calls kept in flight at all times, spread over channels and CQ threads.
  int depth = 1;
  // Measured interval, after kWarmup.
  double seconds = 3;
  // Bytes in EchoRequest.payload (message is "ping").
  int payload = 16;
  // Channels (one HTTP/2 connection each, local subchannel pools so they do not share).
  int channels = 1;
  Tuning tuning;
};

// Warms up 1 s, measures `seconds`, prints one result line to stdout:
//   impl=grpc depth=N calls=C seconds=S qps=Q p50_us=X p99_us=Y
// Always returns within warmup + seconds + a few seconds (a watchdog exits the process
// otherwise). Returns the process exit code (non-zero when calls failed).
int runClient(const ClientOptions& options);

}  // namespace push::grpcbench

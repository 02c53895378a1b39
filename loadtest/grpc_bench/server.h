#pragma once

#include "loadtest/grpc_bench/tuning.h"

namespace push::grpcbench {

struct ServerOptions {
  // TCP port on 127.0.0.1; 0 picks a free one. The bound port is printed as "PORT <n>".
  int port = 0;
  // Echo requests pre-posted per completion queue. Calls beyond this wait inside gRPC until
  // a slot finishes, so use at least the client's depth / cqs.
  int slots = 1024;
  Tuning tuning;
};

// Runs the async echo server until SIGINT/SIGTERM or EOF on stdin. Must be called from
// main() before any other thread starts (it blocks SIGINT/SIGTERM for the whole process).
// Returns the process exit code.
int runServer(const ServerOptions& options);

}  // namespace push::grpcbench

#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include <grpc/grpc.h>

namespace push::grpcbench {

// How long a completion-queue thread spins on AsyncNext() with a zero deadline after its last
// event before it blocks. Spinning lets the thread that polls the CQ drive the socket without
// a futex/epoll wake-up per reply (busy polling: best on a quiet machine); blocking gives the
// core away, which matters when the two processes and other work share two cores (a spinning
// thread whose peer was preempted burns its time slice waiting, adding milliseconds).
// Values: kSpinForever, kNoSpin, or microseconds.
constexpr int kSpinForever = -1;
constexpr int kNoSpin = 0;

// A server spinning "forever" still blocks after this long without any event, so an idle
// server does not burn a core.
constexpr std::chrono::milliseconds kIdleBeforeSleep{50};

// Knobs shared by client and server; set from flags (see main.cc).
struct Tuning {
  // See kSpinForever. `--poll busy` = kSpinForever, `--poll block` = kNoSpin.
  int spin_us = kSpinForever;
  // sched_yield() between empty polls while spinning. Costs well under a microsecond when
  // nothing else wants the core; when something does (the peer process, a compiler), it
  // gets the core instead of waiting out our time slice. Without it, busy polling on a busy
  // two-core machine collapses (1 in flight: 37k/s quiet, a few hundred/s under load).
  bool yield = true;
  // Completion queues, each with its own polling thread. Server: calls are spread over them.
  int cqs = 1;
  // Integer channel arguments applied to every channel and to the server, in order; a later
  // entry with the same name wins. `--arg name=value` appends (or to string_args when the
  // value is not an integer).
  std::vector<std::pair<std::string, int>> args = defaultArgs();
  std::vector<std::pair<std::string, std::string>> string_args;

  // Measured to help (README.md): the minimal stack and no retries matter most; the others
  // drop per-connection background work a loopback benchmark does not need.
  static std::vector<std::pair<std::string, int>> defaultArgs() {
    return {
        // No census, deadline or message-size filters in the call stack.
        {GRPC_ARG_MINIMAL_STACK, 1},
        // The retry filter copies every message in case it has to be sent again.
        {GRPC_ARG_ENABLE_RETRIES, 0},
        // No bandwidth-delay-product PINGs riding along with the data.
        {GRPC_ARG_HTTP2_BDP_PROBE, 0},
        // Never use an http_proxy from the environment: the bench only talks to 127.0.0.1.
        {GRPC_ARG_ENABLE_HTTP_PROXY, 0},
    };
  }
};

}  // namespace push::grpcbench

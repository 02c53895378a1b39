#pragma once

// The state behind Channel's private nested types, shared by the files that implement Channel
// (channel.cc, channel_connections.cc, channel_responses.cc, channel_deadlines.cc). Internal to
// common/rpc.

#include <uv.h>

#include <cstdint>
#include <vector>

#include <google/protobuf/service.h>

#include "common/base/status.h"
#include "common/net/inet_address.h"
#include "common/rpc/channel.h"

namespace push::rpc {

namespace detail {
constexpr int64_t kDeadlineTickMs = 2;            // deadline resolution
constexpr size_t kDeadlineSlots = 4096;           // ~8 s per wheel turn
constexpr uint64_t kDeadlineRunKey = UINT64_MAX;  // the wheel key of a DeadlineRun (no call id)
}  // namespace detail

// One of an endpoint's connections_per_endpoint connections, up, connecting or waiting to
// reconnect. A connection's context() points at its Slot.
struct Channel::Slot {
  EndpointState* endpoint = nullptr;
  net::TcpConnection* conn = nullptr;      // up
  net::TcpConnector* connector = nullptr;  // connecting
  int64_t retry_at_ms = 0;                 // when neither: next attempt (loop time)
  int64_t up_since_ms = 0;                 // loop time conn came up; 0 when down
  uint32_t backoff_ms = 0;
  uint32_t inflight = 0;
  // About `conn`, reset when it goes down:
  bool healthy = false;   // it carried a response that was not a refusal
  bool graceful = false;  // the server closed it as idle or shutting down (goaway UNAVAILABLE)
  bool refused = false;   // the server refused it (goaway with an error, e.g. wrong key)
};

// An endpoint of the set (index >= 0, the load balancer's index) or a retired one (-1), with
// its slots.
struct Channel::EndpointState {
  Endpoint endpoint;
  net::InetAddress addr;
  std::vector<Slot> slots;
  int index = -1;  // position in endpoints_; -1 once retired
  uint32_t next_slot = 0;
  bool ever_failed = false;  // a connect attempt failed since the endpoint was last up
  bool refused = false;      // its last connection was refused and none has worked since
  Status last_error;

  size_t upCount() const {
    size_t n = 0;
    for (const Slot& s : slots)
      n += s.conn != nullptr;
    return n;
  }
  size_t openCount() const {
    size_t n = 0;
    for (const Slot& s : slots)
      n += (s.conn != nullptr) + (s.connector != nullptr);
    return n;
  }
};

// A call in calls_ from CallMethod until it completes; `conn` is where it was sent.
struct Channel::PendingCall {
  const google::protobuf::MethodDescriptor* method;
  Controller* controller;
  const google::protobuf::Message* request;  // kept for a later send (waiting, retry)
  google::protobuf::Message* response;
  google::protobuf::Closure* done;
  net::TcpConnection* conn = nullptr;  // where it was sent; nullptr while waiting
  size_t body_bytes = 0;               // request->ByteSizeLong() when last measured
  int64_t start_us = 0;
  int64_t deadline_ms = 0;    // loop time
  uint64_t run_seq = kNoRun;  // the DeadlineRun it belongs to (Channel::runs_), or none
  uint8_t retries_left = 1;
  static constexpr uint64_t kNoRun = UINT64_MAX;
};

// Calls issued one after another whose deadlines fall in the same wheel tick: ids
// [first_id, last_id], of which `pending` have not completed (channel_deadlines.cc).
struct Channel::DeadlineRun {
  int64_t tick;
  uint64_t first_id;
  uint64_t last_id;
  uint64_t pending;
};

// The reconnect timer: a heap object so it can finish closing after the channel is gone.
class Channel::MaintenanceTimer {
 public:
  explicit MaintenanceTimer(Channel* channel, uv_loop_t* loop) : channel_(channel) {
    uv_timer_init(loop, &timer_);
    timer_.data = this;
  }
  void ensureRunning() {
    if (running_ || !channel_) return;
    running_ = true;
    uv_timer_start(
        &timer_,
        [](uv_timer_t* t) {
          auto* self = static_cast<MaintenanceTimer*>(t->data);
          if (self->channel_) self->channel_->onTick();
        },
        kTickMs, kTickMs);
  }
  void stop() {
    running_ = false;
    uv_timer_stop(&timer_);
  }
  void close() {
    channel_ = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_),
             [](uv_handle_t* h) { delete static_cast<MaintenanceTimer*>(h->data); });
  }

 private:
  static constexpr int64_t kTickMs = 10;  // reconnect checks

  uv_timer_t timer_;
  Channel* channel_;
  bool running_ = false;
};

}  // namespace push::rpc

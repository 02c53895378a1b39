#pragma once

#include <google/protobuf/service.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/base/result.h"
#include "common/net/owning_ptrs.h"
#include "common/net/tcp_connection.h"
#include "common/rpc/load_balancer.h"

namespace push::config {
class RpcChannelConfig;
}
namespace push::metrics {
class HistogramTally;
}  // namespace push::metrics
namespace push::net {
class EventLoop;
class TcpConnector;
}  // namespace push::net

namespace push::rpc {

class Channel;
class Controller;

// The owning handle create() returns: destroying it (or reset()) calls close().
struct ChannelCloser {
  void operator()(Channel* channel) const;
};
using ChannelPtr = std::unique_ptr<Channel, ChannelCloser>;

// The client side of the pipelined protobuf RPC (docs/ARCHITECTURE.md §5): a pool of connections
// per endpoint, a load balancer choosing the endpoint of each call, many calls in flight on each
// connection (responses matched by request id, in any order), writes coalesced per loop turn.
//
// Use it through the generated stubs (on the loop thread):
//   ASSIGN_OR_RETURN(ChannelPtr channel, Channel::create(loop, options));  // INVALID_ARGUMENT
//   RETURN_IF_ERROR(channel->setEndpoints(std::vector<std::string>{"127.0.0.1:7001",
//                                                                  "127.0.0.1:7002"}));
//   echo::EchoService_Stub stub(channel.get());
//   stub.Echo(&controller, &request, &response, rpc::newCallback([&] { ... }));
//
// Completion: `done` runs exactly once, on the loop thread, with controller.status():
//   OK; TIMEOUT (deadline passed; the call may have run); UNAVAILABLE (no endpoint reachable,
//   or the connection broke with the call in flight: it may have run); OVERLOADED (over
//   max_inflight, not sent); INVALID_ARGUMENT "request of N bytes over the limit M" (over
//   max_request_bytes, not sent); UNAUTHENTICATED (the server refused our cluster key: not
//   run); CANCELLED (channel closed); or the server's own code.
// `done` may run before CallMethod returns when the call fails without being sent.
// Controller, request and response must stay valid (and the request unchanged) until `done`
// runs.
// A server that answers "not executed" (shutting down, overloaded) gets the call re-sent to
// another endpoint once, within the deadline. Calls on a connection the server closes with a
// goaway (idle, shutting down; proto/rpc.proto) did not run and are re-sent on another
// connection, within their deadline.
//
// Cluster key: with Options::cluster_key set, every new connection starts with a Hello
// carrying it (proto/rpc.proto). A server that refuses it fails the calls of that connection
// with its status (logged at most once a second), and the slot reconnects with backoff.
//
// Calls made while no connection is up yet wait (until their deadline) for the first one;
// once every endpoint has failed to connect, calls fail fast with UNAVAILABLE. Broken
// connections are re-established in the background with jittered exponential backoff.
//
// Threading: async calls (done != nullptr) from the loop thread, or from any thread (posted
// to the loop; the caller keeps everything alive). Synchronous calls (done == nullptr) only
// from a thread that is NOT the loop thread; they block until the call completes.
//
// Ownership: create() returns a ChannelPtr; destroying it (or reset()) closes the channel:
// pending calls fail with CANCELLED and the channel deletes itself once its connections are
// closed. Do not call close() on a channel a ChannelPtr holds.
class Channel final : public google::protobuf::RpcChannel, private net::TcpConnection::Handler {
 public:
  struct Options {
    // round_robin, weighted_round_robin, random or consistent_hash.
    std::string load_balancer = "round_robin";
    // Connections per endpoint. Default: 2. Range 1..64.
    uint32_t connections_per_endpoint = 2;
    // Deadline of calls whose Controller sets none. Default: 1 s.
    std::chrono::milliseconds timeout{1000};
    std::chrono::milliseconds connect_timeout{1000};
    // Calls in flight (sent or waiting for a connection) above which calls fail OVERLOADED.
    // Default: 65536.
    uint32_t max_inflight = 65536;
    // Reconnect backoff: first delay and cap; doubles per failure, +-25% jitter.
    std::chrono::milliseconds reconnect_min{50};
    std::chrono::milliseconds reconnect_max{5000};
    // Largest response frame accepted; a bigger one closes the connection. Default: 16 MiB.
    uint32_t max_frame_bytes = 16u << 20;
    // Largest request frame sent (header + meta + body). A bigger request is not sent: its
    // call completes at once with INVALID_ARGUMENT "request of N bytes over the limit M" and
    // the connection and other calls are untouched. Keep it <= the servers'
    // Server::Options::max_frame_bytes (a bigger frame makes the server close the connection
    // under every call on it). Callers that batch split by maxRequestBodyBytes().
    // Default: 16 MiB (the server's default max frame). Range: 1 KiB..256 MiB.
    uint32_t max_request_bytes = 16u << 20;
    // Shared secret of the cluster, sent in a Hello first on every connection (see
    // Server::Options::cluster_key). Empty (default): no Hello. At most 1024 bytes.
    std::string cluster_key;
    net::TcpConnection::Limits limits = defaultLimits();

    static net::TcpConnection::Limits defaultLimits();
    static Result<Options> fromConfig(const config::RpcChannelConfig& config);
  };

  // INVALID_ARGUMENT for an unknown load balancer or bad option.
  static Result<ChannelPtr> create(net::EventLoop& loop, Options options);

  // Replaces the endpoint set (loop thread). Connections to endpoints that stay are kept;
  // removed endpoints stop receiving calls and their connections close once their calls in
  // flight are answered. INVALID_ARGUMENT for an unparsable address (nothing changes).
  Status setEndpoints(const std::vector<Endpoint>& endpoints);
  // Convenience: static endpoints from "host:port" strings, weight 1.
  Status setEndpoints(const std::vector<std::string>& addresses);

  // google::protobuf::RpcChannel. `controller` must be a push::rpc::Controller.
  void CallMethod(const google::protobuf::MethodDescriptor* method,
                  google::protobuf::RpcController* controller,
                  const google::protobuf::Message* request, google::protobuf::Message* response,
                  google::protobuf::Closure* done) override;

  // The options in force (after create()'s adjustments). Any thread once created: they never
  // change.
  const Options& options() const { return options_; }
  // The largest serialized request message (ByteSizeLong()) of `method` that a call can carry
  // without going over max_request_bytes: the frame adds a header and RpcMeta, bounded by the
  // method name's length. A request of at most this many bytes is never refused for its size.
  size_t maxRequestBodyBytes(const google::protobuf::MethodDescriptor* method) const;

  // Calls in flight (sent or waiting for a connection).
  size_t inflight() const { return calls_.size(); }
  // Endpoints with at least one connection up.
  size_t usableEndpoints() const;

  // Fails every pending call with CANCELLED, closes all connections; the channel deletes
  // itself when they are closed. Loop thread only. Idempotent. ChannelPtr calls it.
  void close();

 private:
  struct Slot;
  struct EndpointState;
  struct PendingCall;
  struct DeadlineRun;
  class MaintenanceTimer;
  Channel(net::EventLoop& loop, Options options, std::unique_ptr<LoadBalancer> lb);
  ~Channel() override;

  // net::TcpConnection::Handler
  size_t onData(net::TcpConnection& conn, const char* data, size_t len) override;
  void onClosed(net::TcpConnection& conn, net::TcpConnection::CloseReason reason) override;

  void callInLoop(const google::protobuf::MethodDescriptor* method, Controller* controller,
                  const google::protobuf::Message* request, google::protobuf::Message* response,
                  google::protobuf::Closure* done);
  // Writes the call on a connection of an endpoint the balancer picks (not
  // `exclude_endpoint` when another is usable). Uses call.body_bytes and the request's cached
  // sizes, which the caller has just measured. False: no connection available.
  bool trySend(uint64_t request_id, PendingCall& call, int exclude_endpoint);
  // trySend() for a call sent later (waiting, retried, re-sent after a goaway): measures the
  // request again and completes the call INVALID_ARGUMENT if it is now over the limit.
  // `fallback`: when nothing but the excluded endpoint is usable, try it too. True when the
  // call was sent or completed; false leaves it pending and unsent.
  bool resend(uint64_t request_id, PendingCall& call, int exclude_endpoint, bool fallback);
  static size_t requestFrameBound(const google::protobuf::MethodDescriptor* method,
                                  size_t body_len);
  Status requestTooLarge(const google::protobuf::MethodDescriptor* method, size_t frame_len) const;
  // The status of a call no endpoint can take: UNAVAILABLE, or the refusal's code when an
  // endpoint refused us (wrong cluster key).
  Status noEndpointStatus() const;
  void complete(uint64_t request_id, Status status);
  // complete() for a call already found (no second lookup).
  void completeFound(std::unordered_map<uint64_t, PendingCall>::iterator it, Status status);
  void completeCall(PendingCall& call, Status status);
  // onData's loop over the frames of one read.
  size_t readFrames(net::TcpConnection& conn, const char* data, size_t len);
  void onResponse(net::TcpConnection& conn, const char* meta, size_t meta_len, const char* body,
                  size_t body_len);
  // A goaway response (rpc.proto): UNAVAILABLE re-sends the connection's calls elsewhere;
  // another code fails them with it (a refused cluster key).
  void onGoaway(net::TcpConnection& conn, const Status& status);
  // Call deadlines (channel_deadlines.cc). A call joins the run of the call issued just
  // before it when its deadline falls in the same wheel tick, or starts a new run when it falls
  // later (the usual case: one timeout for every call); a run has one wheel entry, not one per
  // call, and a run whose calls all completed is dropped without looking at them. A call due
  // before the last run's tick (a shorter timeout) gets a wheel entry of its own.
  void scheduleDeadline(uint64_t request_id, PendingCall& call);
  void leaveDeadlineRun(const PendingCall& call);
  void onRunsDue();
  void onDeadline(uint64_t request_id);
  void connectSlot(EndpointState& ep, Slot& slot);
  void onSlotDown(EndpointState& ep, Slot& slot, const Status& why);
  void onTick();
  void drainWaiting();
  void failWaitingIfHopeless();
  void maybeDelete();
  bool anyEndpointConnecting() const;
  void refreshUsable();
  int64_t nowUs() const;
  // Adds the calls completed OK during a read (tallied without atomics) to the metrics.
  void flushReadTallies();
  uint64_t mix64Seed();

  net::EventLoop& loop_;
  Options options_;
  std::unique_ptr<LoadBalancer> lb_;
  std::vector<std::unique_ptr<EndpointState>> endpoints_;  // index = load balancer index
  std::vector<std::unique_ptr<EndpointState>> retired_;    // removed, closing when idle
  std::vector<bool> usable_;
  std::unordered_map<uint64_t, PendingCall> calls_;
  std::deque<uint64_t> waiting_;  // request ids not sent yet (no connection up)
  uint64_t next_request_id_ = 1;
  net::LoopWheelPtr deadlines_;   // null once closing
  std::deque<DeadlineRun> runs_;  // by tick, then id
  uint64_t runs_front_seq_ = 0;   // run_seq of runs_.front()
  MaintenanceTimer* timer_ = nullptr;
  size_t open_connections_ = 0;  // started connections not yet closed, plus connectors
  uint64_t rng_state_;
  // While onData runs: OK completions are tallied here and added to the process's metrics at
  // the end of the read (four atomic adds per call were ~7% of a call's cost at depth).
  bool in_read_ = false;
  uint64_t ok_tally_ = 0;
  std::unique_ptr<metrics::HistogramTally> seconds_tally_;
  std::string hello_frame_;  // written first on each connection; empty: no key
  bool closing_ = false;
  bool deleted_ = false;
};

inline void ChannelCloser::operator()(Channel* channel) const {
  channel->close();
}

}  // namespace push::rpc

#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/base/liveness.h"
#include "common/base/result.h"
#include "common/rpc/channel.h"

namespace push {
class Message;
}
namespace push::broadcast {
class BroadcastMessage;
}
namespace push::config {
class SaverClientConfig;
}
namespace push::net {
class EventLoop;
}

namespace push::center {

// Center's calls to saver (services/saver, proto/saver.proto): Store before a QoS 1 message
// is delivered (store, then send: POST /v1/push and job chunks) and StoreBroadcast, which
// gives a QoS 1 broadcast its per-app sequence. One rpc::Channel over options.addresses: any
// saver serves any call (the data is in Redis), the channel's balancer picks one per call.
//
// Store calls made in one loop turn are coalesced, like the register lookups: just before the
// loop waits for I/O they go out as StoreRequests of at most max_users_per_call (message,
// user) pairs and of at most the channel's largest request each. A message whose users do not
// fit one request is split over several (Store is idempotent per (message, user): a part
// stored twice by a retry is stored once). A store() succeeds only when every request holding
// a part of it succeeded; otherwise it fails with the first failure (UNAVAILABLE: no saver
// reachable or Redis down; TIMEOUT; OVERLOADED; saver's own code), and the caller must not
// claim the message stored: parts may be stored, and are harmless (a retry stores the rest).
//
// Metrics: push_center_saver_calls_total{method=Store|StoreBroadcast,result=ok|failed},
// push_center_saver_call_seconds{method} (latency of each RPC), push_center_saver_stored_total
// ((message, user) pairs saver stored now; duplicates and expired not counted). A failure is
// logged at most once a second.
//
// Loop-thread only. `done` runs exactly once, on the loop thread, never inside the call —
// unless the SaverClient is destroyed first: then it never runs (callers keep their own
// state and answer it themselves, as with Deliverer).
class SaverClient {
 public:
  struct Options {
    // Saver RPC endpoints "host:port". Empty (default): no saver, nothing is stored.
    std::vector<std::string> addresses;
    rpc::Channel::Options channel;
    // Deadline of one saver call. Default: 2 s.
    std::chrono::milliseconds timeout{2'000};
    // (message, user) pairs in one StoreRequest at most: saver refuses more than its
    // max_users_per_store (default 10000). Default: 10000.
    uint32_t max_users_per_call = 10'000;

    // Endpoints from ZooKeeper (services/saver) instead of `addresses`: the center feeds
    // channel() from its DiscoveryLink.
    bool discover = false;
    bool enabled() const { return !addresses.empty() || discover; }
    // From CenterConfig.saver: addresses parse as numeric "host:port" (INVALID_ARGUMENT
    // "saver.addresses: ..." otherwise). Ranges are checked by the caller
    // (CenterOptions::fromConfig checks every field of its file in one table).
    static Result<Options> fromConfig(const config::SaverClientConfig& config);
  };

  using StoreDone = std::function<void(const Status&)>;
  using SequenceDone = std::function<void(Result<uint64_t>)>;

  // INVALID_ARGUMENT for bad channel options or addresses; options must be enabled().
  static Result<std::unique_ptr<SaverClient>> create(net::EventLoop& loop, Options options);
  ~SaverClient();

  // Stores `message` (qos 1; id, app, payload, created_ms, ttl_s as it will be sent) for
  // `users` (distinct users of message.app; a user's devices share one stored copy). `done`
  // gets OK once saver has every pair in Redis. No users: OK (posted).
  void store(const Message& message, std::vector<std::string> users, StoreDone done);

  // Appends `broadcast` to its app's log; `done` gets the sequence saver assigned (the one
  // the broadcast must carry), or the failure.
  void storeBroadcast(const broadcast::BroadcastMessage& broadcast, SequenceDone done);

  // Store calls (RPCs) in flight, and stores waiting for this loop turn's flush.
  size_t callsInFlight() const { return in_flight_; }

  // The channel, for a DiscoveryLink to feed its endpoints (options.discover).
  rpc::Channel& channel() { return *channel_; }

 private:
  struct Op;
  struct Batch;
  SaverClient(net::EventLoop& loop, Options options);
  // Adds `op`'s users to the batches of this loop turn, cutting a new batch when one is full.
  void queue(const std::shared_ptr<Op>& op);
  void flush();
  void sendStore(std::unique_ptr<Batch> batch);

  net::EventLoop& loop_;
  const Options options_;
  rpc::ChannelPtr channel_;
  size_t max_request_bytes_ = 0;                 // of a StoreRequest body
  std::vector<std::unique_ptr<Batch>> batches_;  // of this loop turn, the last one open
  bool flush_scheduled_ = false;
  size_t in_flight_ = 0;
  Liveness liveness_;
};

}  // namespace push::center

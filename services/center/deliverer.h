#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/base/liveness.h"
#include "common/base/status.h"
#include "proto/session.pb.h"
#include "services/center/batch_splitter.h"
#include "services/center/push_request.h"

namespace push::net {
class EventLoop;
}
namespace push::reg {
class RegisterClient;
}
namespace push::service {
class RoomPool;
}

namespace push::center {

// One message to a list of targets: register Lookup (one batched call per register shard,
// coalesced with the other lookups of the loop turn) -> targets grouped by room -> the loop
// turn's items per room sent as Room.DeliverBatch calls cut by BatchSplitter (bytes, items,
// targets: a room closes a channel that sends a frame over its limit) -> per-target outcome.
// The path of POST /v1/push (CenterServer) and of each multicast job chunk (JobWorker).
//
// Loop-thread only. `done` runs exactly once, never inside deliver(), unless the Deliverer is
// destroyed first: then it never runs (callers keep their own state; a job chunk left
// unanswered is redelivered by queued).
class Deliverer {
 public:
  struct Outcome {
    // The targets as given.
    std::vector<ParsedPush::Target> targets;
    // Per target: connections the message was handed to (0: the user was offline).
    std::vector<uint32_t> connections;
    // Per target: a room it needed did not answer (its connections there are not counted).
    std::vector<bool> failed;
  };
  // `lookup` is not OK when the register lookup failed: nothing was delivered and only
  // outcome.targets is set.
  using Done = std::function<void(const Status& lookup, Outcome&& outcome)>;

  // `registry`, `rooms` must outlive this object.
  Deliverer(net::EventLoop& loop, reg::RegisterClient& registry, service::RoomPool& rooms,
            BatchLimits limits);
  ~Deliverer();

  // `message` to every session of each target's user (or of its device).
  void deliver(Message message, std::vector<ParsedPush::Target> targets, Done done);

  // Room.DeliverBatch calls sent so far.
  uint64_t batchesSent() const { return batches_sent_; }

 private:
  struct Call;
  struct RoomBatch;
  struct RoomQueue;

  void route(std::shared_ptr<Call> call);
  void queueItem(const std::string& address, std::shared_ptr<Call> call,
                 const std::vector<size_t>& targets, size_t begin, size_t end);
  void flush();
  void sendBatch(const std::string& address, std::unique_ptr<RoomBatch> batch);
  void finish(std::shared_ptr<Call> call);

  net::EventLoop& loop_;
  reg::RegisterClient& register_;
  service::RoomPool& rooms_;
  const BatchLimits limits_;
  // Deliveries of this loop turn per room address, already cut into batches: all sent just
  // before the loop waits for I/O.
  std::unordered_map<std::string, std::unique_ptr<RoomQueue>> pending_;
  bool flush_scheduled_ = false;
  uint64_t batches_sent_ = 0;
  Liveness liveness_;
};

}  // namespace push::center

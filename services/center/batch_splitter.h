#pragma once

#include <cstddef>
#include <cstdint>

namespace push::center {

// How big one Room.DeliverBatch call may get. The room's RPC server closes a connection that
// sends a frame over its max_frame_bytes (every call in flight on it fails), so center cuts
// one loop turn's deliveries to a room into calls under these.
struct BatchLimits {
  // Serialized DeliverBatchRequest bytes. Stays a margin under the channel's largest request
  // (see CenterOptions::maxRoomRequestBytes).
  uint64_t max_bytes = 4u << 20;
  // Items (one per push and room, or per chunk of a push's targets).
  uint32_t max_items = 1024;
  // Targets over all items; also the most targets one item carries.
  uint32_t max_targets = 8192;
};

// Cuts a stream of items into consecutive batches that each stay under BatchLimits. Items are
// never split here (center cuts a push's targets into items of at most max_targets first); an
// item over a limit by itself gets a batch of its own. Pure bookkeeping: the caller keeps the
// items. Not thread-safe.
//
//   BatchSplitter s(limits);
//   for (item : items) {
//     if (s.add(bytes(item), targets(item))) batches.emplace_back();   // starts a new one
//     batches.back().push_back(item);
//   }
class BatchSplitter {
 public:
  explicit BatchSplitter(BatchLimits limits) : limits_(limits) {}

  // Accounts one item of `bytes` (as encoded inside the batch, see itemBytes()) and `targets`;
  // true when it starts a new batch: the first item, or one that would take the current batch
  // over a limit.
  bool add(uint64_t bytes, uint64_t targets);

  // The bytes an item of `message_bytes` (its ByteSizeLong()) takes inside the batch's
  // repeated field: tag, length, body.
  static uint64_t itemBytes(uint64_t message_bytes);

  // The current (last) batch so far.
  uint64_t batchBytes() const { return bytes_; }
  uint64_t batchItems() const { return items_; }
  uint64_t batchTargets() const { return targets_; }
  // Batches started so far.
  uint64_t batches() const { return batches_; }

 private:
  BatchLimits limits_;
  uint64_t bytes_ = 0;
  uint64_t items_ = 0;
  uint64_t targets_ = 0;
  uint64_t batches_ = 0;
};

}  // namespace push::center

#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"
#include "common/base/status.h"

namespace push::queue {

class DiskQueue;

// A message body, shared by the copies of one message in every channel of a topic: one
// allocation holding a reference count and the bytes. Loop-thread only (the count is not
// atomic): the whole engine runs on one thread.
class BodyRef {
 public:
  BodyRef() = default;
  explicit BodyRef(std::string_view data);

  // Bodies of messages that arrived together (an MPUB): consecutive bodies share allocations
  // of up to kBatchBlockBytes, so a batch of 200 costs a few mallocs instead of 200, and fewer
  // bytes of allocator rounding. Appends one BodyRef per body to *out, in order. The price: a
  // block is freed with the last of its bodies, so one message kept long (deferred, requeued)
  // keeps its neighbours' bytes too, at most kBatchBlockBytes. A body too large to share a
  // block gets its own allocation.
  static void makeBatch(std::span<const std::string_view> bodies, std::vector<BodyRef>* out);
  static constexpr size_t kBatchBlockBytes = 64u << 10;

  BodyRef(const BodyRef& other) : body_(other.body_) { retain(); }
  BodyRef(BodyRef&& other) noexcept : body_(other.body_) { other.body_ = nullptr; }
  BodyRef& operator=(const BodyRef& other);
  BodyRef& operator=(BodyRef&& other) noexcept;
  ~BodyRef() { release(); }

  std::string_view view() const;
  size_t size() const;
  bool empty() const { return size() == 0; }

 private:
  struct Body;
  struct Block;
  void retain();
  void release();
  Body* body_ = nullptr;
};

// One message as a topic or channel holds it. 32 bytes; the body is shared.
struct Message {
  uint64_t id = 0;           // unique per daemon; 16 hex digits on the wire
  int64_t timestamp_ns = 0;  // wall clock at publish, nanoseconds since the epoch
  uint16_t attempts = 0;     // deliveries so far (incremented as it is sent to a client)
  BodyRef body;
};

// The stored form, identical to a message frame's data (wire.h): 26-byte header + body. What
// the disk queues hold, so a message read back from disk is written to a client unchanged.
void appendEncodedMessage(const Message& message, std::string* out);
// false when `data` is shorter than the header or the id is not 16 hex digits.
bool decodeMessage(std::string_view data, Message* message);

// Messages in a DiskQueue (a topic's or channel's overflow), in the stored form above.
// putMessage appends one. takeMessage removes the oldest into *message: true when it did,
// false when the queue is empty; an undecodable record is removed, skipped and counted in
// *skipped; an error Status when the read failed (nothing removed).
Status putMessage(DiskQueue& disk, const Message& message);
Result<bool> takeMessage(DiskQueue& disk, Message* message, uint64_t* skipped);

}  // namespace push::queue

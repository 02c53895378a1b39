#include "common/queue/message.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "common/queue/disk_queue.h"
#include "common/queue/wire.h"

namespace push::queue {

// A body alone owns its reference count (refs_or_offset). A body in a batch block has
// kInBlock set in size_bits, and refs_or_offset is its distance from the Block that holds
// the count shared by every body of the block.
struct BodyRef::Body {
  static constexpr uint32_t kInBlock = 1u << 31;
  uint32_t size_bits;
  uint32_t refs_or_offset;
  char data[];

  uint32_t size() const { return size_bits & ~kInBlock; }
  bool inBlock() const { return (size_bits & kInBlock) != 0; }
};

struct BodyRef::Block {
  uint32_t refs;
  uint32_t unused;
};

namespace {

// Bytes a body takes inside a block: header + data, rounded up to keep the headers aligned.
size_t blockEntryBytes(size_t size) {
  return (8 + size + 3) & ~size_t{3};
}

void* allocate(size_t bytes) {
  void* memory = std::malloc(bytes);
  if (memory == nullptr) throw std::bad_alloc();
  return memory;
}

}  // namespace

BodyRef::BodyRef(std::string_view data) {
  body_ = static_cast<Body*>(allocate(sizeof(Body) + data.size()));
  body_->size_bits = static_cast<uint32_t>(data.size());
  body_->refs_or_offset = 1;
  if (!data.empty()) std::memcpy(body_->data, data.data(), data.size());
}

void BodyRef::makeBatch(std::span<const std::string_view> bodies, std::vector<BodyRef>* out) {
  static_assert(sizeof(Body) == 8 && sizeof(Block) == 8);
  out->reserve(out->size() + bodies.size());
  size_t i = 0;
  while (i < bodies.size()) {
    // The run of bodies [i, end) that fits one block.
    size_t bytes = sizeof(Block);
    size_t end = i;
    while (end < bodies.size() && bytes + blockEntryBytes(bodies[end].size()) <= kBatchBlockBytes) {
      bytes += blockEntryBytes(bodies[end].size());
      ++end;
    }
    if (end - i <= 1) {  // too large to share, or the last one: an allocation of its own
      out->emplace_back(bodies[i]);
      ++i;
      continue;
    }
    char* memory = static_cast<char*>(allocate(bytes));
    auto* block = reinterpret_cast<Block*>(memory);
    block->refs = static_cast<uint32_t>(end - i);
    size_t offset = sizeof(Block);
    for (; i < end; ++i) {
      auto* body = reinterpret_cast<Body*>(memory + offset);
      body->size_bits = static_cast<uint32_t>(bodies[i].size()) | Body::kInBlock;
      body->refs_or_offset = static_cast<uint32_t>(offset);
      if (!bodies[i].empty()) std::memcpy(body->data, bodies[i].data(), bodies[i].size());
      BodyRef ref;
      ref.body_ = body;  // the block's count already includes it
      out->push_back(std::move(ref));
      offset += blockEntryBytes(bodies[i].size());
    }
  }
}

BodyRef& BodyRef::operator=(const BodyRef& other) {
  if (this != &other) {
    release();
    body_ = other.body_;
    retain();
  }
  return *this;
}

BodyRef& BodyRef::operator=(BodyRef&& other) noexcept {
  if (this != &other) {
    release();
    body_ = other.body_;
    other.body_ = nullptr;
  }
  return *this;
}

std::string_view BodyRef::view() const {
  return body_ == nullptr ? std::string_view() : std::string_view(body_->data, body_->size());
}

size_t BodyRef::size() const {
  return body_ == nullptr ? 0 : body_->size();
}

void BodyRef::retain() {
  if (body_ == nullptr) return;
  if (body_->inBlock()) {
    ++reinterpret_cast<Block*>(reinterpret_cast<char*>(body_) - body_->refs_or_offset)->refs;
  } else {
    ++body_->refs_or_offset;
  }
}

void BodyRef::release() {
  if (body_ == nullptr) return;
  if (body_->inBlock()) {
    char* memory = reinterpret_cast<char*>(body_) - body_->refs_or_offset;
    if (--reinterpret_cast<Block*>(memory)->refs == 0) std::free(memory);
  } else if (--body_->refs_or_offset == 0) {
    std::free(body_);
  }
  body_ = nullptr;
}

void appendEncodedMessage(const Message& message, std::string* out) {
  size_t at = out->size();
  out->resize(at + wire::kMessageHeaderSize);
  wire::writeMessageHeader(out->data() + at, message.timestamp_ns, message.attempts,
                           wire::formatMessageId(message.id));
  out->append(message.body.view());
}

bool decodeMessage(std::string_view data, Message* message) {
  wire::MessageView view;
  if (!wire::parseMessage(data, &view)) return false;
  if (!wire::parseMessageId(view.id, &message->id)) return false;
  message->timestamp_ns = view.timestamp_ns;
  message->attempts = view.attempts;
  message->body = BodyRef(view.body);
  return true;
}

Status putMessage(DiskQueue& disk, const Message& message) {
  // Loop-thread only, like the engine: one buffer serves every put.
  thread_local std::string record;
  record.clear();
  appendEncodedMessage(message, &record);
  return disk.put(record);
}

Result<bool> takeMessage(DiskQueue& disk, Message* message, uint64_t* skipped) {
  while (disk.depth() > 0) {
    Result<const std::string*> record = disk.front();
    if (!record.isOk()) return record.status();
    if (*record == nullptr) return false;
    bool decoded = decodeMessage(**record, message);
    RETURN_IF_ERROR(disk.pop());
    if (decoded) return true;
    ++*skipped;
  }
  return false;
}

}  // namespace push::queue

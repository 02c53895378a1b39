#include "common/queue/message.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "common/queue/disk_queue.h"
#include "common/queue/wire.h"

namespace push::queue {

struct BodyRef::Body {
  uint32_t refs;
  uint32_t size;
  char data[];
};

BodyRef::BodyRef(std::string_view data) {
  void* memory = std::malloc(sizeof(Body) + data.size());
  if (memory == nullptr) throw std::bad_alloc();
  body_ = static_cast<Body*>(memory);
  body_->refs = 1;
  body_->size = static_cast<uint32_t>(data.size());
  if (!data.empty()) std::memcpy(body_->data, data.data(), data.size());
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
  return body_ == nullptr ? std::string_view() : std::string_view(body_->data, body_->size);
}

size_t BodyRef::size() const {
  return body_ == nullptr ? 0 : body_->size;
}

void BodyRef::retain() {
  if (body_ != nullptr) ++body_->refs;
}

void BodyRef::release() {
  if (body_ != nullptr && --body_->refs == 0) std::free(body_);
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

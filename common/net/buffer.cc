#include "common/net/buffer.h"

#include <cassert>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

namespace push::net {

Buffer::~Buffer() { std::free(data_); }

Buffer::Buffer(Buffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      begin_(std::exchange(other.begin_, 0)),
      end_(std::exchange(other.end_, 0)),
      capacity_(std::exchange(other.capacity_, 0)) {}

Buffer& Buffer::operator=(Buffer&& other) noexcept {
  if (this != &other) {
    std::free(data_);
    data_ = std::exchange(other.data_, nullptr);
    begin_ = std::exchange(other.begin_, 0);
    end_ = std::exchange(other.end_, 0);
    capacity_ = std::exchange(other.capacity_, 0);
  }
  return *this;
}

void Buffer::append(const void* bytes, size_t len) {
  if (len == 0) return;
  std::memcpy(reserve(len), bytes, len);
  end_ += static_cast<uint32_t>(len);
}

char* Buffer::reserve(size_t len) {
  if (capacity_ - end_ < len) grow(len);
  return data_ + end_;
}

void Buffer::consume(size_t len) {
  assert(len <= size());
  begin_ += static_cast<uint32_t>(len);
  if (begin_ == end_) begin_ = end_ = 0;
}

void Buffer::release() {
  std::free(data_);
  data_ = nullptr;
  begin_ = end_ = capacity_ = 0;
}

void Buffer::grow(size_t extra) {
  const size_t used = size();
  // Slide the contents to the front when that makes enough room and the buffer is at most
  // half full: cheaper than reallocating, and bounds memory for a queue that is drained.
  if (begin_ > 0 && capacity_ - used >= extra && used <= capacity_ / 2) {
    std::memmove(data_, data_ + begin_, used);
    begin_ = 0;
    end_ = static_cast<uint32_t>(used);
    return;
  }
  size_t want = used + extra;
  if (want > UINT32_MAX) throw std::bad_alloc();  // callers cap sizes far below this
  size_t cap = capacity_ ? capacity_ : 64;
  while (cap < want) cap *= 2;
  if (cap > UINT32_MAX) cap = UINT32_MAX;
  if (begin_ > 0) {
    std::memmove(data_, data_ + begin_, used);
    begin_ = 0;
    end_ = static_cast<uint32_t>(used);
  }
  char* p = static_cast<char*>(std::realloc(data_, cap));
  if (!p) throw std::bad_alloc();
  data_ = p;
  capacity_ = static_cast<uint32_t>(cap);
}

}  // namespace push::net

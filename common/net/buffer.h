#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace push::net {

// A growable byte queue: bytes are appended at the back and consumed from the front. Allocates
// nothing until the first append and can hand its memory back with release(), so an idle
// connection's buffers cost 16 bytes each. Not thread-safe. Movable, not copyable.
// Capacity is limited to 4 GiB - 1 (32-bit indices keep idle connections small).
class Buffer {
 public:
  Buffer() = default;
  ~Buffer();
  Buffer(Buffer&& other) noexcept;
  Buffer& operator=(Buffer&& other) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  size_t size() const { return end_ - begin_; }
  bool empty() const { return end_ == begin_; }
  size_t capacity() const { return capacity_; }
  const char* data() const { return data_ + begin_; }
  char* data() { return data_ + begin_; }
  std::string_view view() const { return {data(), size()}; }

  void append(const void* bytes, size_t len);
  void append(std::string_view bytes) { append(bytes.data(), bytes.size()); }

  // Returns room for at least `len` more bytes at the back; call commit(n) with how many were
  // written (n <= len). Lets a serializer write in place without a copy.
  char* reserve(size_t len);
  void commit(size_t len) { end_ += static_cast<uint32_t>(len); }

  // Drops `len` bytes from the front (len <= size()).
  void consume(size_t len);
  void clear() { begin_ = end_ = 0; }
  // Frees the memory (the buffer must be empty; contents are discarded otherwise).
  void release();

 private:
  void grow(size_t extra);
  char* data_ = nullptr;
  uint32_t begin_ = 0;
  uint32_t end_ = 0;
  uint32_t capacity_ = 0;
};

}  // namespace push::net

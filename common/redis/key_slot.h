#pragma once

#include <cstdint>
#include <string_view>

namespace push::redis {

// Redis Cluster's key -> slot function, also the shard key of RedisRouter's Shards mode.
//
// The part of a key that is hashed is its hash tag: the bytes between the first '{' and the
// next '}' after it, when there are any ("{user1000}.following" -> "user1000"); otherwise the
// whole key ("foo", "{}x" and "x{y" are hashed whole). Keys with one tag share a slot, so a
// multi-key command or a Lua script may use them together.

inline constexpr uint16_t kSlotCount = 16384;

// The part of `key` that is hashed (a view into `key`).
std::string_view hashTag(std::string_view key);

// CRC16 (XMODEM: polynomial 0x1021, initial value 0, no reflection) of hashTag(key), mod 16384.
// The same value Redis gives (CLUSTER KEYSLOT): keySlot("foo") == 12182.
uint16_t keySlot(std::string_view key);

// CRC16-XMODEM of `data` (exposed for tests: crc16("123456789") == 0x31C3).
uint16_t crc16(std::string_view data);

}  // namespace push::redis

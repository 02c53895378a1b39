#pragma once

#include <cstdint>
#include <string_view>

namespace push {

// 64-bit non-cryptographic hash for sharding and consistent hashing: stable across processes,
// machines and releases (it decides which register slot or room owns a user, so it must never
// change). FNV-1a over the bytes followed by a murmur3 finalizer for avalanche.
uint64_t hash64(std::string_view data);

// Mixes an integer key (murmur3 fmix64).
uint64_t mix64(uint64_t key);

}  // namespace push

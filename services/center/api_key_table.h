#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <unordered_map>

#include "common/base/status.h"

namespace push::center {

// The operator API keys of every app, held as SHA-256 digests (key digest -> app index).
//
// find() digests the presented key, looks the digest up by its first 8 bytes and confirms the
// match with a constant-time compare of the whole digests (CRYPTO_memcmp). So the time taken
// depends neither on how much of a key is right nor on its length in any useful way, and the
// table keeps no key in clear. Callers answer every miss the same way (CenterServer: 401 with
// one body whether the key is missing, wrong, of another app, or the app does not exist), so
// nothing tells apps apart.
//
// Built once at start; find() is const. Not thread-safe for add().
class ApiKeyTable {
 public:
  // Adds `key` for app index `app`. INVALID_ARGUMENT when the key is already there (for any
  // app: a key names exactly one app) or empty.
  Status add(std::string_view key, size_t app);
  // The app index of `key`; nullopt for an empty or unknown key.
  std::optional<size_t> find(std::string_view key) const;
  size_t size() const { return by_prefix_.size(); }

 private:
  using Digest = std::array<unsigned char, 32>;
  struct Entry {
    Digest digest;
    size_t app;
  };
  static Digest digestOf(std::string_view key);
  static uint64_t prefixOf(const Digest& d);
  // First 8 digest bytes -> entries (distinct keys whose prefixes collide share a bucket).
  std::unordered_multimap<uint64_t, Entry> by_prefix_;
};

}  // namespace push::center

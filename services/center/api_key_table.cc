#include "services/center/api_key_table.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <cstring>

namespace push::center {

ApiKeyTable::Digest ApiKeyTable::digestOf(std::string_view key) {
  Digest d;
  SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(), d.data());
  return d;
}

uint64_t ApiKeyTable::prefixOf(const Digest& d) {
  uint64_t p;
  std::memcpy(&p, d.data(), sizeof p);
  return p;
}

Status ApiKeyTable::add(std::string_view key, size_t app) {
  if (key.empty()) return invalidArgument("empty API key");
  if (find(key)) return invalidArgument("an API key is used twice");
  const Digest d = digestOf(key);
  by_prefix_.emplace(prefixOf(d), Entry{d, app});
  return Status::ok();
}

std::optional<size_t> ApiKeyTable::find(std::string_view key) const {
  if (key.empty()) return std::nullopt;
  const Digest d = digestOf(key);
  auto [it, end] = by_prefix_.equal_range(prefixOf(d));
  for (; it != end; ++it) {
    if (CRYPTO_memcmp(it->second.digest.data(), d.data(), d.size()) == 0) return it->second.app;
  }
  return std::nullopt;
}

}  // namespace push::center

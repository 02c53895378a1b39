#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace push::saver {

// The Redis keys of saver's data (services/saver/README.md "Redis"). Every key of one user
// shares the hash tag {<app>/<user>} and every key of one app's broadcasts {<app>}, so a
// script over them runs on one node of a Redis Cluster (or one shard).
//   in:{a/u}  ZSET   the user's stored message ids, 16 hex digits each, all score 0: lexical
//                    order is id order (a double score could not hold a 64-bit id)
//   mb:{a/u}  HASH   id -> "<expire_ms> <serialized push.Message>"
//   ml:{a/u}  HASH   id -> loads so far, plus a placeholder field '' so that the three keys
//                    exist together or not at all (a script over keys of a migrating slot
//                    that finds only some of them gets TRYAGAIN); its value is the keys'
//                    expire-at (ms), so a store reads it instead of three PTTLs
//   bs:{a}    STRING the app's last broadcast sequence
//   bl:{a}    ZSET   score sequence -> "<expire_ms> <message id hex> <serialized BroadcastMessage>"
struct UserKeys {
  std::string inbox, bodies, loads;
};
UserKeys userKeys(std::string_view app, std::string_view user);

struct AppKeys {
  std::string sequence, log;
};
AppKeys appKeys(std::string_view app);

// 16 lower-case hex digits (fixed width, so lexical order is numeric order).
std::string idHex(uint64_t id);
// The inverse; false unless `hex` is exactly 16 hex digits.
bool parseIdHex(std::string_view hex, uint64_t* id);

// "<expire_ms> <rest>": the number and the rest; false when malformed.
bool splitExpiry(std::string_view value, int64_t* expire_ms, std::string_view* rest);

}  // namespace push::saver

#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/auth/token.h"
#include "proto/client.pb.h"

namespace push::room {

struct AppSecret {
  std::string name;
  std::string secret;
};

// The apps a room serves, numbered 0..n-1 in configuration order (connections and sessions
// keep the number, not the name), and the one check of client tokens for Auth and Bind.
// Immutable after construction; any thread may read it.
class AppTable {
 public:
  // `apps` must be non-empty, with distinct names (RoomOptions::fromConfig checks).
  explicit AppTable(std::vector<AppSecret> apps);

  // The app's number, or -1 when this room does not serve it.
  int find(std::string_view name) const;
  const std::string& name(uint16_t app) const { return apps_[app].name; }
  size_t size() const { return apps_.size(); }

  struct Verified {
    uint16_t app = 0;
    auth::TokenClaims claims;
  };
  // sdk/PROTOCOL.md 4, in its order: the token parses (ERROR_BAD_TOKEN), names an app of this
  // room (ERROR_UNKNOWN_APP), is signed with that app's secret (ERROR_BAD_TOKEN) and has not
  // expired at `now_s` (ERROR_TOKEN_EXPIRED). ERROR_NONE fills `out`; otherwise `why` says
  // what failed, for the client's Error frame and the log.
  client::ErrorCode verify(std::string_view token, int64_t now_s, Verified* out,
                           std::string* why) const;

 private:
  struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  std::vector<AppSecret> apps_;
  std::unordered_map<std::string, uint16_t, NameHash, std::equal_to<>> by_name_;
};

}  // namespace push::room

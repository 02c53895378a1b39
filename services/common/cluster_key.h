#pragma once

#include <initializer_list>
#include <string>

#include "common/base/config.h"
#include "common/base/status.h"
#include "common/rpc/channel.h"
#include "common/rpc/server.h"

namespace push::service {

// A service config's top-level `cluster_key` (proto/config.proto): checks it (empty, or
// 16..1024 bytes; the error names the field and its line in `file`) and gives it to the RPC
// server and every channel of the process that did not set a key of their own. `server` and
// channels may be null (center has no RPC listener; a room alone has no register channel).
Status applyClusterKey(const std::string& key, const ConfigFile* file, rpc::Server::Options* server,
                       std::initializer_list<rpc::Channel::Options*> channels);

// Shortest and longest cluster key accepted.
constexpr size_t kMinClusterKeyBytes = 16;
constexpr size_t kMaxClusterKeyBytes = 1024;

}  // namespace push::service

#pragma once

#include <string_view>
#include <vector>

#include "common/base/config.h"

namespace push::service {

// Ranges of the config messages every service nests (proto/config.proto documents the same
// numbers), for checkFieldRanges() under the field name the service gives them:
//   checkFieldRanges(cfg, file, rpcServerRanges("rpc"))
// A service's Options::fromConfig checks its own fields and these in one pass, so a bad value
// is reported with the line of the service's file.
std::vector<FieldRange> rpcServerRanges(std::string_view prefix);   // RpcServerConfig
std::vector<FieldRange> rpcChannelRanges(std::string_view prefix);  // RpcChannelConfig
std::vector<FieldRange> httpServerRanges(std::string_view prefix);  // HttpServerConfig
std::vector<FieldRange> discoveryRanges(std::string_view prefix);   // DiscoveryConfig
// CoordinatorClientConfig, its channel included (rooms use every field, center some: both
// check all, so one block shared by their configs is refused or taken by both alike).
std::vector<FieldRange> coordinatorClientRanges(std::string_view prefix);
// RegisterClientConfig, its channel included (rooms, center and coordinator).
std::vector<FieldRange> registerClientRanges(std::string_view prefix);

// Every range of `parts` in one table.
std::vector<FieldRange> joinRanges(std::initializer_list<std::vector<FieldRange>> parts);

}  // namespace push::service

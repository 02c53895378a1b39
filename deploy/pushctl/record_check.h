#pragma once

// What pushctl checks before it writes a node, so a typo never reaches the services watching it.

#include <string>
#include <string_view>

#include "common/base/status.h"

namespace push::tools {

// apps/<name>: an app record (common/discovery/app_record.h: secrets, API keys, webhooks,
// events, limits). INVALID_ARGUMENT with the reason otherwise.
Status checkAppRecord(std::string_view name, std::string_view data);

// config/<service>: the service's config in protobuf text format, as its config file
// (room -> RoomConfig, center -> CenterConfig, register -> RegisterConfig, saver ->
// SaverConfig, coordinator -> CoordinatorConfig); for room also its live heartbeat hints'
// ranges, as the room checks them. INVALID_ARGUMENT naming the line and field, or for an
// unknown service.
Status checkConfigRecord(std::string_view service, std::string_view data);

}  // namespace push::tools

#include "deploy/pushctl/record_check.h"

#include <memory>

#include "common/base/config.h"
#include "common/discovery/app_record.h"
#include "proto/config.pb.h"
#include "services/room/room_options.h"

namespace push::tools {

Status checkAppRecord(std::string_view name, std::string_view data) {
  return discovery::decodeAppRecord(name, data).status();
}

Status checkConfigRecord(std::string_view service, std::string_view data) {
  std::unique_ptr<google::protobuf::Message> config;
  if (service == "room") {
    config = std::make_unique<config::RoomConfig>();
  } else if (service == "center") {
    config = std::make_unique<config::CenterConfig>();
  } else if (service == "register") {
    config = std::make_unique<config::RegisterConfig>();
  } else if (service == "saver") {
    config = std::make_unique<config::SaverConfig>();
  } else if (service == "coordinator") {
    config = std::make_unique<config::CoordinatorConfig>();
  } else {
    return invalidArgument("no config record for service '" + std::string(service) +
                           "' (room, center, register, saver, coordinator)");
  }
  auto file = ConfigFile::parse(std::string(data), "config/" + std::string(service), config.get());
  if (!file.isOk()) return file.status();
  if (service == "room") {
    // The room's reloadable part, checked as the room will: ranges, and min_s <= max_s when
    // both are set (a base of the widest hints, so nothing the room could take is refused).
    const room::RoomOptions::HeartbeatHints widest{1, 1, 1, 1, 3600};
    auto hints = room::RoomOptions::liveHeartbeats(static_cast<const config::RoomConfig&>(*config),
                                                   file->get(), widest);
    if (!hints.isOk()) return hints.status();
  }
  return Status::ok();
}

}  // namespace push::tools

#include "deploy/pushctl/record_check.h"

#include <memory>

#include "common/base/config.h"
#include "common/discovery/app_record.h"
#include "proto/config.pb.h"

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
  } else {
    return invalidArgument("no config record for service '" + std::string(service) +
                           "' (room, center, register, saver)");
  }
  auto file = ConfigFile::parse(std::string(data), "config/" + std::string(service), config.get());
  return file.isOk() ? Status::ok() : file.status();
}

}  // namespace push::tools

#include "deploy/pushctl/record_check.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <memory>

#include "common/base/config.h"
#include "proto/config.pb.h"

namespace push::tools {

Status checkAppRecord(std::string_view name, std::string_view data) {
  google::protobuf::Struct doc;
  auto parsed = google::protobuf::util::JsonStringToMessage(std::string(data), &doc);
  if (!parsed.ok()) {
    return invalidArgument("app " + std::string(name) +
                           ": not a JSON object: " + std::string(parsed.message()));
  }
  return Status::ok();
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

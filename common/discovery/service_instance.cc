#include "common/discovery/service_instance.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cmath>

#include "common/base/json_writer.h"

namespace push::discovery {

std::string encodeInstance(const ServiceInstance& instance) {
  JsonWriter w(128);
  w.beginObject();
  w.key("endpoints").beginObject();
  for (const auto& [name, address] : instance.endpoints)
    w.key(name).string(address);
  w.endObject();
  w.key("region").string(instance.region);
  w.key("weight").uint64(instance.weight);
  w.key("load").number(instance.load);
  w.endObject();
  return w.take();
}

Result<ServiceInstance> decodeInstance(std::string_view id, std::string_view data) {
  if (data.empty()) return invalidArgument("instance " + std::string(id) + ": no data");
  // protobuf's JSON parser into a Struct: a small DOM with numbers as doubles (JsonReader has
  // no floating-point reader, and `load` is one). Node data is small and read rarely.
  google::protobuf::Struct doc;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  auto parsed = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(data.data(), data.size()), &doc, options);
  if (!parsed.ok()) {
    // protobuf's message spans lines (the text with a caret under the error): keep one line.
    std::string why = parsed.ToString();
    std::replace(why.begin(), why.end(), '\n', ' ');
    return invalidArgument("instance " + std::string(id) + ": not a JSON object: " + why);
  }
  ServiceInstance out;
  out.id = std::string(id);
  const auto& fields = doc.fields();
  if (auto it = fields.find("endpoints"); it != fields.end()) {
    if (it->second.kind_case() != google::protobuf::Value::kStructValue) {
      return invalidArgument("instance " + out.id + ": endpoints is not an object");
    }
    for (const auto& [name, value] : it->second.struct_value().fields()) {
      if (value.kind_case() != google::protobuf::Value::kStringValue) {
        return invalidArgument("instance " + out.id + ": endpoint " + name + " is not a string");
      }
      out.endpoints[name] = value.string_value();
    }
  }
  if (auto it = fields.find("region"); it != fields.end()) {
    if (it->second.kind_case() != google::protobuf::Value::kStringValue) {
      return invalidArgument("instance " + out.id + ": region is not a string");
    }
    out.region = it->second.string_value();
  }
  if (auto it = fields.find("weight"); it != fields.end()) {
    double w = it->second.number_value();
    if (it->second.kind_case() != google::protobuf::Value::kNumberValue || w < 0 ||
        w > 4294967295.0 || w != std::floor(w)) {
      return invalidArgument("instance " + out.id + ": weight is not an integer in [0, 2^32)");
    }
    out.weight = static_cast<uint32_t>(w);
  }
  if (auto it = fields.find("load"); it != fields.end()) {
    if (it->second.kind_case() != google::protobuf::Value::kNumberValue ||
        !std::isfinite(it->second.number_value())) {
      return invalidArgument("instance " + out.id + ": load is not a number");
    }
    out.load = it->second.number_value();
  }
  return out;
}

}  // namespace push::discovery

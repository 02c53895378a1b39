#include "services/center/broadcast_request.h"

#include <utility>

#include "common/base/json_reader.h"
#include "common/base/tag_name.h"

namespace push::center {

namespace {

struct RawBroadcast {
  std::string app;
  std::string payload;
  std::string payload_base64;
  std::string tag;
  uint64_t qos = 1;
  uint64_t ttl = 0;
};

enum Field : uint32_t {
  kApp = 1,
  kPayload = 2,
  kPayloadBase64 = 4,
  kQos = 8,
  kTtl = 16,
  kTag = 32,
};

// Field name (both spellings of the protobuf JSON mapping) -> bit; 0 for an unknown name.
uint32_t fieldOf(const std::string& key) {
  if (key == "app") return kApp;
  if (key == "payload") return kPayload;
  if (key == "payloadBase64" || key == "payload_base64") return kPayloadBase64;
  if (key == "qos") return kQos;
  if (key == "ttl") return kTtl;
  if (key == "tag") return kTag;
  return 0;
}

Status readField(JsonReader& r, uint32_t field, RawBroadcast* out) {
  switch (field) {
    case kApp:
      return r.readString(&out->app);
    case kPayload:
      return r.readString(&out->payload);
    case kPayloadBase64:
      return r.readString(&out->payload_base64);
    case kQos:
      return r.readUint(&out->qos, UINT32_MAX);
    case kTtl:
      return r.readUint(&out->ttl, UINT32_MAX);
    case kTag:
      return r.readString(&out->tag);
  }
  return internalError("unreachable");
}

Status readRaw(std::string_view body, RawBroadcast* out) {
  JsonReader r(body);
  RETURN_IF_ERROR(r.beginObject());
  std::string key;
  uint32_t seen = 0;
  while (r.nextKey(&key)) {
    const uint32_t field = fieldOf(key);
    if (field == 0) return invalidArgument("unknown field '" + key + "' in the broadcast request");
    if (seen & field) return invalidArgument("field '" + key + "' given twice");
    seen |= field;
    if (r.isNull()) continue;
    RETURN_IF_ERROR(readField(r, field, out));
  }
  return r.finish();
}

}  // namespace

Result<ParsedBroadcast> parseBroadcastRequest(std::string_view body, uint32_t max_payload_bytes) {
  RawBroadcast raw;
  RETURN_IF_ERROR(readRaw(body, &raw));
  if (raw.app.empty()) return invalidArgument("'app' is required");
  if (!validName(raw.app)) return invalidArgument("bad 'app' (1..128 printable bytes)");
  if (raw.qos > 1) return invalidArgument("'qos' must be 0 or 1");
  if (raw.ttl > kMaxTtlS) return invalidArgument("'ttl' is at most 30 days (2592000 s)");
  if (!raw.tag.empty() && !validTag(raw.tag)) {
    return invalidArgument("bad 'tag' (1..64 bytes of A-Z a-z 0-9 _ . : -)");
  }
  ParsedBroadcast out;
  ASSIGN_OR_RETURN(out.payload,
                   decodePayload(std::move(raw.payload), raw.payload_base64, max_payload_bytes));
  out.app = std::move(raw.app);
  out.qos = static_cast<uint32_t>(raw.qos);
  out.ttl_s = static_cast<uint32_t>(raw.ttl);
  out.tag = std::move(raw.tag);
  return out;
}

bool validTag(std::string_view tag) {
  return isValidTagName(tag);
}

}  // namespace push::center

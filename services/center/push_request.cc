#include "services/center/push_request.h"

#include <set>
#include <utility>

#include "common/base/json_reader.h"

namespace push::center {

namespace {

// The fields as read, before validation.
struct RawPush {
  std::string app;
  std::string payload;
  std::string payload_base64;
  std::vector<std::string> users;
  std::vector<ParsedPush::Target> devices;
  uint64_t qos = 1;
  uint64_t ttl = 0;
};

enum Field : uint32_t {
  kApp = 1,
  kPayload = 2,
  kPayloadBase64 = 4,
  kUsers = 8,
  kDevices = 16,
  kQos = 32,
  kTtl = 64,
};

// Field name (both spellings of the protobuf JSON mapping) -> bit; 0 for an unknown name.
uint32_t fieldOf(const std::string& key) {
  if (key == "app") return kApp;
  if (key == "payload") return kPayload;
  if (key == "payloadBase64" || key == "payload_base64") return kPayloadBase64;
  if (key == "users") return kUsers;
  if (key == "devices") return kDevices;
  if (key == "qos") return kQos;
  if (key == "ttl") return kTtl;
  return 0;
}

Status readDevice(JsonReader& r, ParsedPush::Target* t) {
  RETURN_IF_ERROR(r.beginObject());
  std::string k;
  while (r.nextKey(&k)) {
    if (r.isNull()) continue;
    if (k == "user") {
      RETURN_IF_ERROR(r.readString(&t->user));
    } else if (k == "device") {
      RETURN_IF_ERROR(r.readString(&t->device));
    } else {
      return invalidArgument("devices: unknown field '" + k + "'");
    }
  }
  return r.status();
}

Status readField(JsonReader& r, uint32_t field, RawPush* out) {
  switch (field) {
    case kApp:
      return r.readString(&out->app);
    case kPayload:
      return r.readString(&out->payload);
    case kPayloadBase64:
      return r.readString(&out->payload_base64);
    case kUsers:
      RETURN_IF_ERROR(r.beginArray());
      while (r.nextElement())
        RETURN_IF_ERROR(r.readString(&out->users.emplace_back()));
      return r.status();
    case kDevices:
      RETURN_IF_ERROR(r.beginArray());
      while (r.nextElement())
        RETURN_IF_ERROR(readDevice(r, &out->devices.emplace_back()));
      return r.status();
    case kQos:
      return r.readUint(&out->qos, UINT32_MAX);
    case kTtl:
      return r.readUint(&out->ttl, UINT32_MAX);
  }
  return internalError("unreachable");
}

Status readRaw(std::string_view body, RawPush* out) {
  JsonReader r(body);
  RETURN_IF_ERROR(r.beginObject());
  std::string key;
  uint32_t seen = 0;
  while (r.nextKey(&key)) {
    const uint32_t field = fieldOf(key);
    if (field == 0) return invalidArgument("unknown field '" + key + "' in the push request");
    if (seen & field) return invalidArgument("field '" + key + "' given twice");
    seen |= field;
    if (r.isNull()) continue;
    RETURN_IF_ERROR(readField(r, field, out));
  }
  return r.finish();
}

// Distinct valid targets, users first, in request order.
Result<std::vector<ParsedPush::Target>> targetsOf(RawPush& raw, const PushLimits& limits) {
  const size_t count = raw.users.size() + raw.devices.size();
  if (count == 0) return invalidArgument("give 'users' or 'devices'");
  if (count > limits.max_targets) {
    return invalidArgument(std::to_string(count) + " targets: at most " +
                           std::to_string(limits.max_targets) + " per request");
  }
  for (const auto& u : raw.users) {
    if (!validName(u)) return invalidArgument("bad user '" + u + "' (1..128 printable bytes)");
  }
  for (const auto& d : raw.devices) {
    if (!validName(d.user) || !validName(d.device)) {
      return invalidArgument(
          "each of 'devices' needs a user and a device (1..128 printable bytes)");
    }
  }
  // Which to keep, decided on views of the raw strings (which stay put), then moved. The set
  // is needed only when there are several (a unicast request allocates nothing for it).
  std::vector<ParsedPush::Target> out;
  out.reserve(count);
  std::vector<bool> keep(count, true);
  if (count > 1) {
    std::set<std::pair<std::string_view, std::string_view>> seen;
    for (size_t i = 0; i < raw.users.size(); ++i)
      keep[i] = seen.emplace(raw.users[i], "").second;
    for (size_t i = 0; i < raw.devices.size(); ++i) {
      keep[raw.users.size() + i] = seen.emplace(raw.devices[i].user, raw.devices[i].device).second;
    }
  }
  for (size_t i = 0; i < raw.users.size(); ++i) {
    if (keep[i]) out.push_back({std::move(raw.users[i]), ""});
  }
  for (size_t i = 0; i < raw.devices.size(); ++i) {
    if (keep[raw.users.size() + i]) out.push_back(std::move(raw.devices[i]));
  }
  return out;
}

int base64Value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

Result<ParsedPush> parsePushRequest(std::string_view body, const PushLimits& limits) {
  RawPush raw;
  RETURN_IF_ERROR(readRaw(body, &raw));
  if (raw.app.empty()) return invalidArgument("'app' is required");
  if (!validName(raw.app)) return invalidArgument("bad 'app' (1..128 printable bytes)");
  if (raw.qos > 1) return invalidArgument("'qos' must be 0 or 1");
  if (raw.ttl > kMaxTtlS) return invalidArgument("'ttl' is at most 30 days (2592000 s)");
  ParsedPush out;
  ASSIGN_OR_RETURN(out.targets, targetsOf(raw, limits));
  ASSIGN_OR_RETURN(out.payload, decodePayload(std::move(raw.payload), raw.payload_base64,
                                              limits.max_payload_bytes));
  out.app = std::move(raw.app);
  out.qos = static_cast<uint32_t>(raw.qos);
  out.ttl_s = static_cast<uint32_t>(raw.ttl);
  return out;
}

Result<std::string> decodePayload(std::string text, std::string_view base64,
                                  uint32_t max_payload_bytes) {
  if (!text.empty() && !base64.empty()) {
    return invalidArgument("give 'payload' or 'payloadBase64', not both");
  }
  const std::string size_error =
      "payload over " + std::to_string(max_payload_bytes) + " bytes (max_payload_bytes)";
  if (!base64.empty()) {
    // Checked before decoding: 4 characters make at most 3 bytes.
    if (base64.size() / 4 * 3 > max_payload_bytes + 2u) return invalidArgument(size_error);
    std::string bytes;
    if (!decodeBase64(base64, &bytes)) {
      return invalidArgument("'payloadBase64' is not valid base64");
    }
    if (bytes.size() > max_payload_bytes) return invalidArgument(size_error);
    return bytes;
  }
  if (text.size() > max_payload_bytes) return invalidArgument(size_error);
  if (!isValidUtf8(text)) {
    return invalidArgument("'payload' is not valid UTF-8 (send bytes as 'payloadBase64')");
  }
  return text;
}

bool validName(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return isValidUtf8(s);
}

bool decodeBase64(std::string_view in, std::string* out) {
  if (in.size() % 4 != 0) return false;
  size_t pad = 0;
  if (!in.empty() && in.back() == '=') ++pad;
  if (in.size() > 1 && in[in.size() - 2] == '=') ++pad;
  out->clear();
  out->reserve(in.size() / 4 * 3);
  for (size_t i = 0; i < in.size(); i += 4) {
    const bool last = i + 4 == in.size();
    const size_t chars = last ? 4 - pad : 4;  // significant characters of this quantum
    uint32_t v = 0;
    for (size_t j = 0; j < 4; ++j) {
      int d = 0;
      if (j < chars) {
        d = base64Value(static_cast<unsigned char>(in[i + j]));
        if (d < 0) return false;  // includes '=' before the end
      }
      v = (v << 6) | static_cast<uint32_t>(d);
    }
    out->push_back(static_cast<char>(v >> 16));
    if (chars > 2) out->push_back(static_cast<char>((v >> 8) & 0xff));
    if (chars > 3) out->push_back(static_cast<char>(v & 0xff));
  }
  return true;
}

}  // namespace push::center

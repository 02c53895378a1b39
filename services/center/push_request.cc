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

// One push object at the reader's position.
Status readObject(JsonReader& r, RawPush* out) {
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
  return r.status();
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

// The rules of one push, app aside.
Result<ParsedPush> validate(RawPush& raw, const PushLimits& limits) {
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

Status checkApp(const std::string& app) {
  if (app.empty()) return invalidArgument("'app' is required");
  if (!validName(app)) return invalidArgument("bad 'app' (1..128 printable bytes)");
  return Status::ok();
}

}  // namespace

Result<ParsedPush> parsePushRequest(std::string_view body, const PushLimits& limits) {
  RawPush raw;
  JsonReader r(body);
  RETURN_IF_ERROR(readObject(r, &raw));
  RETURN_IF_ERROR(r.finish());
  RETURN_IF_ERROR(checkApp(raw.app));
  return validate(raw, limits);
}

Result<ParsedPushBatch> parsePushBatchRequest(std::string_view body, const PushLimits& limits) {
  JsonReader r(body);
  RETURN_IF_ERROR(r.beginObject());
  ParsedPushBatch out;
  std::vector<RawPush> raws;
  bool seen_app = false, seen_pushes = false;
  size_t targets = 0;
  std::string key;
  while (r.nextKey(&key)) {
    if (key == "app") {
      if (seen_app) return invalidArgument("field 'app' given twice");
      seen_app = true;
      if (!r.isNull()) RETURN_IF_ERROR(r.readString(&out.app));
    } else if (key == "pushes") {
      if (seen_pushes) return invalidArgument("field 'pushes' given twice");
      seen_pushes = true;
      if (r.isNull()) continue;
      RETURN_IF_ERROR(r.beginArray());
      while (r.nextElement()) {
        const std::string at = "pushes[" + std::to_string(raws.size()) + "]: ";
        if (raws.size() == limits.max_batch_pushes) {
          return invalidArgument("more than " + std::to_string(limits.max_batch_pushes) +
                                 " pushes in one batch (max_batch_pushes)");
        }
        RawPush& raw = raws.emplace_back();
        if (Status st = readObject(r, &raw); !st.isOk()) {
          return invalidArgument(at + st.message());
        }
        // Early, before the rest is read: a hostile batch of huge target lists stops here.
        targets += raw.users.size() + raw.devices.size();
        if (targets > limits.max_targets) {
          return invalidArgument("more than " + std::to_string(limits.max_targets) +
                                 " targets in the batch's pushes together (max_targets)");
        }
      }
      RETURN_IF_ERROR(r.status());
    } else {
      return invalidArgument("unknown field '" + key + "' in the batch request (app, pushes)");
    }
  }
  RETURN_IF_ERROR(r.finish());
  RETURN_IF_ERROR(checkApp(out.app));
  if (raws.empty())
    return invalidArgument("give 'pushes': 1.." + std::to_string(limits.max_batch_pushes) +
                           " pushes");
  out.pushes.reserve(raws.size());
  for (size_t i = 0; i < raws.size(); ++i) {
    const std::string at = "pushes[" + std::to_string(i) + "]: ";
    if (!raws[i].app.empty() && raws[i].app != out.app) {
      return invalidArgument(at + "'app' differs from the batch's");
    }
    raws[i].app = out.app;
    Result<ParsedPush> push = validate(raws[i], limits);
    if (!push.isOk()) return invalidArgument(at + push.status().message());
    out.pushes.push_back(std::move(push).value());
  }
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

#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/base/result.h"
#include "services/center/push_request.h"

namespace push::center {

// A POST /v1/broadcast body that passed every rule of parseBroadcastRequest().
struct ParsedBroadcast {
  std::string app;
  // "payload" as given (UTF-8 text), or "payloadBase64" decoded.
  std::string payload;
  // 0: fire and forget; 1: clients ack. Default: 1.
  uint32_t qos = 1;
  // Seconds until rooms drop it undelivered; 0 (default): never. At most kMaxTtlS.
  uint32_t ttl_s = 0;
  // Empty: every connection of the app; else only connections subscribed to this tag.
  std::string tag;
};

// The body of POST /v1/broadcast (JSON):
//   {"app": "demo", "payload": "text" | "payloadBase64": "...", "qos": 0|1, "ttl": s, "tag": "t"}
// -> a validated request, or INVALID_ARGUMENT whose message is the 400 answer. The rules are
// parsePushRequest's where the fields are the same (an object, unknown or repeated fields
// refused, null = absent, "app" required and a valid name, payload rules and limit via
// decodePayload, "qos" 0 or 1, "ttl" 0..kMaxTtlS), plus "tag": absent/empty or validTag().
// Thread-safe (no state).
Result<ParsedBroadcast> parseBroadcastRequest(std::string_view body, uint32_t max_payload_bytes);

// A tag name: 1..64 bytes of [A-Za-z0-9_.:-] (tags are index keys in rooms and travel in log
// lines; nothing there needs escaping).
bool validTag(std::string_view tag);

}  // namespace push::center

#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"

namespace push::center {

// Longest "ttl" of a push or a broadcast: 30 days, in seconds.
inline constexpr uint32_t kMaxTtlS = 30 * 86400;

// Limits of one POST /v1/push (CenterOptions::push).
struct PushLimits {
  // Users + devices in one request. Default: 10000.
  uint32_t max_targets = 10'000;
  // Payload bytes (after base64 decoding). Default: 4096.
  uint32_t max_payload_bytes = 4096;
  // Pushes in one POST /v1/push/batch (their targets together at most max_targets).
  // Default: 1000.
  uint32_t max_batch_pushes = 1000;
};

// A POST /v1/push body that passed every rule of parsePushRequest(). (proto/center.proto's
// PushRequest documents the JSON; this is what center acts on.)
struct ParsedPush {
  // One target: every device of `user` (device empty), or that one device.
  struct Target {
    std::string user;
    std::string device;
  };
  std::string app;
  // The bytes to deliver: "payload" as given (UTF-8 text), or "payloadBase64" decoded.
  std::string payload;
  // 0: fire and forget; 1: at least once (clients ack). Default: 1.
  uint32_t qos = 1;
  // Seconds the message may wait for an offline user; 0: the default. At most 30 days.
  uint32_t ttl_s = 0;
  // Distinct targets in request order: "users" first, then "devices". A repeated user or
  // (user, device) pair is dropped; a user and one of its devices are both kept.
  std::vector<Target> targets;
};

// The body of POST /v1/push (JSON, protobuf JSON field names: lowerCamelCase or as in
// proto/center.proto's PushRequest) -> a validated request, or INVALID_ARGUMENT whose message
// is the 400 answer. Rules:
//   - a JSON object; unknown fields and fields given twice are refused; null means absent;
//   - "app" is required; the caller checks that it is the app of the API key;
//   - "users" (array of names) and/or "devices" (array of {"user","device"}, both required),
//     1..limits.max_targets in all; every name 1..128 bytes of valid UTF-8, no control
//     characters;
//   - "payload" (text, valid UTF-8) or "payloadBase64" (standard alphabet with padding),
//     not both; at most limits.max_payload_bytes after decoding;
//   - "qos" 0 or 1; "ttl" 0..2592000 (30 days).
// Hand-written on JsonReader: protobuf's JSON mapping cost ~40k instructions per request (the
// API's hot path). Thread-safe (no state).
Result<ParsedPush> parsePushRequest(std::string_view body, const PushLimits& limits);

// A POST /v1/push/batch body that passed every rule of parsePushBatchRequest().
struct ParsedPushBatch {
  std::string app;
  std::vector<ParsedPush> pushes;  // in request order; each with `app` set
};

// The body of POST /v1/push/batch: {"app": A, "pushes": [<push>, ...]} where each push is a
// POST /v1/push body (every rule above) whose "app" may be left out (or must be A);
// 1..limits.max_batch_pushes pushes whose targets together are at most limits.max_targets.
// INVALID_ARGUMENT naming the push ("pushes[3]: bad user ...") otherwise: a batch is checked
// whole before anything of it is sent.
Result<ParsedPushBatch> parsePushBatchRequest(std::string_view body, const PushLimits& limits);

// The message bytes of a request: `text` ("payload", must be valid UTF-8) or `base64`
// ("payloadBase64", decoded), not both; at most `max_payload_bytes` after decoding.
// INVALID_ARGUMENT with the 400 answer otherwise. Shared by /v1/push and /v1/broadcast so both
// answer the same.
Result<std::string> decodePayload(std::string text, std::string_view base64,
                                  uint32_t max_payload_bytes);

// A user, device or app name: 1..128 bytes, valid UTF-8, no ASCII control characters (names
// travel in protobuf `string` fields and in log lines).
bool validName(std::string_view s);

// Standard base64 (RFC 4648 section 4, '=' padding, length a multiple of 4) -> bytes; false on
// any other character, misplaced padding or a bad length.
bool decodeBase64(std::string_view in, std::string* out);

}  // namespace push::center

#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"
#include "services/center/push_request.h"

namespace push::center {

// The queued topic and channel of job chunks (proto/center_task.proto): every center consumes
// channel `workers`, so the chunks are spread over all of them (NSQ's work-queue pattern).
inline constexpr std::string_view kJobTopic = "center.tasks";
inline constexpr std::string_view kJobChannel = "workers";

// A multicast job as accepted, before it is cut into chunks.
struct JobSpec {
  std::string app;
  // The bytes the client's callback gets.
  std::string payload;
  uint32_t qos = 1;
  uint32_t ttl_s = 0;
  // Distinct users, in request order (a repeated id is dropped).
  std::vector<std::string> users;
};

struct JobLimits {
  // Users in one job. Default: 1000000.
  uint32_t max_targets = 1'000'000;
  // Payload bytes (after base64 decoding). Default: 4096.
  uint32_t max_payload_bytes = 4096;
};

// The body of POST /v1/push/job (Content-Type text/plain):
//
//   {"app":"demo","payload":"hello","qos":1,"ttl":60}     <- line 1: the message, JSON
//   alice                                                <- then one user id per line
//   bob
//
// Line 1 is a JSON object with /v1/push's message fields only: "app" (required), "payload"
// (UTF-8 text) or "payloadBase64", "qos" (0 or 1, default 1), "ttl" (0..2592000 s); unknown or
// repeated fields are refused. Each further line is one user id, 1..128 bytes of valid UTF-8
// without control characters, taken as is (no trimming); lines end with "\n" or "\r\n"; the
// body may end with one line end. An empty line anywhere else, an over-long or malformed id,
// no ids, or more than limits.max_targets distinct ids are refused with INVALID_ARGUMENT whose
// message (naming the line) is the 400 answer. Repeated ids are dropped (the first is kept).
// Thread-safe (no state).
Result<JobSpec> parseJobUpload(std::string_view body, const JobLimits& limits);

// A POST /v1/push request with more targets than one request holds, as a job: its "users"
// (a job takes no "devices": INVALID_ARGUMENT naming the rule) and message fields.
Result<JobSpec> jobFromPush(ParsedPush&& push);

// The job's chunks: serialized push.center_task.CenterTask messages of at most `chunk_targets`
// users each (the last may hold fewer), in order, chunk i of n, each carrying the job id, the
// one message id, app, payload, qos, ttl, created and expiry times. `chunk_targets` >= 1.
std::vector<std::string> splitJob(const JobSpec& spec, const std::string& job_id,
                                  uint64_t message_id, uint64_t created_ms, uint32_t chunk_targets);

// Consecutive groups of `bodies` for MPUB: each group holds at most `max_count` bodies and
// at most `max_bytes` of them (a body over it alone gets a group of its own), none empty.
std::vector<std::vector<std::string>> mpubBatches(std::vector<std::string> bodies, size_t max_bytes,
                                                  size_t max_count);

}  // namespace push::center

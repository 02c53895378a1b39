#include "services/center/job_request.h"

#include <unordered_set>
#include <utility>

#include "common/base/json_reader.h"
#include "proto/center_task.pb.h"

namespace push::center {

namespace {

// Line 1 of an upload: the message fields of /v1/push.
Status readHeader(std::string_view line, JobSpec* out, std::string* payload,
                  std::string* payload_base64, uint64_t* qos, uint64_t* ttl) {
  JsonReader r(line);
  RETURN_IF_ERROR(r.beginObject());
  std::string key;
  uint32_t seen = 0;
  while (r.nextKey(&key)) {
    uint32_t bit = 0;
    if (key == "app")
      bit = 1;
    else if (key == "payload")
      bit = 2;
    else if (key == "payloadBase64" || key == "payload_base64")
      bit = 4;
    else if (key == "qos")
      bit = 8;
    else if (key == "ttl")
      bit = 16;
    else
      return invalidArgument("line 1: unknown field '" + key + "' (the ids go on the next lines)");
    if (seen & bit) return invalidArgument("line 1: field '" + key + "' given twice");
    seen |= bit;
    if (r.isNull()) continue;
    switch (bit) {
      case 1:
        RETURN_IF_ERROR(r.readString(&out->app));
        break;
      case 2:
        RETURN_IF_ERROR(r.readString(payload));
        break;
      case 4:
        RETURN_IF_ERROR(r.readString(payload_base64));
        break;
      case 8:
        RETURN_IF_ERROR(r.readUint(qos, UINT32_MAX));
        break;
      case 16:
        RETURN_IF_ERROR(r.readUint(ttl, UINT32_MAX));
        break;
    }
  }
  return r.finish();
}

Status checkMessage(JobSpec* spec, uint64_t qos, uint64_t ttl) {
  if (spec->app.empty()) return invalidArgument("'app' is required");
  if (!validName(spec->app)) return invalidArgument("bad 'app' (1..128 printable bytes)");
  if (qos > 1) return invalidArgument("'qos' must be 0 or 1");
  if (ttl > kMaxTtlS) return invalidArgument("'ttl' is at most 30 days (2592000 s)");
  spec->qos = static_cast<uint32_t>(qos);
  spec->ttl_s = static_cast<uint32_t>(ttl);
  return Status::ok();
}

}  // namespace

Result<JobSpec> parseJobUpload(std::string_view body, const JobLimits& limits) {
  const size_t first_end = body.find('\n');
  if (first_end == std::string_view::npos) {
    return invalidArgument(
        "the body is line 1 (the message as JSON) and then one user id per line");
  }
  std::string_view header = body.substr(0, first_end);
  if (!header.empty() && header.back() == '\r') header.remove_suffix(1);
  JobSpec spec;
  std::string text, base64;
  uint64_t qos = 1, ttl = 0;
  if (Status st = readHeader(header, &spec, &text, &base64, &qos, &ttl); !st.isOk()) {
    return invalidArgument("line 1: " + st.message());
  }
  RETURN_IF_ERROR(checkMessage(&spec, qos, ttl));
  ASSIGN_OR_RETURN(spec.payload, decodePayload(std::move(text), base64, limits.max_payload_bytes));

  // The ids, checked and de-duplicated on views of the body, then copied once.
  std::vector<std::string_view> ids;
  std::unordered_set<std::string_view> seen;
  size_t line_no = 1;
  size_t pos = first_end + 1;
  while (pos < body.size()) {
    ++line_no;
    size_t end = body.find('\n', pos);
    const bool last = end == std::string_view::npos;
    if (last) end = body.size();
    std::string_view id = body.substr(pos, end - pos);
    pos = end + 1;
    if (!id.empty() && id.back() == '\r') id.remove_suffix(1);
    if (id.empty()) {
      return invalidArgument("line " + std::to_string(line_no) +
                             " is empty (one user id per line, no blank lines)");
    }
    if (!validName(id)) {
      return invalidArgument("line " + std::to_string(line_no) +
                             ": bad user id (1..128 bytes of UTF-8, no control characters)");
    }
    if (!seen.insert(id).second) continue;
    if (ids.size() == limits.max_targets) {
      return invalidArgument("more than " + std::to_string(limits.max_targets) +
                             " users (job_max_targets)");
    }
    ids.push_back(id);
  }
  if (ids.empty()) return invalidArgument("no user ids after line 1");
  spec.users.reserve(ids.size());
  for (std::string_view id : ids)
    spec.users.emplace_back(id);
  return spec;
}

Result<JobSpec> jobFromPush(ParsedPush&& push) {
  JobSpec spec;
  spec.users.reserve(push.targets.size());
  for (auto& t : push.targets) {
    if (!t.device.empty()) {
      return invalidArgument(
          "a push to more users than one request holds becomes a job, and a job takes 'users' "
          "only (no 'devices')");
    }
    spec.users.push_back(std::move(t.user));
  }
  spec.app = std::move(push.app);
  spec.payload = std::move(push.payload);
  spec.qos = push.qos;
  spec.ttl_s = push.ttl_s;
  return spec;
}

std::vector<std::string> splitJob(const JobSpec& spec, const std::string& job_id,
                                  uint64_t message_id, uint64_t created_ms,
                                  uint32_t chunk_targets) {
  const size_t per = std::max<uint32_t>(1, chunk_targets);
  const size_t chunks = (spec.users.size() + per - 1) / per;
  std::vector<std::string> out;
  out.reserve(chunks);
  center_task::CenterTask task;
  task.set_job_id(job_id);
  task.set_chunks(static_cast<uint32_t>(chunks));
  task.set_message_id(message_id);
  task.set_app(spec.app);
  task.set_payload(spec.payload);
  task.set_qos(spec.qos);
  task.set_created_ms(created_ms);
  task.set_ttl_s(spec.ttl_s);
  if (spec.ttl_s) task.set_expires_ms(created_ms + uint64_t{spec.ttl_s} * 1000);
  for (size_t c = 0; c < chunks; ++c) {
    task.set_chunk(static_cast<uint32_t>(c));
    task.clear_users();
    const size_t end = std::min(spec.users.size(), (c + 1) * per);
    for (size_t i = c * per; i < end; ++i)
      task.add_users(spec.users[i]);
    out.push_back(task.SerializeAsString());
  }
  return out;
}

std::vector<std::vector<std::string>> mpubBatches(std::vector<std::string> bodies, size_t max_bytes,
                                                  size_t max_count) {
  std::vector<std::vector<std::string>> out;
  size_t bytes = 0;
  for (auto& b : bodies) {
    if (out.empty() || out.back().size() >= max_count || bytes + b.size() > max_bytes) {
      out.emplace_back();
      bytes = 0;
    }
    bytes += b.size();
    out.back().push_back(std::move(b));
  }
  return out;
}

}  // namespace push::center

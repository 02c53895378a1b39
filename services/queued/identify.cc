#include "services/queued/identify.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <utility>

#include "common/base/json_reader.h"
#include "common/base/json_writer.h"

namespace push::queued {

namespace {

constexpr int64_t kDefaultHeartbeatMs = 30000;
constexpr int64_t kDefaultOutputBufferSize = 16384;
constexpr std::string_view kVersion = "1.3.0";

std::string lower(std::string text) {
  for (char& c : text)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

Status invalid(std::string text) {
  return Status(Code::INVALID_ARGUMENT, std::move(text));
}

}  // namespace

Status parseIdentify(std::string_view body, IdentifyRequest* request) {
  JsonReader reader(body);
  if (reader.isNull()) return reader.finish();
  RETURN_IF_ERROR(reader.beginObject());
  std::string key;
  constexpr int64_t kMin = INT64_MIN, kMax = INT64_MAX;
  while (reader.nextKey(&key)) {
    key = lower(std::move(key));  // Go's decoder matches keys case-insensitively
    if (key == "client_id") {
      RETURN_IF_ERROR(reader.readString(&request->client_id));
      request->has_client_id = true;
    } else if (key == "hostname") {
      RETURN_IF_ERROR(reader.readString(&request->hostname));
      request->has_hostname = true;
    } else if (key == "user_agent") {
      RETURN_IF_ERROR(reader.readString(&request->user_agent));
      request->has_user_agent = true;
    } else if (key == "heartbeat_interval") {
      RETURN_IF_ERROR(reader.readInt(&request->heartbeat_interval, kMin, kMax));
    } else if (key == "output_buffer_size") {
      RETURN_IF_ERROR(reader.readInt(&request->output_buffer_size, kMin, kMax));
    } else if (key == "output_buffer_timeout") {
      RETURN_IF_ERROR(reader.readInt(&request->output_buffer_timeout, kMin, kMax));
    } else if (key == "sample_rate") {
      RETURN_IF_ERROR(reader.readInt(&request->sample_rate, INT32_MIN, INT32_MAX));
    } else if (key == "msg_timeout") {
      RETURN_IF_ERROR(reader.readInt(&request->msg_timeout, kMin, kMax));
    } else if (key == "deflate_level") {
      RETURN_IF_ERROR(reader.readInt(&request->deflate_level, kMin, kMax));
    } else if (key == "feature_negotiation") {
      RETURN_IF_ERROR(reader.readBool(&request->feature_negotiation));
    } else if (key == "tls_v1") {
      RETURN_IF_ERROR(reader.readBool(&request->tls_v1));
    } else if (key == "deflate") {
      RETURN_IF_ERROR(reader.readBool(&request->deflate));
    } else if (key == "snappy") {
      RETURN_IF_ERROR(reader.readBool(&request->snappy));
    } else {
      RETURN_IF_ERROR(reader.skipValue());
    }
  }
  RETURN_IF_ERROR(reader.status());
  return reader.finish();
}

Result<IdentifySettings> negotiateIdentify(const IdentifyRequest& request,
                                           const QueuedOptions& options, bool tls_available,
                                           bool upgraded) {
  int64_t heartbeat = request.heartbeat_interval;
  if (heartbeat == -1) {
    heartbeat = -1;
  } else if (heartbeat == 0) {
    heartbeat = kDefaultHeartbeatMs;
  } else if (heartbeat < 1000 || heartbeat > options.max_heartbeat_interval_ms) {
    return invalid("E_BAD_BODY IDENTIFY heartbeat interval (" + std::to_string(heartbeat) +
                   ") is invalid");
  }
  int64_t buffer_timeout = request.output_buffer_timeout;
  if (buffer_timeout == -1) {
    buffer_timeout = 0;
  } else if (buffer_timeout == 0) {
    buffer_timeout = options.output_buffer_timeout_ms;
  } else if (buffer_timeout < options.min_output_buffer_timeout_ms ||
             buffer_timeout > options.max_output_buffer_timeout_ms) {
    return invalid("E_BAD_BODY IDENTIFY output buffer timeout (" + std::to_string(buffer_timeout) +
                   ") is invalid");
  }
  int64_t buffer_size = request.output_buffer_size;
  if (buffer_size == -1) {
    buffer_size = 1;
    buffer_timeout = 0;
  } else if (buffer_size == 0) {
    buffer_size = kDefaultOutputBufferSize;
  } else if (buffer_size < 64 || buffer_size > options.max_output_buffer_size) {
    return invalid("E_BAD_BODY IDENTIFY output buffer size (" + std::to_string(buffer_size) +
                   ") is invalid");
  }
  if (request.sample_rate < 0 || request.sample_rate > 99) {
    return invalid("E_BAD_BODY IDENTIFY sample rate (" + std::to_string(request.sample_rate) +
                   ") is invalid");
  }
  int64_t msg_timeout = request.msg_timeout;
  if (msg_timeout == 0) {
    msg_timeout = options.queue.msg_timeout_ms;
  } else if (msg_timeout < 1000 || msg_timeout > options.queue.max_msg_timeout_ms) {
    return invalid("E_BAD_BODY IDENTIFY msg timeout (" + std::to_string(msg_timeout) +
                   ") is invalid");
  }
  // A second IDENTIFY after an upgrade negotiates nothing new.
  const bool tls = request.feature_negotiation && request.tls_v1 && tls_available && !upgraded;
  const bool deflate =
      request.feature_negotiation && request.deflate && options.deflate && !upgraded;
  const bool snappy = request.feature_negotiation && request.snappy && options.snappy && !upgraded;
  if (deflate && snappy) {
    return invalid("E_IDENTIFY_FAILED cannot enable both deflate and snappy compression");
  }
  int64_t deflate_level = request.deflate_level <= 0 ? 6 : request.deflate_level;
  deflate_level = std::min<int64_t>(deflate_level, options.max_deflate_level);

  IdentifySettings settings;
  settings.heartbeat_interval_ms = heartbeat;
  settings.output_buffer_timeout_ms = buffer_timeout;
  settings.output_buffer_size = buffer_size;
  settings.sample_rate = request.sample_rate;
  settings.msg_timeout_ms = msg_timeout;
  settings.tls = tls;
  settings.deflate = deflate;
  settings.snappy = snappy;
  settings.deflate_level = deflate_level;
  return settings;
}

std::string identifyAnswer(const IdentifySettings& settings, const QueuedOptions& options) {
  JsonWriter json(320);
  json.beginObject()
      .key("max_rdy_count")
      .int64(options.max_rdy_count)
      .key("version")
      .string(kVersion)
      .key("max_msg_timeout")
      .int64(options.queue.max_msg_timeout_ms)
      .key("msg_timeout")
      .int64(settings.msg_timeout_ms)
      .key("tls_v1")
      .boolean(settings.tls)
      .key("deflate")
      .boolean(settings.deflate)
      .key("deflate_level")
      .int64(settings.deflate_level)
      .key("max_deflate_level")
      .int64(options.max_deflate_level)
      .key("snappy")
      .boolean(settings.snappy)
      .key("sample_rate")
      .int64(settings.sample_rate)
      .key("auth_required")
      .boolean(!options.auth_http_addresses.empty())
      .key("output_buffer_size")
      .int64(settings.output_buffer_size)
      .key("output_buffer_timeout")
      .int64(settings.output_buffer_timeout_ms)
      .endObject();
  return json.str();
}

}  // namespace push::queued

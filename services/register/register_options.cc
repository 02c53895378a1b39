#include "services/register/register_options.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "proto/config.pb.h"

namespace push::reg {

namespace {

namespace pb = google::protobuf;

// The range of every integer field of RegisterConfig, by dotted path (proto/config.proto states
// them too). 0 always passes: proto3's "not set", the default applies. Fields of the shared
// RpcServerConfig and HttpServerConfig are checked here as well, so an error names the line of
// register.conf. A path this build's proto does not have is skipped (the table may name a
// field of a shared message before it lands); register_options_test sets every integer field
// the proto does have out of range and expects it refused, so none goes unchecked.
struct FieldRange {
  std::string_view path;
  int64_t min;
  int64_t max;
};
constexpr FieldRange kRanges[] = {
    {"rpc.listen.backlog", 1, 65535},
    {"rpc.max_frame_bytes", 1024, 256 << 20},
    {"rpc.max_concurrency", 1, 1'000'000},
    {"rpc.limits.high_watermark_bytes", 1, 1 << 30},
    {"rpc.limits.low_watermark_bytes", 1, 1 << 30},
    {"rpc.limits.hard_limit_bytes", 1, 1 << 30},
    {"rpc.max_response_bytes", 4096, 256 << 20},
    {"rpc.idle_timeout_ms", 0, 86'400'000},
    {"rpc.handshake_timeout_ms", 1, 600'000},
    {"admin.listen.backlog", 1, 65535},
    {"admin.max_header_bytes", 1024, 1 << 20},
    {"admin.max_body_bytes", 1, 64 << 20},
    {"admin.idle_timeout_s", 1, 86'400},
    {"admin.max_pipelined", 1, 1024},
    {"admin.close_linger_timeout_ms", 1, 600'000},
    {"admin.max_connections", 1, 1'000'000},
    {"admin.max_connections_per_ip", 1, 1'000'000},
    {"room_timeout_ms", 100, 3'600'000},
    {"max_sessions_per_user", 1, 10'000},
    {"pull_page_sessions", 1, 10'000},
    {"shutdown_grace_ms", 1, 60'000},
};

// The value of the integer field at `path` in `message`; nullopt when there is no such
// singular integer field. A uint64 above INT64_MAX reads as INT64_MAX (out of every range).
std::optional<int64_t> integerAt(const pb::Message& message, std::string_view path) {
  const pb::Message* msg = &message;
  while (true) {
    const size_t dot = path.find('.');
    const std::string name(path.substr(0, dot));
    const pb::FieldDescriptor* field = msg->GetDescriptor()->FindFieldByName(name);
    if (!field || field->is_repeated()) return std::nullopt;
    const pb::Reflection* reflection = msg->GetReflection();
    if (dot != std::string_view::npos) {
      if (field->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE) return std::nullopt;
      msg = &reflection->GetMessage(*msg, field);
      path.remove_prefix(dot + 1);
      continue;
    }
    switch (field->cpp_type()) {
      case pb::FieldDescriptor::CPPTYPE_INT32:
        return reflection->GetInt32(*msg, field);
      case pb::FieldDescriptor::CPPTYPE_UINT32:
        return reflection->GetUInt32(*msg, field);
      case pb::FieldDescriptor::CPPTYPE_INT64:
        return reflection->GetInt64(*msg, field);
      case pb::FieldDescriptor::CPPTYPE_UINT64:
        return static_cast<int64_t>(
            std::min<uint64_t>(reflection->GetUInt64(*msg, field), INT64_MAX));
      default:
        return std::nullopt;
    }
  }
}

}  // namespace

Result<RegisterOptions> RegisterOptions::fromConfig(const config::RegisterConfig& c,
                                                    const ConfigFile* file) {
  for (const FieldRange& r : kRanges) {
    if (auto value = integerAt(c, r.path)) {
      RETURN_IF_ERROR(checkFieldRange(file, r.path, *value, r.min, r.max));
    }
  }
  RegisterOptions o;
  if (!c.slots().empty()) {
    auto slots = SlotSet::parse(c.slots());
    if (!slots.isOk()) {
      return file ? file->fieldError("slots", slots.status().message())
                  : invalidArgument("slots: " + slots.status().message());
    }
    o.service.slots = std::move(*slots);
  }
  if (c.room_timeout_ms()) o.service.room_timeout = std::chrono::milliseconds(c.room_timeout_ms());
  if (c.max_sessions_per_user()) o.service.max_sessions_per_user = c.max_sessions_per_user();
  if (c.pull_page_sessions()) o.service.pull_page = c.pull_page_sessions();
  if (c.shutdown_grace_ms()) o.shutdown_grace = std::chrono::milliseconds(c.shutdown_grace_ms());

  auto rpc = rpc::Server::Options::fromConfig(c.rpc());
  if (!rpc.isOk()) return rpc.status().withContext(file ? file->name() : "config");
  o.rpc = std::move(*rpc);
  if (c.rpc().listen().address().empty()) o.rpc.address = "127.0.0.1:7200";

  if (!c.admin().listen().address().empty()) {
    o.admin = http::HttpServer::Options::fromConfig(c.admin());
  }
  return o;
}

}  // namespace push::reg

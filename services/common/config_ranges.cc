#include "services/common/config_ranges.h"

#include <string>

namespace push::service {

namespace {

const FieldRange kListen[] = {
    {"listen.backlog", 1, 65535},
};
const FieldRange kLimits[] = {
    {"limits.high_watermark_bytes", 1, 1 << 30},
    {"limits.low_watermark_bytes", 1, 1 << 30},
    {"limits.hard_limit_bytes", 1, 1 << 30},
};

}  // namespace

std::vector<FieldRange> rpcServerRanges(std::string_view prefix) {
  static const FieldRange kRanges[] = {
      {"max_frame_bytes", 1024, 256 << 20},    {"max_concurrency", 1, 1'000'000},
      {"max_response_bytes", 4096, 256 << 20}, {"idle_timeout_ms", 0, 86'400'000},
      {"handshake_timeout_ms", 1, 600'000},
  };
  return joinRanges(
      {withPrefix(prefix, kListen), withPrefix(prefix, kLimits), withPrefix(prefix, kRanges)});
}

std::vector<FieldRange> rpcChannelRanges(std::string_view prefix) {
  static const FieldRange kRanges[] = {
      {"connections_per_endpoint", 1, 64},  {"timeout_ms", 1, 3'600'000},
      {"connect_timeout_ms", 1, 600'000},   {"max_inflight", 1, 10'000'000},
      {"reconnect_min_ms", 1, 600'000},     {"reconnect_max_ms", 1, 3'600'000},
      {"max_frame_bytes", 1024, 256 << 20}, {"max_request_bytes", 1024, 256 << 20},
  };
  return withPrefix(prefix, kRanges);
}

std::vector<FieldRange> coordinatorClientRanges(std::string_view prefix) {
  static const FieldRange kRanges[] = {
      {"timeout_ms", 10, 600'000},      {"batch_max", 1, 10'000},
      {"batch_interval_ms", 1, 10'000}, {"max_pending_per_connection", 1, 65'536},
      {"max_pending", 1, 10'000'000},   {"event_backlog_max", 1, 10'000'000},
  };
  return joinRanges(
      {withPrefix(prefix, kRanges), rpcChannelRanges(std::string(prefix) + ".channel")});
}

std::vector<FieldRange> registerClientRanges(std::string_view prefix) {
  static const FieldRange kRanges[] = {{"session_timeout_ms", 100, 60'000}};
  return joinRanges(
      {withPrefix(prefix, kRanges), rpcChannelRanges(std::string(prefix) + ".channel")});
}

std::vector<FieldRange> httpServerRanges(std::string_view prefix) {
  static const FieldRange kRanges[] = {
      {"max_header_bytes", 1024, 1 << 20},
      {"max_body_bytes", 1, 64 << 20},
      {"idle_timeout_s", 1, 86'400},
      {"max_pipelined", 1, 1024},
      {"close_linger_timeout_ms", 1, 600'000},
      {"max_connections", 1, 1'000'000},
      {"max_connections_per_ip", 1, 1'000'000},
  };
  return joinRanges({withPrefix(prefix, kListen), withPrefix(prefix, kRanges)});
}

std::vector<FieldRange> discoveryRanges(std::string_view prefix) {
  static const FieldRange kRanges[] = {
      {"weight", 1, 1000},
      {"session_timeout_ms", 200, 60'000},
      {"refresh_ms", 100, 600'000},
      {"capacity", 1, 100'000'000},
  };
  return withPrefix(prefix, kRanges);
}

std::vector<FieldRange> joinRanges(std::initializer_list<std::vector<FieldRange>> parts) {
  std::vector<FieldRange> out;
  for (const auto& part : parts)
    out.insert(out.end(), part.begin(), part.end());
  return out;
}

}  // namespace push::service

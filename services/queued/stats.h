#pragma once

#include <cstdint>
#include <string>

namespace push::queue {
class QueueEngine;
}

namespace push::queued {

class ProtocolV2;

// /stats as nsqd v1.3.0 writes it: the same JSON keys in the same order (format=json) and the
// same text layout, so dashboards and scripts built on nsqd read queued unchanged. Values
// nsqd takes from Go's runtime (the "memory" object) are filled from this process's
// allocator where they have a meaning and 0 where they do not (no garbage collector).
struct StatsQuery {
  std::string topic;    // exact match, empty: all
  std::string channel;  // exact match, empty: all
  bool include_clients = true;
  bool include_mem = true;
};

struct StatsContext {
  const queue::QueueEngine& engine;
  const ProtocolV2& protocol;
  int64_t start_time_s;  // wall clock
  int64_t uptime_ms;
};

std::string renderStatsJson(const StatsContext& context, const StatsQuery& query);
std::string renderStatsText(const StatsContext& context, const StatsQuery& query);

}  // namespace push::queued

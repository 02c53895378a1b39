#pragma once

// Per-component spdlog loggers (docs/CONVENTIONS.md §11). Use the macros: they test the level
// before formatting, so a disabled debug line costs one branch.
//
//   LOG_INFO(Net, "listening on {}", addr);
//   LOG_EVERY_SEC(Warn, Net, 1, "accept failed: {}", err);   // at most once a second per site
//   LOG_CONN(Debug, Rpc, conn.id(), "bad frame: {}", why);   // prefixed "[C<id>] "

#include <atomic>
#include <cstdint>
#include <string_view>

#include <spdlog/logger.h>

#include "common/base/status.h"

namespace push::config {
class LogConfig;
}

namespace push::log {

enum class Component : uint8_t {
  Base,
  Net,
  Http,
  Rpc,
  Redis,
  Mysql,
  Zk,
  Queue,
  Room,
  Register,
  Center,
  Coordinator,
  Saver,
  Dispatcher,
  Agent,
  Sdk,
  App,
  kCount,
};

// The logger of a component. Valid for the life of the process; thread-safe (spdlog's _mt).
spdlog::logger& logger(Component component);

// Applies levels and output from config. Call from main before starting loops; calling again
// later changes levels only (reload). Returns INVALID_ARGUMENT naming a bad level/component.
Status configure(const config::LogConfig& config);

// Sets every component to `level` ("debug", "warn", ...). Tests and tools use it.
Status setLevel(std::string_view level);

// Rate limiter for one log call site. shouldLog() returns true at most once per `seconds`;
// the suppressed count since the last true is returned through `suppressed`.
class RateLimit {
 public:
  bool shouldLog(int seconds, uint64_t* suppressed);

 private:
  std::atomic<int64_t> next_ms_{0};
  std::atomic<uint64_t> suppressed_{0};
};

}  // namespace push::log

#define PUSH_LOG(level, component, ...)                                                \
  do {                                                                                 \
    auto& push_logger_ = ::push::log::logger(::push::log::Component::component);       \
    if (push_logger_.should_log(level)) {                                              \
      push_logger_.log(spdlog::source_loc{__FILE__, __LINE__, SPDLOG_FUNCTION}, level, \
                       __VA_ARGS__);                                                   \
    }                                                                                  \
  } while (0)

#define LOG_TRACE(component, ...) PUSH_LOG(spdlog::level::trace, component, __VA_ARGS__)
#define LOG_DEBUG(component, ...) PUSH_LOG(spdlog::level::debug, component, __VA_ARGS__)
#define LOG_INFO(component, ...) PUSH_LOG(spdlog::level::info, component, __VA_ARGS__)
#define LOG_WARN(component, ...) PUSH_LOG(spdlog::level::warn, component, __VA_ARGS__)
#define LOG_ERROR(component, ...) PUSH_LOG(spdlog::level::err, component, __VA_ARGS__)

// LOG_CONN(Debug, Rpc, conn_id, "fmt", args...): line prefixed with "[C<conn_id>] ".
#define LOG_CONN(severity, component, conn_id, fmt, ...) \
  LOG_##severity##_IMPL(component, "[C{}] " fmt, conn_id __VA_OPT__(, ) __VA_ARGS__)
#define LOG_Trace_IMPL(component, ...) LOG_TRACE(component, __VA_ARGS__)
#define LOG_Debug_IMPL(component, ...) LOG_DEBUG(component, __VA_ARGS__)
#define LOG_Info_IMPL(component, ...) LOG_INFO(component, __VA_ARGS__)
#define LOG_Warn_IMPL(component, ...) LOG_WARN(component, __VA_ARGS__)
#define LOG_Error_IMPL(component, ...) LOG_ERROR(component, __VA_ARGS__)

// At most one line per `seconds` from this call site; the line says how many were dropped.
#define LOG_EVERY_SEC(severity, component, seconds, fmt, ...)                                \
  do {                                                                                       \
    static ::push::log::RateLimit push_rate_limit_;                                          \
    uint64_t push_suppressed_ = 0;                                                           \
    if (push_rate_limit_.shouldLog(seconds, &push_suppressed_)) {                            \
      LOG_##severity##_IMPL(component,                                                       \
                            fmt " ({} similar lines suppressed)" __VA_OPT__(, ) __VA_ARGS__, \
                            push_suppressed_);                                               \
    }                                                                                        \
  } while (0)

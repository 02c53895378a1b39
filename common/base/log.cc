#include "common/base/log.h"

#include <array>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include "proto/config.pb.h"

namespace push::log {
namespace {

constexpr std::array<std::string_view, static_cast<size_t>(Component::kCount)> kNames = {
    "base",  "net",         "http",  "rpc",        "redis", "mysql", "zk",  "queue", "room",
    "register", "center", "coordinator", "saver", "dispatcher", "agent", "sdk", "app"};

struct Registry {
  std::mutex mu;
  spdlog::sink_ptr sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  std::array<std::shared_ptr<spdlog::logger>, kNames.size()> loggers;

  Registry() {
    for (size_t i = 0; i < kNames.size(); ++i) {
      loggers[i] = std::make_shared<spdlog::logger>(std::string(kNames[i]), sink);
      loggers[i]->set_pattern("%Y-%m-%dT%H:%M:%S.%e %L %n %v");
      loggers[i]->set_level(spdlog::level::info);
      loggers[i]->flush_on(spdlog::level::warn);
    }
  }
};

Registry& registry() {
  static Registry* instance = new Registry();  // never destroyed: loggers outlive statics
  return *instance;
}

bool parseLevel(std::string_view text, spdlog::level::level_enum* out) {
  static constexpr std::pair<std::string_view, spdlog::level::level_enum> kLevels[] = {
      {"trace", spdlog::level::trace}, {"debug", spdlog::level::debug},
      {"info", spdlog::level::info},   {"warn", spdlog::level::warn},
      {"warning", spdlog::level::warn}, {"error", spdlog::level::err},
      {"critical", spdlog::level::critical}, {"off", spdlog::level::off}};
  for (const auto& [name, level] : kLevels) {
    if (name == text) {
      *out = level;
      return true;
    }
  }
  return false;
}

int componentIndex(std::string_view name) {
  for (size_t i = 0; i < kNames.size(); ++i) {
    if (kNames[i] == name) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace

spdlog::logger& logger(Component component) {
  return *registry().loggers[static_cast<size_t>(component)];
}

Status setLevel(std::string_view level) {
  spdlog::level::level_enum parsed;
  if (!parseLevel(level, &parsed)) {
    return invalidArgument("unknown log level '" + std::string(level) + "'");
  }
  for (auto& l : registry().loggers) l->set_level(parsed);
  return Status::ok();
}

Status configure(const config::LogConfig& config) {
  spdlog::level::level_enum base = spdlog::level::info;
  if (!config.level().empty() && !parseLevel(config.level(), &base)) {
    return invalidArgument("log.level: unknown level '" + config.level() + "'");
  }
  std::array<spdlog::level::level_enum, kNames.size()> levels;
  levels.fill(base);
  for (const auto& [name, level] : config.component_levels()) {
    int index = componentIndex(name);
    if (index < 0) return invalidArgument("log.component_levels: unknown component '" + name + "'");
    if (!parseLevel(level, &levels[index])) {
      return invalidArgument("log.component_levels[" + name + "]: unknown level '" + level + "'");
    }
  }
  Registry& reg = registry();
  std::lock_guard lock(reg.mu);
  if (!config.file().empty()) {
    spdlog::sink_ptr file_sink;
    try {  // spdlog throws spdlog_ex when the file cannot be opened
      file_sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(config.file());
    } catch (const std::exception& e) {
      return invalidArgument("log.file: cannot open '" + config.file() + "': " + e.what());
    }
    for (auto& l : reg.loggers) l->sinks() = {file_sink};
  }
  for (size_t i = 0; i < kNames.size(); ++i) reg.loggers[i]->set_level(levels[i]);
  return Status::ok();
}

bool RateLimit::shouldLog(int seconds, uint64_t* suppressed) {
  int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now().time_since_epoch())
                    .count();
  int64_t next = next_ms_.load(std::memory_order_relaxed);
  if (now < next || !next_ms_.compare_exchange_strong(next, now + seconds * 1000LL)) {
    suppressed_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  *suppressed = suppressed_.exchange(0, std::memory_order_relaxed);
  return true;
}

}  // namespace push::log

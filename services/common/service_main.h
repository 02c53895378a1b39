#pragma once

// Pieces every service main uses (docs/CONVENTIONS.md §1: main only parses flags, loads config,
// builds the objects and runs the loop). The admin port helper is services/common/admin_port.h.

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "common/base/command_line.h"
#include "common/base/config.h"
#include "common/net/inet_address.h"

namespace google::protobuf {
class Message;
}
namespace push::config {
class LogConfig;
}

namespace push::service {

// Adds --config, --log-level, --busy-poll-us and --help to `cl`.
void addCommonFlags(CommandLine& cl);

// --busy-poll-us, for net::EventLoop::setBusyPoll (0 when absent).
Result<std::chrono::microseconds> busyPollFlag(const CommandLine& cl);

// Parses the command line, loads --config (if given) into `config`, applies --log-level over
// the config's `log` field (every service config has one) and configures logging. On --help
// prints usage and returns CANCELLED; every error names the flag, or the file, line and field.
Result<std::unique_ptr<ConfigFile>> loadConfig(CommandLine& cl, int argc, char** argv,
                                               google::protobuf::Message* config);

// Prints "<key> <host:port>" on stdout and flushes: scripts and tests wait for these lines.
void announce(std::string_view key, const net::InetAddress& address);
void announce(std::string_view key, std::string_view value);

}  // namespace push::service

#include "services/common/service_main.h"

#include <cstdio>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include "common/base/log.h"
#include "proto/config.pb.h"

namespace push::service {

void addCommonFlags(CommandLine& cl) {
  cl.option("config", "FILE", "configuration file (protobuf text format, proto/config.proto)");
  cl.option("log-level", "LEVEL", "trace|debug|info|warn|error|off (overrides the config)");
  cl.option("busy-poll-us", "N",
            "after I/O, poll for N microseconds before sleeping (0..100000, default 0: off; "
            "trades CPU for round-trip latency)");
  cl.flag("help", "print this help");
}

Result<std::chrono::microseconds> busyPollFlag(const CommandLine& cl) {
  ASSIGN_OR_RETURN(long long us, cl.getInt("busy-poll-us", 0, 0, 100'000));
  return std::chrono::microseconds(us);
}

Result<std::unique_ptr<ConfigFile>> loadConfig(CommandLine& cl, int argc, char** argv,
                                               google::protobuf::Message* config) {
  RETURN_IF_ERROR(cl.parse(argc, argv));
  if (cl.has("help")) {
    std::fputs(cl.usage().c_str(), stdout);
    return Status(Code::CANCELLED, "help");
  }
  std::unique_ptr<ConfigFile> file;
  if (cl.has("config")) {
    ASSIGN_OR_RETURN(file, ConfigFile::load(cl.get("config"), config));
  } else {
    ASSIGN_OR_RETURN(file, ConfigFile::parse("", "<defaults>", config));
  }
  // Looked up after parsing: parsing clears the message, which frees its sub-messages.
  const auto* field = config->GetDescriptor()->FindFieldByName("log");
  if (!field || field->message_type() != config::LogConfig::descriptor()) {
    return internalError(config->GetTypeName() + " has no 'log' field of type LogConfig");
  }
  auto* log =
      static_cast<config::LogConfig*>(config->GetReflection()->MutableMessage(config, field));
  if (cl.has("log-level")) log->set_level(cl.get("log-level"));
  RETURN_IF_ERROR(log::configure(*log));
  return file;
}

void announce(std::string_view key, const net::InetAddress& address) {
  announce(key, address.toString());
}

void announce(std::string_view key, std::string_view value) {
  std::printf("%.*s %.*s\n", static_cast<int>(key.size()), key.data(),
              static_cast<int>(value.size()), value.data());
  std::fflush(stdout);
}

}  // namespace push::service

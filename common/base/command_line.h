#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"

namespace push {

// Flags for service mains: "--name value" and "--switch". Unknown flags, a missing value or a
// repeated flag are errors that name the flag; usage() lists every flag with its help.
//
//   CommandLine cl("push-register", "the session table service");
//   cl.option("config", "FILE", "config file (protobuf text format)");
//   cl.flag("help", "print this help");
//   if (Status st = cl.parse(argc, argv); !st.isOk()) { fprintf(stderr, ...); return 2; }
//   std::string path = cl.get("config");
class CommandLine {
 public:
  CommandLine(std::string program, std::string summary);
  void option(std::string name, std::string value_name, std::string help);
  void flag(std::string name, std::string help);

  Status parse(int argc, char** argv);
  bool has(std::string_view name) const;
  // Value of an option, or `fallback` when absent.
  std::string get(std::string_view name, std::string fallback = "") const;
  // Integer value; INVALID_ARGUMENT naming the flag if it is not a number in [min, max].
  Result<long long> getInt(std::string_view name, long long fallback, long long min,
                           long long max) const;
  std::string usage() const;

 private:
  struct Spec {
    std::string value_name;  // empty for switches
    std::string help;
  };
  std::string program_;
  std::string summary_;
  std::vector<std::pair<std::string, Spec>> specs_;
  std::map<std::string, std::string, std::less<>> values_;
};

}  // namespace push

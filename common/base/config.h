#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"

namespace google::protobuf {
class Descriptor;
class Message;
namespace io {
class ErrorCollector;
}
}  // namespace google::protobuf

namespace push {

// A configuration file in protobuf text format, parsed into a message of proto/config.proto,
// that remembers where each field was written so validation errors can point at the line:
//
//   auto file = ConfigFile::load("room.conf", &cfg);            // syntax and unknown fields
//   RETURN_IF_ERROR(file->requireRange("rpc.max_concurrency", 0, 1000000));
//   -> "room.conf:7:3: rpc.max_concurrency: 0 is out of range [1, 1000000]"
class ConfigFile {
 public:
  // Parses `path` into `out` (cleared first). Errors: NOT_FOUND when the file cannot be read;
  // INVALID_ARGUMENT "path:line:col: <parser message>" for bad syntax, unknown fields or bad
  // values. `out` must outlive the returned ConfigFile.
  static Result<std::unique_ptr<ConfigFile>> load(const std::string& path,
                                                  google::protobuf::Message* out);
  // Same, from text in memory; `name` stands for the path in messages.
  static Result<std::unique_ptr<ConfigFile>> parse(std::string_view text, std::string name,
                                                   google::protobuf::Message* out);
  ~ConfigFile();

  // INVALID_ARGUMENT "file:line:col: <field_path>: <why>" where field_path is dotted
  // ("rpc.listen.address") and the location is where the file set it (just "file" when the
  // file left it at its default).
  Status fieldError(std::string_view field_path, std::string_view why) const;

  // Checks an integer field (any int/uint width) at `field_path` against [min, max].
  // Fields left at 0 are accepted when `zero_means_default` (proto3's "not set").
  Status requireRange(std::string_view field_path, int64_t min, int64_t max,
                      bool zero_means_default = true) const;

  const std::string& name() const { return name_; }

 private:
  struct Impl;
  ConfigFile(std::string name, google::protobuf::Message* root);
  std::string name_;
  google::protobuf::Message* root_;
  std::unique_ptr<Impl> impl_;
};

// The one range check every Options::fromConfig uses: `value` of the field at `field_path`
// must lie in [min, max]; 0 passes (proto3's "not set": the default applies). The error is
// INVALID_ARGUMENT naming the field, "file:line:col: field: 7 is out of range [1, 5]" when
// the options come from `file`, "field: ..." when `file` is null (options built in code).
Status checkFieldRange(const ConfigFile* file, std::string_view field_path, int64_t value,
                       int64_t min, int64_t max);

// The range of one integer field of a config message, by dotted path ("rpc.max_frame_bytes").
struct FieldRange {
  std::string path;
  int64_t min;
  int64_t max;
};

// checkFieldRange() for every entry of `ranges`, reading each value from `config` by
// reflection: every Options::fromConfig validates its whole message with one table, fields of
// shared sub-messages (rpc, admin, channels) included, so an error names the line of the
// service's own file. A path that names no singular integer field of `config` is skipped
// (tables of shared messages may name fields a service's message does not nest); a test of
// each service asserts, with integerFieldPaths(), that none of its fields goes unchecked.
Status checkFieldRanges(const google::protobuf::Message& config, const ConfigFile* file,
                        std::span<const FieldRange> ranges);

// `ranges` with "<prefix>." put before every path: a table of a shared message (RpcServerConfig)
// used where it is nested ("rpc", "register.channel").
std::vector<FieldRange> withPrefix(std::string_view prefix, std::span<const FieldRange> ranges);

// The dotted path of every singular integer field of `descriptor`, through its singular
// message fields (for the tests that no field goes unchecked).
std::vector<std::string> integerFieldPaths(const google::protobuf::Descriptor* descriptor);

}  // namespace push

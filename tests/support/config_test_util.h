#pragma once

// Helpers for the tests of Options::fromConfig: every integer field of a config message, found
// by reflection, set out of range must be refused naming that field.

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <string_view>

#include "common/base/config.h"
#include "common/base/status.h"

namespace push::testing {

// Sets the uint32 field at dotted `path` of `message` (creating the sub-messages on the way).
inline void setUint32At(google::protobuf::Message* message, std::string_view path, uint32_t value) {
  google::protobuf::Message* msg = message;
  for (size_t dot; (dot = path.find('.')) != std::string_view::npos; path.remove_prefix(dot + 1)) {
    const auto* f = msg->GetDescriptor()->FindFieldByName(std::string(path.substr(0, dot)));
    ASSERT_NE(f, nullptr) << path;
    msg = msg->GetReflection()->MutableMessage(msg, f);
  }
  const auto* f = msg->GetDescriptor()->FindFieldByName(std::string(path));
  ASSERT_NE(f, nullptr) << path;
  ASSERT_EQ(f->cpp_type(), google::protobuf::FieldDescriptor::CPPTYPE_UINT32)
      << path << ": only uint32 fields are set here; extend the helper";
  msg->GetReflection()->SetUInt32(msg, f, value);
}

// For every integer field of `Config` (integerFieldPaths), a config with only that field set
// to 2^32-1 must make `from_config` fail with an error that starts with "<path>: ".
template <typename Config>
void expectEveryIntegerFieldRangeChecked(const std::function<Status(const Config&)>& from_config,
                                         size_t at_least) {
  const auto paths = integerFieldPaths(Config::descriptor());
  EXPECT_GE(paths.size(), at_least);
  for (const std::string& path : paths) {
    Config cfg;
    setUint32At(&cfg, path, 4'294'967'295u);
    Status st = from_config(cfg);
    ASSERT_FALSE(st.isOk()) << path << " = 4294967295 was accepted";
    EXPECT_EQ(st.message().rfind(path + ": ", 0), 0u) << path << " -> " << st.message();
  }
}

}  // namespace push::testing

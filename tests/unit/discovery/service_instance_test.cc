// The JSON of a registered instance (common/discovery/service_instance.h).

#include "common/discovery/service_instance.h"

#include <gtest/gtest.h>

namespace push::discovery {
namespace {

TEST(ServiceInstanceTest, RoundTrips) {
  ServiceInstance in;
  in.id = "room-1";
  in.endpoints = {{"rpc", "127.0.0.1:5000"}, {"ws", "127.0.0.1:8080"}};
  in.region = "r1";
  in.weight = 50;
  in.load = 0.125;
  std::string json = encodeInstance(in);
  EXPECT_EQ(json, R"({"endpoints":{"rpc":"127.0.0.1:5000","ws":"127.0.0.1:8080"},"region":"r1",)"
                  R"("weight":50,"load":0.125})");
  auto out = decodeInstance("room-1", json);
  ASSERT_TRUE(out.isOk()) << out.status();
  EXPECT_EQ(*out, in);
}

TEST(ServiceInstanceTest, DefaultsAndUnknownMembers) {
  auto out = decodeInstance("x", R"({"region":"r2","future":[1,2],"weight":7})");
  ASSERT_TRUE(out.isOk()) << out.status();
  EXPECT_EQ(out->id, "x");
  EXPECT_TRUE(out->endpoints.empty());
  EXPECT_EQ(out->region, "r2");
  EXPECT_EQ(out->weight, 7u);
  EXPECT_EQ(out->load, 0.0);
}

TEST(ServiceInstanceTest, MalformedIsInvalidArgument) {
  for (const char* bad :
       {"", "{", "[]", "3", R"({"endpoints":[]})", R"({"endpoints":{"a":1}})", R"({"region":5})",
        R"({"weight":-1})", R"({"weight":1.5})", R"({"load":"high"})"}) {
    EXPECT_EQ(decodeInstance("x", bad).status().code(), Code::INVALID_ARGUMENT) << bad;
  }
}

}  // namespace
}  // namespace push::discovery

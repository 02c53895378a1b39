#include "loadtest/loadgen/route_resolver.h"

#include <gtest/gtest.h>

namespace push::loadgen {
namespace {

TEST(FirstTcpEndpointTest, TakesTheFirstTcpEntryOfADispatcherAnswer) {
  auto a = firstTcpEndpoint(200, R"({"rooms":[{"id":"r3","tcp":["127.0.0.3:443"]}],)"
                                 R"("tcp":["127.0.0.3:443","127.0.0.1:7000"],"ws":["ws://x/ws"],)"
                                 R"("heartbeat_s":60,"ttl_s":300})");
  ASSERT_TRUE(a.isOk()) << a.status();
  EXPECT_EQ(a->toString(), "127.0.0.3:443");
}

TEST(FirstTcpEndpointTest, SaysWhatIsWrongWithAnAnswerItCannotUse) {
  const auto error = [](int status, const char* body) {
    auto a = firstTcpEndpoint(status, body);
    return a.isOk() ? std::string("ok") : a.status().message();
  };
  EXPECT_NE(error(503, R"({"error":"no room available"})").find("503: {\"error\":\"no room"),
            std::string::npos);
  EXPECT_NE(error(200, R"({"rooms":[],"tcp":[]})").find("no tcp endpoint"), std::string::npos);
  EXPECT_NE(error(200, R"({"tcp":["room.example:7000"]})").find("room.example:7000"),
            std::string::npos);
  EXPECT_NE(error(200, R"({"tcp":[7000]})"), "ok");
  EXPECT_NE(error(200, R"({"tcp":["127.0.0.1:1"])"), "ok");  // cut short
  EXPECT_NE(error(200, "not json"), "ok");
}

}  // namespace
}  // namespace push::loadgen

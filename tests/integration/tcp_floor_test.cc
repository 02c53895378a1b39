// push-tcp-floor (loadtest/tcp_floor), the baseline of run_unicast_bench.sh, as a user runs it:
// it measures and prints its RESULT line, and it ends (exit 1, with a reason) when its client
// process dies, even before every connection was accepted.

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "tests/support/subprocess.h"

namespace push::testing {
namespace {

using namespace std::chrono_literals;

TEST(TcpFloorTest, MeasuresAndPrintsItsResult) {
  auto floor = Subprocess::start({binPath("push-tcp-floor"), "--connections", "20", "--window", "8",
                                  "--seconds", "1", "--sources", "127.0.0.2-127.0.0.3"});
  ASSERT_TRUE(floor.isOk()) << floor.status();
  auto line = (*floor)->waitForLine("RESULT tcp_floor", 30s);
  ASSERT_TRUE(line.isOk()) << line.status();
  EXPECT_NE(line->find("connections=20 "), std::string::npos) << *line;
  EXPECT_NE(line->find("msg_per_s="), std::string::npos) << *line;
  EXPECT_EQ((*floor)->wait(30s), 0);
}

TEST(TcpFloorTest, ExitsWhenItsClientDiesBeforeConnecting) {
  // 192.0.2.1 (TEST-NET-1) is no address of this machine: the client's bind() fails and it
  // exits before its first connect. The server used to wait in accept() for ever.
  const auto begin = std::chrono::steady_clock::now();
  auto floor = Subprocess::start({binPath("push-tcp-floor"), "--connections", "20", "--seconds",
                                  "1", "--sources", "192.0.2.1"});
  ASSERT_TRUE(floor.isOk()) << floor.status();
  EXPECT_EQ((*floor)->wait(20s), 1);
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 9s);  // before its own 10 s accept bound
}

}  // namespace
}  // namespace push::testing

// zookeeper_fixture start|stop <state file>: the ctest fixture that lets every test process of
// a run share one ZooKeeper (tests/support/zookeeper_server.h, "Shared across the processes").
// `start` exits once the server serves, leaving it running; `stop` stops it by the PID in the
// state file. Without java or the jar, `start` writes nothing and exits 0: the tests then try
// their own server and skip.

#include <cstdio>
#include <string>

#include "tests/support/zookeeper_server.h"

int main(int argc, char** argv) {
  using push::testing::ZooKeeperServer;
  const std::string verb = argc == 3 ? argv[1] : "";
  if (verb != "start" && verb != "stop") {
    std::fprintf(stderr, "usage: %s start|stop <state file>\n", argv[0]);
    return 2;
  }
  const std::string state_file = argv[2];
  if (verb == "stop") {
    push::Status st = ZooKeeperServer::stopShared(state_file);
    if (!st.isOk()) {
      std::fprintf(stderr, "zookeeper_fixture stop: %s\n", st.toString().c_str());
      return 1;
    }
    std::printf("zookeeper_fixture: stopped the shared server of %s\n", state_file.c_str());
    return 0;
  }
  if (!ZooKeeperServer::available()) {
    std::printf("zookeeper_fixture: java or zookeeper.jar not found; no shared server\n");
    return 0;
  }
  push::Status st = ZooKeeperServer::startShared(state_file);
  if (!st.isOk()) {
    std::fprintf(stderr, "zookeeper_fixture start: %s\n", st.toString().c_str());
    return 1;
  }
  std::printf("zookeeper_fixture: shared server started (%s)\n", state_file.c_str());
  return 0;
}

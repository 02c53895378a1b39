#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/base/result.h"
#include "tests/support/subprocess.h"

namespace push::testing {

// An NSQ daemon for tests, started the way a user starts nsqd: either queued
// ($PUSH_BIN_DIR/push-queued) or the real nsqd v1.3.0 (env NSQD_BIN, else
// /work/shared/peers/nsq/nsqd or ../shared/peers/nsq/nsqd from the source tree) with the same
// flags: --tcp-address, --http-address on free 127.0.0.1 ports, --data-path in a temporary
// directory removed on destruction (unless the test passed its own). Ready once the TCP port
// accepts.
class NsqDaemon {
 public:
  // "queued", "nsqd" or "nsqlookupd" (started with --tcp-address and --http-address only).
  // Empty when that binary is not there (the test skips).
  static std::string binaryFor(const std::string& kind);

  static Result<std::unique_ptr<NsqDaemon>> start(const std::string& kind,
                                                  const std::vector<std::string>& extra_flags = {},
                                                  const std::string& data_path = "");
  ~NsqDaemon();

  const std::string& tcpAddress() const { return tcp_address_; }
  const std::string& httpAddress() const { return http_address_; }
  const std::string& dataPath() const { return data_path_; }
  Subprocess& process() { return *process_; }

  // Stops (SIGTERM, or SIGKILL when `kill`) and starts again on the same ports and data path.
  Status restart(bool kill = false);
  // SIGTERM (or SIGKILL) and wait; the daemon is gone until resume().
  int stop(bool kill = false);
  // Starts it again after stop(), on the same ports and data path.
  Status resume() { return launch(); }

 private:
  NsqDaemon() = default;
  Status launch();

  std::string kind_;
  std::string binary_;
  std::vector<std::string> extra_flags_;
  std::string tcp_address_;
  std::string http_address_;
  std::string data_path_;
  bool own_data_path_ = false;
  std::unique_ptr<Subprocess> process_;
};

// A free TCP port on 127.0.0.1 (bound and released: a tiny race, fine for tests).
int freeLoopbackPort();
// True when something accepts a TCP connection on 127.0.0.1:`port` (servers' readiness).
bool loopbackPortAccepts(int port);

}  // namespace push::testing

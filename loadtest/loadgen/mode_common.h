#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/command_line.h"
#include "common/base/result.h"
#include "common/net/event_loop.h"
#include "common/net/inet_address.h"
#include "common/net/periodic_timer.h"
#include "common/net/signal_watcher.h"
#include "proto/client.pb.h"

// What every push-load mode shares (main.cc, broadcast_modes.cc): exit codes, flag helpers,
// and the Runner (the loop, SIGINT/SIGTERM, the --max-seconds deadline).
namespace push::loadgen {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitMaxSeconds = 3;

// One line to stdout, flushed (push-loadtest and the scripts read it as it comes).
void printLine(const std::string& line);
// Prints the error and the mode's usage to stderr; returns kExitUsage.
int usageError(const CommandLine& cl, const Status& st);
// "5000" or "5000/s".
Result<double> parseRate(std::string_view text);
Result<client::NetworkType> parseNetwork(std::string_view name);
// A JSON-safe name (it is pasted into request bodies unescaped).
bool plainName(std::string_view s);
// CPU time of this process (user and system), milliseconds.
unsigned long long cpuMillis();

// --max-seconds, --sources, --connect-rate, --input-gather-us, --log-level, --help.
void addCommon(CommandLine& cl);
struct Common {
  double max_seconds = 300;
  std::vector<net::InetAddress> sources;
  double connect_rate = 5000;
  std::chrono::microseconds input_gather{0};  // net::EventLoop::setInputGather
};
Result<Common> readCommon(const CommandLine& cl);

// The parts every mode shares: the loop, SIGINT/SIGTERM (exit 0), and the --max-seconds
// deadline (exit kExitMaxSeconds). Owns its loop and handles; loop-thread only.
class Runner {
 public:
  explicit Runner(double max_seconds,
                  std::chrono::microseconds input_gather = std::chrono::microseconds(0));
  net::EventLoop& loop() { return loop_; }
  // Runs the loop; `close_all` closes the mode's connections before the loop shuts down.
  int run(const std::function<void()>& close_all);
  void stop(int exit_code);

 private:
  net::EventLoop loop_;  // first: destroyed after the handles below are closed
  net::SignalWatcherPtr signals_;
  net::PeriodicTimerPtr deadline_;
  int exit_code_ = kExitOk;
  bool stopped_ = false;
};

}  // namespace push::loadgen

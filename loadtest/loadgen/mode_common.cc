#include "loadtest/loadgen/mode_common.h"

#include <sys/resource.h>

#include <chrono>
#include <cstdio>

#include "common/base/log.h"
#include "loadtest/loadgen/source_addresses.h"

namespace push::loadgen {

void printLine(const std::string& line) {
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

int usageError(const CommandLine& cl, const Status& st) {
  std::fprintf(stderr, "push-load: %s\n\n%s", st.message().c_str(), cl.usage().c_str());
  return kExitUsage;
}

Result<double> parseRate(std::string_view text) {
  if (text.size() > 2 && text.substr(text.size() - 2) == "/s") text.remove_suffix(2);
  try {
    size_t used = 0;
    const double v = std::stod(std::string(text), &used);
    if (used == text.size() && v > 0 && v <= 1e9) return v;
  } catch (...) {
  }
  return invalidArgument("bad rate '" + std::string(text) +
                         "' (want a positive number, e.g. 5000/s)");
}

Result<client::NetworkType> parseNetwork(std::string_view name) {
  if (name == "wifi") return client::NETWORK_WIFI;
  if (name == "cellular") return client::NETWORK_CELLULAR;
  if (name == "ethernet") return client::NETWORK_ETHERNET;
  if (name == "unknown") return client::NETWORK_UNKNOWN;
  return invalidArgument("--network: one of wifi, cellular, ethernet, unknown");
}

bool plainName(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (c < 0x21 || c == '"' || c == '\\' || c == 0x7f) return false;
  }
  return true;
}

Runner::Runner(double max_seconds, std::chrono::microseconds input_gather) {
  loop_.setInputGather(input_gather);
  signals_ = net::SignalWatcher::create(loop_, [this](int signum) {
    std::fprintf(stderr, "push-load: signal %d: stopping\n", signum);
    stop(kExitOk);
  });
  deadline_ = net::PeriodicTimer::create(loop_, [this, max_seconds] {
    std::fprintf(stderr, "push-load: --max-seconds %.0f reached: giving up\n", max_seconds);
    stop(kExitMaxSeconds);
  });
  deadline_->start(std::chrono::milliseconds(static_cast<int64_t>(max_seconds * 1000)), false);
}

int Runner::run(const std::function<void()>& close_all) {
  loop_.run();
  close_all();
  deadline_.reset();
  signals_.reset();
  (void)loop_.shutdown(std::chrono::seconds(5));
  return exit_code_;
}

void Runner::stop(int exit_code) {
  if (stopped_) return;
  stopped_ = true;
  exit_code_ = exit_code;
  deadline_.reset();
  loop_.stop();
}

void addCommon(CommandLine& cl) {
  cl.option("max-seconds", "S",
            "hard limit on the run time; exit status 3 when reached (default 300)");
  cl.option("sources", "A-B",
            "source addresses, round robin, e.g. 127.0.0.2-127.0.0.20 (default: any)");
  cl.option("connect-rate", "R/s", "new client connections per second (default 5000)");
  cl.option("input-gather-us", "N",
            "after a loop turn that read, sleep N us (max 100000) before polling again: fewer "
            "wake-ups for many clients, up to N us later reads (default 0: off)");
  cl.option("log-level", "LEVEL", "common/ log level (default warn)");
  cl.flag("help", "print this help");
}

Result<Common> readCommon(const CommandLine& cl) {
  Common c;
  ASSIGN_OR_RETURN(long long max_s, cl.getInt("max-seconds", 300, 1, 86400));
  c.max_seconds = static_cast<double>(max_s);
  ASSIGN_OR_RETURN(c.sources, loadgen::parseSourceAddresses(cl.get("sources")));
  if (cl.has("connect-rate")) {
    ASSIGN_OR_RETURN(c.connect_rate, parseRate(cl.get("connect-rate")));
  }
  ASSIGN_OR_RETURN(long long gather_us, cl.getInt("input-gather-us", 0, 0, 100'000));
  c.input_gather = std::chrono::microseconds(gather_us);
  RETURN_IF_ERROR(log::setLevel(cl.get("log-level", "warn")));
  return c;
}

unsigned long long cpuMillis() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  const auto ms = [](const timeval& t) {
    return static_cast<unsigned long long>(t.tv_sec) * 1000 +
           static_cast<unsigned long long>(t.tv_usec) / 1000;
  };
  return ms(u.ru_utime) + ms(u.ru_stime);
}

}  // namespace push::loadgen

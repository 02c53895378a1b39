// push-load: the load generator of the memory and unicast benchmarks (loadtest/README.md).
// One libuv loop, one process; run several processes (and source addresses) for more
// connections than one process may open (20000 files here).
//
//   push-load idle --server H:P --app A --secret S --connections N [--sources A-B]
//                  [--connect-rate R/s] [--user-prefix P] [--first-user K] [--network wifi]
//   push-load redis-idle --server H:P --connections N [--sources A-B] [--connect-rate R/s]
//   push-load unicast --center H:P --api-key K --app A --secret S --room H:P --users U
//                  [--http-connections C] [--depth D] [--seconds T] [--rate R]
//                  [--payload-bytes B] [--sources A-B] [--user-prefix P] [--timeline]
//
// Every mode takes --max-seconds (default 300): the process exits with status 3 when it is
// reached. idle / redis-idle print "READY <n>" once all n connections are authenticated
// (subscribed), or "FAILED <n> <first error>" when n of them could not be; later "LOST <n>"
// when connections close under them; they exit 0 on SIGTERM/SIGINT. unicast prints one
// "impl=push mode=unicast ..." line and exits 0 (1 when the setup failed); before it,
// "MEASURING" and "MEASURED" mark the measured window (for sampling the servers' CPU).
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "common/base/command_line.h"
#include "common/base/log.h"
#include "common/net/event_loop.h"
#include "common/net/periodic_timer.h"
#include "common/net/signal_watcher.h"
#include "loadtest/loadgen/push_client_pool.h"
#include "loadtest/loadgen/redis_client_pool.h"
#include "loadtest/loadgen/source_addresses.h"
#include "loadtest/loadgen/unicast_load.h"

namespace {

using namespace push;

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitMaxSeconds = 3;

void printLine(const std::string& line) {
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

int usageError(const CommandLine& cl, const Status& st) {
  std::fprintf(stderr, "push-load: %s\n\n%s", st.message().c_str(), cl.usage().c_str());
  return kExitUsage;
}

// "5000" or "5000/s".
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

// A JSON-safe name (it is pasted into request bodies unescaped).
bool plainName(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (c < 0x21 || c == '"' || c == '\\' || c == 0x7f) return false;
  }
  return true;
}

// The parts every mode shares: the loop, SIGINT/SIGTERM, and the --max-seconds deadline.
class Runner {
 public:
  explicit Runner(double max_seconds) {
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
  net::EventLoop& loop() { return loop_; }
  // Runs the loop; `close_all` closes the mode's connections before the loop shuts down.
  int run(const std::function<void()>& close_all) {
    loop_.run();
    close_all();
    deadline_.reset();
    signals_.reset();
    (void)loop_.shutdown(std::chrono::seconds(5));
    return exit_code_;
  }
  void stop(int exit_code) {
    if (stopped_) return;
    stopped_ = true;
    exit_code_ = exit_code;
    deadline_.reset();
    loop_.stop();
  }

 private:
  net::EventLoop loop_;  // first: destroyed after the handles below are closed
  net::SignalWatcherPtr signals_;
  net::PeriodicTimerPtr deadline_;
  int exit_code_ = kExitOk;
  bool stopped_ = false;
};

void addCommon(CommandLine& cl) {
  cl.option("max-seconds", "S",
            "hard limit on the run time; exit status 3 when reached (default 300)");
  cl.option("sources", "A-B",
            "source addresses, round robin, e.g. 127.0.0.2-127.0.0.20 (default: any)");
  cl.option("connect-rate", "R/s", "new client connections per second (default 5000)");
  cl.option("log-level", "LEVEL", "common/ log level (default warn)");
  cl.flag("help", "print this help");
}

struct Common {
  double max_seconds = 300;
  std::vector<net::InetAddress> sources;
  double connect_rate = 5000;
};

Result<Common> readCommon(const CommandLine& cl) {
  Common c;
  ASSIGN_OR_RETURN(long long max_s, cl.getInt("max-seconds", 300, 1, 86400));
  c.max_seconds = static_cast<double>(max_s);
  ASSIGN_OR_RETURN(c.sources, loadgen::parseSourceAddresses(cl.get("sources")));
  if (cl.has("connect-rate")) {
    ASSIGN_OR_RETURN(c.connect_rate, parseRate(cl.get("connect-rate")));
  }
  RETURN_IF_ERROR(log::setLevel(cl.get("log-level", "warn")));
  return c;
}

// Prints READY/FAILED once settled and LOST when idle connections close under us.
template <typename Pool>
int runIdle(Runner& runner, Pool& pool, const char* what) {
  pool.setOnSettled([what](size_t ready, size_t failed, const std::string& first_error) {
    if (failed == 0) {
      printLine("READY " + std::to_string(ready));
    } else {
      std::fprintf(stderr, "push-load: %zu %s ready, %zu failed\n", ready, what, failed);
      printLine("FAILED " + std::to_string(failed) + " " + first_error);
    }
  });
  size_t reported_lost = 0;
  net::PeriodicTimerPtr watch = net::PeriodicTimer::create(runner.loop(), [&] {
    if (pool.lost() != reported_lost) {
      reported_lost = pool.lost();
      printLine("LOST " + std::to_string(reported_lost));
    }
  });
  watch->start(std::chrono::seconds(1));
  pool.start();
  return runner.run([&] {
    watch.reset();
    pool.close();
  });
}

int idleMode(int argc, char** argv) {
  CommandLine cl("push-load idle", "N idle authenticated client connections to a room");
  cl.option("server", "HOST:PORT", "room client TCP address (required)");
  cl.option("app", "APP", "app of the tokens (required)");
  cl.option("secret", "SECRET", "the app's token secret (required)");
  cl.option("connections", "N", "connections to open (required)");
  cl.option("user-prefix", "P", "user of connection i is P<first-user + i> (default u)");
  cl.option("first-user", "K", "index of the first user (default 0)");
  cl.option("network", "TYPE", "network in Auth: wifi (default), cellular, ethernet, unknown");
  addCommon(cl);
  if (Status st = cl.parse(argc, argv); !st.isOk()) return usageError(cl, st);
  if (cl.has("help")) return std::printf("%s", cl.usage().c_str()), kExitOk;
  auto common = readCommon(cl);
  if (!common.isOk()) return usageError(cl, common.status());
  auto server = net::InetAddress::parse(cl.get("server"));
  auto count = cl.getInt("connections", 0, 1, 1'000'000);
  auto first = cl.getInt("first-user", 0, 0, 1LL << 40);
  auto network = parseNetwork(cl.get("network", "wifi"));
  for (const Status& st : {server.status(), count.status(), first.status(), network.status()}) {
    if (!st.isOk()) return usageError(cl, st);
  }
  if (!plainName(cl.get("app")) || cl.get("secret").empty() || *count == 0) {
    return usageError(cl, invalidArgument("--app, --secret and --connections are required"));
  }
  Runner runner(common->max_seconds);
  loadgen::PushClientPool::Options o;
  o.connect.server = *server;
  o.connect.sources = common->sources;
  o.connect.count = static_cast<size_t>(*count);
  o.connect.rate_per_s = common->connect_rate;
  o.app = cl.get("app");
  o.secret = cl.get("secret");
  o.user_prefix = cl.get("user-prefix", "u");
  o.first_user = static_cast<size_t>(*first);
  o.network = *network;
  loadgen::PushClientPool pool(runner.loop(), std::move(o));
  const int rc = runIdle(runner, pool, "clients");
  std::fprintf(stderr, "push-load: idle: ready=%zu failed=%zu lost=%zu pings=%llu pongs=%llu\n",
               pool.ready(), pool.failed(), pool.lost(),
               static_cast<unsigned long long>(pool.pings()),
               static_cast<unsigned long long>(pool.pongs()));
  return rc;
}

int redisIdleMode(int argc, char** argv) {
  CommandLine cl("push-load redis-idle", "N idle Redis SUBSCRIBE connections (the baseline)");
  cl.option("server", "HOST:PORT", "redis-server address (required)");
  cl.option("connections", "N", "connections to open (required)");
  cl.option("channel", "NAME", "channel to subscribe to (default push-bench)");
  addCommon(cl);
  if (Status st = cl.parse(argc, argv); !st.isOk()) return usageError(cl, st);
  if (cl.has("help")) return std::printf("%s", cl.usage().c_str()), kExitOk;
  auto common = readCommon(cl);
  if (!common.isOk()) return usageError(cl, common.status());
  auto server = net::InetAddress::parse(cl.get("server"));
  auto count = cl.getInt("connections", 0, 1, 1'000'000);
  for (const Status& st : {server.status(), count.status()}) {
    if (!st.isOk()) return usageError(cl, st);
  }
  if (*count == 0) return usageError(cl, invalidArgument("--connections is required"));
  Runner runner(common->max_seconds);
  loadgen::RedisClientPool::Options o;
  o.connect.server = *server;
  o.connect.sources = common->sources;
  o.connect.count = static_cast<size_t>(*count);
  o.connect.rate_per_s = common->connect_rate;
  o.channel = cl.get("channel", "push-bench");
  loadgen::RedisClientPool pool(runner.loop(), std::move(o));
  const int rc = runIdle(runner, pool, "subscribers");
  std::fprintf(stderr, "push-load: redis-idle: ready=%zu failed=%zu lost=%zu\n", pool.ready(),
               pool.failed(), pool.lost());
  return rc;
}

int unicastMode(int argc, char** argv) {
  CommandLine cl("push-load unicast",
                 "unicast pushes through center's HTTP API to clients of a room, with latency");
  cl.option("center", "HOST:PORT", "center HTTP API address (required)");
  cl.option("api-key", "KEY", "API key of the app at center (required)");
  cl.option("app", "APP", "app (required)");
  cl.option("secret", "SECRET", "the app's token secret (required)");
  cl.option("room", "HOST:PORT", "room client TCP address (required)");
  cl.option("users", "U", "client connections, users <prefix>0..U-1 (required)");
  cl.option("user-prefix", "P", "user name prefix (default u)");
  cl.option("http-connections", "C", "keep-alive HTTP connections to center (default 16)");
  cl.option(
      "depth", "D",
      "requests in flight per HTTP connection (closed loop), or at most (open loop); default 8");
  cl.option("seconds", "T", "measured seconds after a 1 s warm-up (default 10)");
  cl.option("rate", "R", "open loop: requests per second (default: closed loop)");
  cl.option("payload-bytes", "B", "payload size (default 32; at least the 's=<seq> t=<ns>' tag)");
  cl.flag("timeline", "print per-second counts and latency to stderr");
  addCommon(cl);
  if (Status st = cl.parse(argc, argv); !st.isOk()) return usageError(cl, st);
  if (cl.has("help")) return std::printf("%s", cl.usage().c_str()), kExitOk;
  auto common = readCommon(cl);
  if (!common.isOk()) return usageError(cl, common.status());
  auto center = net::InetAddress::parse(cl.get("center"));
  auto room = net::InetAddress::parse(cl.get("room"));
  auto users = cl.getInt("users", 0, 1, 19'000);
  auto http = cl.getInt("http-connections", 16, 1, 1024);
  auto depth = cl.getInt("depth", 8, 1, 65536);
  auto seconds = cl.getInt("seconds", 10, 1, 3600);
  auto payload = cl.getInt("payload-bytes", 32, 1, 60 * 1024);
  for (const Status& st : {center.status(), room.status(), users.status(), http.status(),
                           depth.status(), seconds.status(), payload.status()}) {
    if (!st.isOk()) return usageError(cl, st);
  }
  double rate = 0;
  if (cl.has("rate")) {
    auto r = parseRate(cl.get("rate"));
    if (!r.isOk()) return usageError(cl, r.status());
    rate = *r;
  }
  if (!plainName(cl.get("app")) || !plainName(cl.get("api-key")) || cl.get("secret").empty() ||
      !plainName(cl.get("user-prefix", "u")) || *users == 0) {
    return usageError(
        cl, invalidArgument("--app, --api-key, --secret and --users are required (plain names)"));
  }
  if (static_cast<double>(*seconds) + 10 > common->max_seconds) {
    return usageError(cl, invalidArgument("--max-seconds must leave 10 s over --seconds"));
  }
  Runner runner(common->max_seconds);
  loadgen::UnicastLoad::Options o;
  o.center = *center;
  o.api_key = cl.get("api-key");
  o.app = cl.get("app");
  o.secret = cl.get("secret");
  o.room = *room;
  o.users = static_cast<size_t>(*users);
  o.user_prefix = cl.get("user-prefix", "u");
  o.http_connections = static_cast<size_t>(*http);
  o.depth = static_cast<size_t>(*depth);
  o.seconds = static_cast<double>(*seconds);
  o.rate = rate;
  o.payload_bytes = static_cast<size_t>(*payload);
  o.sources = common->sources;
  o.connect_rate = common->connect_rate;
  o.timeline = cl.has("timeline");
  loadgen::UnicastLoad load(runner.loop(), std::move(o));
  load.setOnWindow([](bool started) { printLine(started ? "MEASURING" : "MEASURED"); });
  load.start([&](int code) { runner.stop(code == 0 ? kExitOk : kExitFailed); });
  const int rc = runner.run([&] { load.close(); });
  printLine(load.resultLine());
  return rc;
}

const char kUsage[] =
    "usage: push-load MODE [flags]   (push-load MODE --help lists the flags)\n"
    "  idle        N idle authenticated client connections to a room; READY <n>\n"
    "  redis-idle  N idle Redis SUBSCRIBE connections (baseline); READY <n>\n"
    "  unicast     pushes through center's POST /v1/push to clients of a room; one result line\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return kExitUsage;
  }
  const std::string_view mode = argv[1];
  // The mode takes the place of the program name for the flag parser.
  if (mode == "idle") return idleMode(argc - 1, argv + 1);
  if (mode == "redis-idle") return redisIdleMode(argc - 1, argv + 1);
  if (mode == "unicast") return unicastMode(argc - 1, argv + 1);
  if (mode == "--help" || mode == "help") {
    std::fputs(kUsage, stdout);
    return kExitOk;
  }
  std::fprintf(stderr, "push-load: unknown mode '%s'\n%s", argv[1], kUsage);
  return kExitUsage;
}

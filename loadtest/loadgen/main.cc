// push-load: the load generator of the memory, unicast and broadcast benchmarks
// (loadtest/README.md). One libuv loop, one process; run several processes (and source addresses)
// for more connections than one process may open (20000 files here).
//
//   push-load idle --server H:P --app A --secret S --connections N [--sources A-B]
//                  [--connect-rate R/s] [--user-prefix P] [--first-user K] [--network wifi]
//                  [--heartbeat S] [--stats] [--reconnect]
//   push-load redis-idle --server H:P --connections N [--sources A-B] [--connect-rate R/s]
//   push-load unicast --center H:P --api-key K --app A --secret S --room H:P --users U
//                  [--http-connections C] [--depth D] [--seconds T] [--rate R]
//                  [--payload-bytes B] [--sources A-B] [--user-prefix P] [--timeline]
//                  [--first-user K] [--stats] [--batch N]
//                  (without --room: requests only, no clients; --batch: /v1/push/batch)
//   push-load broadcast [--room H:P --clients N --app A --secret S] (receivers)
//                  [--center H:P --api-key K --app A --count C] (publisher) [flags below]
//   push-load redis-broadcast [--server H:P --clients N] [--publish-to H:P[,H:P]] [...]
//   push-load raw-broadcast --server H:P --clients N [...]   (receivers of broadcast_floor)
//
// Every mode takes --max-seconds (default 300): the process exits with status 3 when it is
// reached. idle / redis-idle print "READY <n>" once all n connections are authenticated
// (subscribed), or "FAILED <n> <first error>" when n of them could not be; later "LOST <n>"
// when connections close under them; they exit 0 on SIGTERM/SIGINT. idle --stats adds a line
// a second for push-loadtest (loadtest/loadtester): "STATS ready= failed= lost= reconnected=
// reconnect_failed= last_back_ns= pings= pongs= pushes= cpu_ms= failed_by= lost_by=
// rtt=<LatencyHistogram::encode() of that second's Ping round trips>", the counts cumulative
// (reconnected: lost clients back, with --reconnect; last_back_ns: steady_clock time of the
// latest return; failed_by/lost_by: "name:count,..." by how the connections ended,
// PushClientPool::endingName, "-" for none); also right before READY/FAILED and when stopping.
// idle --unicast-users U [--unicast-first-user F] checks every push as a receiver of a
// `unicast` sender without --room that addresses users F..F+U-1 (UnicastTally) and adds
// "uni=<received>,<unique>,<duplicates>,<misrouted>,<unreadable>,<untracked> lat=<histogram of
// the unique pushes' latency that second>" to each STATS line.
// unicast prints one "impl=push mode=unicast ..." line and exits 0 (1 when the setup failed);
// before it, "MEASURING" and "MEASURED" mark the measured window (for sampling the servers' CPU);
// with --stats also a "SENT sent= responses= delivered= offline= errors= skipped= cpu_ms=" line
// a second (cumulative) and one when done.
// The broadcast modes (loadtest/README.md) print READY/FAILED for their receivers, one "impl=...
// role=receiver round=<k> ..." line per round (with --await-signal a round ends only after SIGUSR1,
// once quiet), and one "impl=... role=publisher ..." line when the publisher is done.
#include <sys/resource.h>

#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "common/base/command_line.h"
#include "common/base/log.h"
#include "common/net/event_loop.h"
#include "common/net/periodic_timer.h"
#include "common/net/signal_watcher.h"
#include "loadtest/loadgen/broadcast_payload.h"
#include "loadtest/loadgen/broadcast_publisher.h"
#include "loadtest/loadgen/broadcast_receivers.h"
#include "loadtest/loadgen/push_client_pool.h"
#include "loadtest/loadgen/redis_client_pool.h"
#include "loadtest/loadgen/source_addresses.h"
#include "loadtest/loadgen/unicast_load.h"
#include "loadtest/loadgen/unicast_tally.h"

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

// CPU time of this process (user and system), milliseconds.
unsigned long long cpuMillis() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  const auto ms = [](const timeval& t) {
    return static_cast<unsigned long long>(t.tv_sec) * 1000 +
           static_cast<unsigned long long>(t.tv_usec) / 1000;
  };
  return ms(u.ru_utime) + ms(u.ru_stime);
}

std::string statsLine(loadgen::PushClientPool& pool, loadgen::UnicastTally* tally) {
  char head[256];
  std::snprintf(head, sizeof head,
                "STATS ready=%zu failed=%zu lost=%zu reconnected=%zu reconnect_failed=%zu "
                "last_back_ns=%lld pings=%llu pongs=%llu pushes=%llu cpu_ms=%llu ",
                pool.ready(), pool.failed(), pool.lost(), pool.reconnected(),
                pool.reconnectFailures(), static_cast<long long>(pool.lastReconnectNs()),
                static_cast<unsigned long long>(pool.pings()),
                static_cast<unsigned long long>(pool.pongs()),
                static_cast<unsigned long long>(pool.pushes()), cpuMillis());
  const auto endings = [](const loadgen::PushClientPool::EndingCounts& counts) {
    const std::string s = loadgen::PushClientPool::encodeEndings(counts);
    return s.empty() ? std::string("-") : s;
  };
  std::string line = head + ("failed_by=" + endings(pool.failedBy())) +
                     (" lost_by=" + endings(pool.lostBy())) + " rtt=" + pool.takePingRtt().encode();
  if (tally) {
    line += " uni=";
    for (uint64_t n : {tally->received(), tally->unique(), tally->duplicates(), tally->misrouted(),
                       tally->unreadable(), tally->untracked()}) {
      line += std::to_string(n) + ",";
    }
    line.back() = ' ';
    line += "lat=" + tally->takeLatency().encode();
  }
  return line;
}

// Prints READY/FAILED once settled and LOST when idle connections close under us.
template <typename Pool>
int runIdle(Runner& runner, Pool& pool, const char* what,
            const std::function<void()>& every_second = nullptr) {
  pool.setOnSettled(
      [what, &every_second](size_t ready, size_t failed, const std::string& first_error) {
        // The counts as settled come first: a reader may stop us as soon as it sees READY/FAILED.
        if (every_second) every_second();
        if (failed == 0) {
          printLine("READY " + std::to_string(ready));
        } else {
          std::fprintf(stderr, "push-load: %zu %s ready, %zu failed\n", ready, what, failed);
          printLine("FAILED " + std::to_string(failed) + " " + first_error);
        }
      });
  size_t reported_lost = 0;
  net::PeriodicTimerPtr watch = net::PeriodicTimer::create(runner.loop(), [&] {
    if (every_second) every_second();
    if (pool.lost() != reported_lost) {
      reported_lost = pool.lost();
      printLine("LOST " + std::to_string(reported_lost));
    }
  });
  watch->start(std::chrono::seconds(1));
  pool.start();
  return runner.run([&] {
    watch.reset();
    if (every_second) every_second();  // the last counts, before our own closes
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
  cl.option("heartbeat", "S", "seconds between Pings (default: what the room proposes)");
  cl.flag("stats", "print a STATS line every second (for push-loadtest)");
  cl.flag("reconnect", "reconnect lost clients after a backoff, as the SDK does");
  cl.option("unicast-users", "U",
            "count pushes of a `unicast` sender addressing U users (with --stats)");
  cl.option("unicast-first-user", "F", "that sender's --first-user (default 0)");
  addCommon(cl);
  if (Status st = cl.parse(argc, argv); !st.isOk()) return usageError(cl, st);
  if (cl.has("help")) return std::printf("%s", cl.usage().c_str()), kExitOk;
  auto common = readCommon(cl);
  if (!common.isOk()) return usageError(cl, common.status());
  auto server = net::InetAddress::parse(cl.get("server"));
  auto count = cl.getInt("connections", 0, 1, 1'000'000);
  auto first = cl.getInt("first-user", 0, 0, 1LL << 40);
  auto network = parseNetwork(cl.get("network", "wifi"));
  auto heartbeat = cl.getInt("heartbeat", 0, 1, 65535);
  auto uni_users = cl.getInt("unicast-users", 0, 1, 1LL << 40);
  auto uni_first = cl.getInt("unicast-first-user", 0, 0, 1LL << 40);
  for (const Status& st : {server.status(), count.status(), first.status(), network.status(),
                           heartbeat.status(), uni_users.status(), uni_first.status()}) {
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
  o.heartbeat_s = static_cast<uint16_t>(*heartbeat);
  o.reconnect = cl.has("reconnect");
  std::unique_ptr<loadgen::UnicastTally> tally;
  if (cl.has("unicast-users")) {
    tally = std::make_unique<loadgen::UnicastTally>(*uni_users, *uni_first, o.first_user, *count);
  }
  loadgen::PushClientPool pool(runner.loop(), std::move(o));
  if (tally) {
    pool.setOnPush([&tally](size_t client, const client::Push& push, int64_t now_ns) {
      tally->onPush(client, push.payload(), now_ns);
    });
  }
  std::function<void()> stats;
  if (cl.has("stats")) stats = [&pool, &tally] { printLine(statsLine(pool, tally.get())); };
  const int rc = runIdle(runner, pool, "clients", stats);
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
  cl.option("room", "HOST:PORT", "room client TCP address (none: requests only, no clients)");
  cl.option("users", "U",
            "users <prefix>K..K+U-1, one client connection each (required; at most 19000 with "
            "--room)");
  cl.option("first-user", "K", "index of the first user (default 0)");
  cl.flag("stats", "print a SENT line (cumulative counts) to stdout every second");
  cl.option("user-prefix", "P", "user name prefix (default u)");
  cl.option("http-connections", "C", "keep-alive HTTP connections to center (default 16)");
  cl.option(
      "depth", "D",
      "requests in flight per HTTP connection (closed loop), or at most (open loop); default 8");
  cl.option("seconds", "T", "measured seconds after a 1 s warm-up (default 10)");
  cl.option("rate", "R", "open loop: requests per second (default: closed loop)");
  cl.option("payload-bytes", "B", "payload size (default 32; at least the 's=<seq> t=<ns>' tag)");
  cl.option("batch", "N",
            "pushes per request, 1..1000: more than 1 posts /v1/push/batch (default 1)");
  cl.flag("timeline", "print per-second counts and latency to stderr");
  addCommon(cl);
  if (Status st = cl.parse(argc, argv); !st.isOk()) return usageError(cl, st);
  if (cl.has("help")) return std::printf("%s", cl.usage().c_str()), kExitOk;
  auto common = readCommon(cl);
  if (!common.isOk()) return usageError(cl, common.status());
  auto center = net::InetAddress::parse(cl.get("center"));
  const bool send_only = !cl.has("room");
  auto room = send_only ? Result<net::InetAddress>(net::InetAddress())
                        : net::InetAddress::parse(cl.get("room"));
  auto users = cl.getInt("users", 0, 1, send_only ? 10'000'000 : 19'000);
  auto first_user = cl.getInt("first-user", 0, 0, 1LL << 40);
  auto http = cl.getInt("http-connections", 16, 1, 1024);
  auto depth = cl.getInt("depth", 8, 1, 65536);
  auto seconds = cl.getInt("seconds", 10, 1, 3600);
  auto payload = cl.getInt("payload-bytes", 32, 1, 60 * 1024);
  auto batch = cl.getInt("batch", 1, 1, 1000);
  for (const Status& st :
       {center.status(), room.status(), users.status(), first_user.status(), http.status(),
        depth.status(), seconds.status(), payload.status(), batch.status()}) {
    if (!st.isOk()) return usageError(cl, st);
  }
  double rate = 0;
  if (cl.has("rate")) {
    auto r = parseRate(cl.get("rate"));
    if (!r.isOk()) return usageError(cl, r.status());
    rate = *r;
  }
  if (!plainName(cl.get("app")) || !plainName(cl.get("api-key")) ||
      (!send_only && cl.get("secret").empty()) || !plainName(cl.get("user-prefix", "u")) ||
      *users == 0) {
    return usageError(
        cl, invalidArgument("--app, --api-key, --secret (with --room) and --users are required "
                            "(plain names)"));
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
  o.first_user = static_cast<size_t>(*first_user);
  o.send_only = send_only;
  if (send_only) o.warmup = std::chrono::milliseconds(0);  // every request is counted
  o.stats = cl.has("stats");
  o.user_prefix = cl.get("user-prefix", "u");
  o.http_connections = static_cast<size_t>(*http);
  o.depth = static_cast<size_t>(*depth);
  o.seconds = static_cast<double>(*seconds);
  o.rate = rate;
  o.payload_bytes = static_cast<size_t>(*payload);
  o.batch = static_cast<size_t>(*batch);
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

// ---- broadcast modes

volatile std::sig_atomic_t g_end_round = 0;  // SIGUSR1: the publisher is done
void onSigusr1(int) {
  g_end_round = 1;
}

void addReceiverFlags(CommandLine& cl) {
  cl.option("clients", "N", "receiving connections (0..19000; default 0: publisher only)");
  cl.option("quiet-ms", "MS", "a round ends this long after the last receipt (default 1000)");
  cl.flag("await-signal",
          "a round ends only after SIGUSR1 (sent when the publisher is done), once quiet");
  cl.option("rounds", "R", "exit after R rounds (default 0: at SIGTERM/SIGINT)");
  cl.option("report", "PREFIX",
            "write each round's per-broadcast lines to PREFIX.<round> (for merging processes)");
  cl.option("max-broadcasts", "B",
            "broadcast numbers tallied, 1..1000000 (default 100000; a bit per client each)");
}

void addPublisherFlags(CommandLine& cl) {
  cl.option("count", "C", "broadcasts to publish (sent or skipped), 1..1000000 (default 1000)");
  cl.option("seconds", "T", "stop publishing after T seconds at most (default 30)");
  cl.option("rate", "R", "open loop: broadcasts per second (default: closed loop)");
  cl.option("window", "W", "broadcasts in flight at most, 1..65536 (default 64)");
  cl.option("payload-bytes", "B", "payload size, 48..60000 (default 256)");
}

struct ReceiverFlags {
  size_t clients = 0;
  std::chrono::milliseconds quiet{1000};
  bool await_signal = false;
  long long rounds = 0;
  std::string report;
  size_t max_broadcasts = 100'000;
};

Result<ReceiverFlags> readReceiverFlags(const CommandLine& cl) {
  ReceiverFlags f;
  ASSIGN_OR_RETURN(long long clients, cl.getInt("clients", 0, 0, 19'000));
  ASSIGN_OR_RETURN(long long quiet, cl.getInt("quiet-ms", 1000, 10, 600'000));
  ASSIGN_OR_RETURN(f.rounds, cl.getInt("rounds", 0, 0, 1'000'000));
  ASSIGN_OR_RETURN(long long max_b, cl.getInt("max-broadcasts", 100'000, 1, 1'000'000));
  f.clients = static_cast<size_t>(clients);
  f.quiet = std::chrono::milliseconds(quiet);
  f.await_signal = cl.has("await-signal");
  f.report = cl.get("report");
  f.max_broadcasts = static_cast<size_t>(max_b);
  return f;
}

// Fills the publisher options shared by every kind; `publishing` says whether the mode's
// publisher flag was given (a publisher flag without it is a mistake worth saying).
Status readPublisherFlags(const CommandLine& cl, bool publishing, double max_seconds,
                          loadgen::BroadcastPublisher::Options* o) {
  if (!publishing) {
    for (const char* f : {"count", "rate", "window", "payload-bytes"}) {
      if (cl.has(f)) return invalidArgument(std::string("--") + f + " needs a publisher");
    }
    return Status::ok();
  }
  ASSIGN_OR_RETURN(long long count, cl.getInt("count", 1000, 1, 1'000'000));
  ASSIGN_OR_RETURN(long long seconds, cl.getInt("seconds", 30, 1, 3600));
  ASSIGN_OR_RETURN(long long window, cl.getInt("window", 64, 1, 65'536));
  ASSIGN_OR_RETURN(long long bytes,
                   cl.getInt("payload-bytes", 256,
                             static_cast<long long>(loadgen::kMinBroadcastPayloadBytes), 60'000));
  if (cl.has("rate")) {
    ASSIGN_OR_RETURN(o->rate, parseRate(cl.get("rate")));
  }
  if (static_cast<double>(seconds) + 15 > max_seconds) {
    return invalidArgument("--max-seconds must leave 15 s over --seconds");
  }
  o->count = static_cast<uint64_t>(count);
  o->seconds = static_cast<double>(seconds);
  o->window = static_cast<size_t>(window);
  o->payload_bytes = static_cast<size_t>(bytes);
  return Status::ok();
}

// Runs receivers and/or a publisher: receivers first (READY), then the publisher.
int runBroadcast(Runner& runner, const std::string& impl, loadgen::BroadcastReceivers* receivers,
                 loadgen::BroadcastPublisher* publisher, long long rounds) {
  const std::string prefix = "impl=" + impl + " ";
  long long printed = 0;
  int publisher_code = kExitOk;
  auto start_publisher = [&] {
    publisher->start([&, publisher](int code) {
      publisher_code = code;
      printLine(prefix + "role=publisher " + publisher->resultLine());
      if (!receivers) runner.stop(code == 0 ? kExitOk : kExitFailed);
    });
  };
  net::PeriodicTimerPtr signal_poll;
  if (receivers) {
    std::signal(SIGUSR1, onSigusr1);
    signal_poll = net::PeriodicTimer::create(runner.loop(), [&] {
      if (g_end_round) {
        g_end_round = 0;
        receivers->requestEndOfRound();
      }
    });
    signal_poll->start(std::chrono::milliseconds(100));
    receivers->start(
        [&](size_t ready, size_t failed, const std::string& first_error) {
          if (failed > 0) {
            printLine("FAILED " + std::to_string(failed) + " " + first_error);
            return runner.stop(kExitFailed);
          }
          printLine("READY " + std::to_string(ready));
          if (publisher) start_publisher();
        },
        [&](const std::string& line) {
          printLine(prefix + "role=receiver " + line);
          if (rounds > 0 && ++printed >= rounds) runner.stop(kExitOk);
        });
  } else {
    start_publisher();
  }
  const int rc = runner.run([&] {
    signal_poll.reset();
    if (receivers) receivers->close();
    if (publisher) publisher->close();
  });
  return rc != kExitOk ? rc : publisher_code;
}

loadgen::BroadcastReceivers::Options receiverOptions(const Common& common, const ReceiverFlags& f,
                                                     const net::InetAddress& server) {
  loadgen::BroadcastReceivers::Options o;
  o.connect.server = server;
  o.connect.sources = common.sources;
  o.connect.count = f.clients;
  o.connect.rate_per_s = common.connect_rate;
  o.quiet = f.quiet;
  o.await_request = f.await_signal;
  o.report_prefix = f.report;
  o.max_broadcasts = f.max_broadcasts;
  return o;
}

int broadcastMode(int argc, char** argv) {
  CommandLine cl("push-load broadcast",
                 "broadcasts through center's POST /v1/broadcast, counted by clients of a room");
  cl.option("room", "HOST:PORT", "room client TCP address (with --clients)");
  cl.option("app", "APP", "app (required)");
  cl.option("secret", "SECRET", "the app's token secret (with --clients)");
  cl.option("user-prefix", "P", "user of client i is P<first-user + i> (default u)");
  cl.option("first-user", "K", "index of the first user (default 0)");
  cl.option("center", "HOST:PORT", "publish: center HTTP API address");
  cl.option("api-key", "KEY", "API key of the app at center (with --center)");
  cl.option("http-connections", "C", "keep-alive HTTP connections to center (default 4)");
  cl.option("qos", "Q", "qos of the broadcasts, 0 or 1 (default 0)");
  addReceiverFlags(cl);
  addPublisherFlags(cl);
  addCommon(cl);
  if (Status st = cl.parse(argc, argv); !st.isOk()) return usageError(cl, st);
  if (cl.has("help")) return std::printf("%s", cl.usage().c_str()), kExitOk;
  auto common = readCommon(cl);
  if (!common.isOk()) return usageError(cl, common.status());
  auto flags = readReceiverFlags(cl);
  if (!flags.isOk()) return usageError(cl, flags.status());
  const bool publishing = cl.has("center");
  if (!plainName(cl.get("app"))) return usageError(cl, invalidArgument("--app is required"));
  if (flags->clients == 0 && !publishing) {
    return usageError(cl, invalidArgument("nothing to do: give --clients N and/or --center"));
  }
  loadgen::BroadcastPublisher::Options po;
  if (Status st = readPublisherFlags(cl, publishing, common->max_seconds, &po); !st.isOk()) {
    return usageError(cl, st);
  }
  if (publishing) {
    auto center = net::InetAddress::parse(cl.get("center"));
    auto http = cl.getInt("http-connections", 4, 1, 1024);
    auto qos = cl.getInt("qos", 0, 0, 1);
    for (const Status& st : {center.status(), http.status(), qos.status()}) {
      if (!st.isOk()) return usageError(cl, st);
    }
    if (!plainName(cl.get("api-key"))) {
      return usageError(cl, invalidArgument("--api-key is required with --center"));
    }
    po.kind = loadgen::BroadcastPublisher::Kind::Center;
    po.servers = {*center};
    po.api_key = cl.get("api-key");
    po.app = cl.get("app");
    po.qos = static_cast<uint32_t>(*qos);
    po.http_connections = static_cast<size_t>(*http);
    if (!common->sources.empty()) po.source = &common->sources.front();
  } else if (cl.has("api-key") || cl.has("qos") || cl.has("http-connections")) {
    return usageError(cl, invalidArgument("--api-key, --qos, --http-connections need --center"));
  }
  std::unique_ptr<loadgen::BroadcastReceivers::Options> ro;
  if (flags->clients > 0) {
    auto room = net::InetAddress::parse(cl.get("room"));
    auto first = cl.getInt("first-user", 0, 0, 1LL << 40);
    for (const Status& st : {room.status(), first.status()}) {
      if (!st.isOk()) return usageError(cl, st);
    }
    if (cl.get("secret").empty() || !plainName(cl.get("user-prefix", "u"))) {
      return usageError(cl, invalidArgument("--secret is required with --clients"));
    }
    ro = std::make_unique<loadgen::BroadcastReceivers::Options>(
        receiverOptions(*common, *flags, *room));
    ro->kind = loadgen::BroadcastReceivers::Kind::Push;
    ro->app = cl.get("app");
    ro->secret = cl.get("secret");
    ro->user_prefix = cl.get("user-prefix", "u");
    ro->first_user = static_cast<size_t>(*first);
  }
  Runner runner(common->max_seconds);
  std::unique_ptr<loadgen::BroadcastReceivers> receivers;
  if (ro) receivers = std::make_unique<loadgen::BroadcastReceivers>(runner.loop(), std::move(*ro));
  std::unique_ptr<loadgen::BroadcastPublisher> publisher;
  if (publishing) {
    publisher = std::make_unique<loadgen::BroadcastPublisher>(runner.loop(), std::move(po));
  }
  return runBroadcast(runner, "push mode=broadcast", receivers.get(), publisher.get(),
                      flags->rounds);
}

int redisBroadcastMode(int argc, char** argv) {
  CommandLine cl("push-load redis-broadcast",
                 "the broadcast baseline: Redis PUBLISH, counted by SUBSCRIBE connections");
  cl.option("server", "HOST:PORT", "redis-server the receivers subscribe to (with --clients)");
  cl.option("channel", "NAME", "channel (default push-bench)");
  cl.option("publish-to", "H:P[,H:P]",
            "publish: every broadcast goes to each of these redis-servers");
  addReceiverFlags(cl);
  addPublisherFlags(cl);
  addCommon(cl);
  if (Status st = cl.parse(argc, argv); !st.isOk()) return usageError(cl, st);
  if (cl.has("help")) return std::printf("%s", cl.usage().c_str()), kExitOk;
  auto common = readCommon(cl);
  if (!common.isOk()) return usageError(cl, common.status());
  auto flags = readReceiverFlags(cl);
  if (!flags.isOk()) return usageError(cl, flags.status());
  const bool publishing = cl.has("publish-to");
  const std::string channel = cl.get("channel", "push-bench");
  if (!plainName(channel)) return usageError(cl, invalidArgument("--channel: a plain name"));
  if (flags->clients == 0 && !publishing) {
    return usageError(cl, invalidArgument("nothing to do: give --clients N and/or --publish-to"));
  }
  loadgen::BroadcastPublisher::Options po;
  if (Status st = readPublisherFlags(cl, publishing, common->max_seconds, &po); !st.isOk()) {
    return usageError(cl, st);
  }
  if (publishing) {
    const std::string list_flag = cl.get("publish-to");
    std::string_view list = list_flag;
    po.kind = loadgen::BroadcastPublisher::Kind::Redis;
    po.channel = channel;
    while (!list.empty()) {
      const size_t comma = list.find(',');
      auto a = net::InetAddress::parse(list.substr(0, comma));
      if (!a.isOk()) return usageError(cl, a.status());
      po.servers.push_back(*a);
      list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    }
    if (po.servers.empty()) return usageError(cl, invalidArgument("--publish-to: no address"));
  }
  std::unique_ptr<loadgen::BroadcastReceivers::Options> ro;
  if (flags->clients > 0) {
    auto server = net::InetAddress::parse(cl.get("server"));
    if (!server.isOk()) return usageError(cl, server.status());
    ro = std::make_unique<loadgen::BroadcastReceivers::Options>(
        receiverOptions(*common, *flags, *server));
    ro->kind = loadgen::BroadcastReceivers::Kind::Redis;
    ro->channel = channel;
  }
  Runner runner(common->max_seconds);
  std::unique_ptr<loadgen::BroadcastReceivers> receivers;
  if (ro) receivers = std::make_unique<loadgen::BroadcastReceivers>(runner.loop(), std::move(*ro));
  std::unique_ptr<loadgen::BroadcastPublisher> publisher;
  if (publishing) {
    publisher = std::make_unique<loadgen::BroadcastPublisher>(runner.loop(), std::move(po));
  }
  return runBroadcast(runner, "redis mode=broadcast", receivers.get(), publisher.get(),
                      flags->rounds);
}

int rawBroadcastMode(int argc, char** argv) {
  CommandLine cl("push-load raw-broadcast",
                 "receivers of push-broadcast-floor: bare length-prefixed frames, counted");
  cl.option("server", "HOST:PORT", "push-broadcast-floor address (required)");
  addReceiverFlags(cl);
  addCommon(cl);
  if (Status st = cl.parse(argc, argv); !st.isOk()) return usageError(cl, st);
  if (cl.has("help")) return std::printf("%s", cl.usage().c_str()), kExitOk;
  auto common = readCommon(cl);
  if (!common.isOk()) return usageError(cl, common.status());
  auto flags = readReceiverFlags(cl);
  if (!flags.isOk()) return usageError(cl, flags.status());
  auto server = net::InetAddress::parse(cl.get("server"));
  if (!server.isOk()) return usageError(cl, server.status());
  if (flags->clients == 0) return usageError(cl, invalidArgument("--clients is required"));
  auto ro = receiverOptions(*common, *flags, *server);
  ro.kind = loadgen::BroadcastReceivers::Kind::Raw;
  Runner runner(common->max_seconds);
  loadgen::BroadcastReceivers receivers(runner.loop(), std::move(ro));
  return runBroadcast(runner, "floor mode=broadcast", &receivers, nullptr, flags->rounds);
}

const char kUsage[] =
    "usage: push-load MODE [flags]   (push-load MODE --help lists the flags)\n"
    "  idle        N idle authenticated client connections to a room; READY <n>\n"
    "  redis-idle  N idle Redis SUBSCRIBE connections (baseline); READY <n>\n"
    "  unicast     pushes through center's POST /v1/push to clients of a room; one result line\n"
    "  broadcast   POST /v1/broadcast publisher and/or room clients counting the broadcasts\n"
    "  redis-broadcast  the same with Redis PUBLISH / SUBSCRIBE (baseline)\n"
    "  raw-broadcast    clients of push-broadcast-floor (the raw-epoll baseline)\n";

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
  if (mode == "broadcast") return broadcastMode(argc - 1, argv + 1);
  if (mode == "redis-broadcast") return redisBroadcastMode(argc - 1, argv + 1);
  if (mode == "raw-broadcast") return rawBroadcastMode(argc - 1, argv + 1);
  if (mode == "--help" || mode == "help") {
    std::fputs(kUsage, stdout);
    return kExitOk;
  }
  std::fprintf(stderr, "push-load: unknown mode '%s'\n%s", argv[1], kUsage);
  return kExitUsage;
}

// push-load: the load generator of the memory, unicast and broadcast benchmarks
// (loadtest/README.md). One libuv loop, one process; run several processes (and source addresses)
// for more connections than one process may open (20000 files here).
//
//   push-load idle (--server H:P | --dispatcher H:P) --app A --secret S --connections N [--sources
//   A-B]
//                  [--connect-rate R/s] [--user-prefix P] [--first-user K] [--network wifi]
//                  [--heartbeat S] [--stats] [--reconnect] [--unicast-users U] [--broadcasts C]
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
//   push-load webhook --listen H:P [--stats]   (the app webhook of push-loadtest upstream)
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
// idle --dispatcher H:P (instead of --server) first asks push-dispatcher for every user's room
// (RouteResolver: GET /v1/route, pipelined) and connects each client to the first tcp endpoint
// of its answer; a refused route prints "FAILED <n> dispatcher: <why>" and exits 1.
// idle --upstream-rate R [--upstream-seconds T] [--upstream-bytes B] sends R Upstream frames a
// second from its clients in turn for T seconds once it gets SIGUSR1 (UpstreamLoad), and adds
// "up=<sent>,<ok>,<errors>,<skipped>,<unmatched>,<done: 1 once its T seconds are over>
// up_errors=<code:count,...|-> lat=<histogram of that second's ok acks' latency from the send>" to
// each STATS line. idle --broadcasts C counts broadcasts 0..C-1 of a `broadcast` publisher per
// client (BroadcastTally) and adds "bc=<receipts>,<unique>,<duplicates>,<unmatched>,<out_of_range>,
// <steady_clock ns of the last receipt> lat=<histogram of that second's first copies' latency>".
// unicast prints one "impl=push mode=unicast ..." line and exits 0 (1 when the setup failed);
// before it, "MEASURING" and "MEASURED" mark the measured window (for sampling the servers' CPU);
// with --stats also a "SENT sent= responses= delivered= offline= errors= skipped= cpu_ms=" line
// a second (cumulative) and one when done.
// The broadcast modes (loadtest/README.md) print READY/FAILED for their receivers, one "impl=...
// role=receiver round=<k> ..." line per round (with --await-signal a round ends only after SIGUSR1,
// once quiet), and one "impl=... role=publisher ..." line when the publisher is done.
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "loadtest/loadgen/broadcast_modes.h"
#include "loadtest/loadgen/broadcast_payload.h"
#include "loadtest/loadgen/broadcast_tally.h"
#include "loadtest/loadgen/mode_common.h"
#include "loadtest/loadgen/push_client_pool.h"
#include "loadtest/loadgen/redis_client_pool.h"
#include "loadtest/loadgen/route_resolver.h"
#include "loadtest/loadgen/unicast_load.h"
#include "loadtest/loadgen/unicast_tally.h"
#include "loadtest/loadgen/upstream_load.h"
#include "loadtest/loadgen/webhook_mode.h"

namespace {

using namespace push;
using namespace push::loadgen;

volatile std::sig_atomic_t g_start_upstream = 0;  // SIGUSR1: start sending upstream
void onStartUpstream(int) {
  g_start_upstream = 1;
}

std::string statsLine(loadgen::PushClientPool& pool, loadgen::UnicastTally* tally,
                      loadgen::BroadcastTally* broadcasts, loadgen::UpstreamLoad* upstream) {
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
  if (broadcasts) {
    line += " bc=";
    for (uint64_t n : {broadcasts->receipts(), broadcasts->unique(), broadcasts->duplicates(),
                       broadcasts->unmatched(), broadcasts->outOfRange(),
                       static_cast<uint64_t>(broadcasts->lastReceiptNs())}) {
      line += std::to_string(n) + ",";
    }
    line.back() = ' ';
    line += "lat=" + broadcasts->takeLatency().encode();
  }
  if (upstream) {
    line += " up=";
    for (uint64_t n : {upstream->sent(), upstream->ok(), upstream->errors(), upstream->skipped(),
                       upstream->unmatched(), uint64_t{upstream->done()}}) {
      line += std::to_string(n) + ",";
    }
    line.back() = ' ';
    line += "up_errors=" + upstream->errorsByCode() + " lat=" + upstream->takeLatency().encode();
  }
  return line;
}

// Prints READY/FAILED once settled and LOST when idle connections close under us.
// `start` (default: pool.start()) begins the connecting; `close_also` closes what else the
// mode opened, before the loop shuts down.
template <typename Pool>
int runIdle(Runner& runner, Pool& pool, const char* what,
            const std::function<void()>& every_second = nullptr,
            const std::function<void()>& start = nullptr,
            const std::function<void()>& close_also = nullptr) {
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
  if (start) {
    start();
  } else {
    pool.start();
  }
  return runner.run([&] {
    watch.reset();
    if (every_second) every_second();  // the last counts, before our own closes
    if (close_also) close_also();
    pool.close();
  });
}

int idleMode(int argc, char** argv) {
  CommandLine cl("push-load idle", "N idle authenticated client connections to a room");
  cl.option("server", "HOST:PORT", "room client TCP address (this or --dispatcher)");
  cl.option("dispatcher", "HOST:PORT",
            "ask push-dispatcher (GET /v1/route) for each user's room first, as the SDK does, "
            "and connect to the first tcp endpoint of its answer");
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
  cl.option("upstream-rate", "R",
            "send R Upstream frames a second from the clients in turn, from SIGUSR1 on "
            "(with --stats)");
  cl.option("upstream-seconds", "T", "for T seconds (default 10)");
  cl.option("upstream-bytes", "B", "payload size of each, 64..60000 (default 64)");
  cl.option("broadcasts", "C",
            "count broadcasts 0..C-1 of a `broadcast` publisher, each per client (with --stats)");
  addCommon(cl);
  if (Status st = cl.parse(argc, argv); !st.isOk()) return usageError(cl, st);
  if (cl.has("help")) return std::printf("%s", cl.usage().c_str()), kExitOk;
  auto common = readCommon(cl);
  if (!common.isOk()) return usageError(cl, common.status());
  const bool routed = cl.has("dispatcher");
  if (routed == cl.has("server")) {
    return usageError(cl, invalidArgument("give --server or --dispatcher (one of them)"));
  }
  auto server = net::InetAddress::parse(cl.get(routed ? "dispatcher" : "server"));
  auto count = cl.getInt("connections", 0, 1, 1'000'000);
  auto first = cl.getInt("first-user", 0, 0, 1LL << 40);
  auto network = parseNetwork(cl.get("network", "wifi"));
  auto heartbeat = cl.getInt("heartbeat", 0, 1, 65535);
  auto uni_users = cl.getInt("unicast-users", 0, 1, 1LL << 40);
  auto uni_first = cl.getInt("unicast-first-user", 0, 0, 1LL << 40);
  auto broadcasts = cl.getInt("broadcasts", 0, 1, 1'000'000);
  auto up_rate = cl.has("upstream-rate") ? parseRate(cl.get("upstream-rate")) : Result<double>(0.0);
  auto up_seconds = cl.getInt("upstream-seconds", 10, 1, 86'400);
  auto up_bytes = cl.getInt("upstream-bytes", 64,
                            static_cast<long long>(loadgen::kMinUpstreamPayloadBytes), 60'000);
  for (const Status& st :
       {server.status(), count.status(), first.status(), network.status(), heartbeat.status(),
        uni_users.status(), uni_first.status(), broadcasts.status(), up_rate.status(),
        up_seconds.status(), up_bytes.status()}) {
    if (!st.isOk()) return usageError(cl, st);
  }
  if (!plainName(cl.get("app")) || cl.get("secret").empty() || *count == 0) {
    return usageError(cl, invalidArgument("--app, --secret and --connections are required"));
  }
  Runner runner(common->max_seconds, common->input_gather);
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
  std::unique_ptr<loadgen::RouteResolver> routes;
  if (routed) {
    loadgen::RouteResolver::Options ro;
    ro.dispatcher = *server;
    ro.app = o.app;
    ro.user_prefix = o.user_prefix;
    ro.first_user = o.first_user;
    ro.count = o.connect.count;
    ro.network = cl.get("network", "wifi");
    routes = std::make_unique<loadgen::RouteResolver>(runner.loop(), std::move(ro));
  }
  std::unique_ptr<loadgen::UnicastTally> tally;
  if (cl.has("unicast-users")) {
    tally = std::make_unique<loadgen::UnicastTally>(*uni_users, *uni_first, o.first_user, *count);
  }
  if (int{tally != nullptr} + int{cl.has("broadcasts")} + int{cl.has("upstream-rate")} > 1) {
    return usageError(
        cl, invalidArgument("--unicast-users, --broadcasts, --upstream-rate: one at most"));
  }
  std::unique_ptr<loadgen::BroadcastTally> broadcast_tally;
  if (cl.has("broadcasts")) {
    broadcast_tally = std::make_unique<loadgen::BroadcastTally>(static_cast<size_t>(*count),
                                                                static_cast<size_t>(*broadcasts),
                                                                /*track_latency=*/true);
  }
  loadgen::PushClientPool pool(runner.loop(), std::move(o));
  if (broadcast_tally) {
    // Broadcasts are read from the wire bytes (no Frame parse per copy), as the broadcast
    // benchmark's receivers do; a QoS-1 one goes on to the pool, which acks it.
    pool.setOnRawFrame([&broadcast_tally](size_t client, std::string_view frame, int64_t read_ns) {
      loadgen::PushView push;
      if (!loadgen::decodePushFrame(frame, &push) || push.broadcast_seq == 0) return false;
      broadcast_tally->receipt(client, push.payload, read_ns);
      return push.qos == 0;
    });
  }
  if (tally) {
    pool.setOnPush([&tally](size_t client, const client::Push& push, int64_t now_ns) {
      tally->onPush(client, push.payload(), now_ns);
    });
  }
  std::unique_ptr<loadgen::UpstreamLoad> upstream;
  net::PeriodicTimerPtr upstream_signal;
  if (cl.has("upstream-rate")) {
    loadgen::UpstreamLoad::Options uo;
    uo.rate = *up_rate;
    uo.seconds = static_cast<double>(*up_seconds);
    uo.payload_bytes = static_cast<size_t>(*up_bytes);
    uo.first_user = static_cast<size_t>(*first);
    upstream = std::make_unique<loadgen::UpstreamLoad>(runner.loop(), pool, uo);
    pool.setOnUpstreamAck([&upstream](size_t client, const client::UpstreamAck& ack,
                                      int64_t now_ns) { upstream->onAck(client, ack, now_ns); });
    // push-loadtest signals every worker once all are connected: the sending starts together.
    std::signal(SIGUSR1, onStartUpstream);
    upstream_signal = net::PeriodicTimer::create(runner.loop(), [&upstream] {
      if (g_start_upstream) upstream->start();
    });
    upstream_signal->start(std::chrono::milliseconds(10));
  }
  std::function<void()> stats;
  if (cl.has("stats")) {
    stats = [&pool, &tally, &broadcast_tally, &upstream] {
      printLine(statsLine(pool, tally.get(), broadcast_tally.get(), upstream.get()));
    };
  }
  std::function<void()> start;
  if (routes) {
    // Every user's room first (the SDK asks before it connects), then the same ramp.
    start = [&] {
      routes->start([&](const Status& st) {
        if (!st.isOk()) {
          std::fprintf(stderr, "push-load: %s\n", st.message().c_str());
          printLine("FAILED " + std::to_string(*count) + " dispatcher: " + st.message());
          return runner.stop(kExitFailed);
        }
        pool.setServers(routes->routes());
        pool.start();
      });
    };
  }
  const int rc =
      runIdle(runner, pool, "clients", stats, start, [&routes, &upstream, &upstream_signal] {
        if (routes) routes->close();
        upstream_signal.reset();
        if (upstream) upstream->close();
      });
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
  Runner runner(common->max_seconds, common->input_gather);
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
  Runner runner(common->max_seconds, common->input_gather);
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

const char kUsage[] =
    "usage: push-load MODE [flags]   (push-load MODE --help lists the flags)\n"
    "  idle        N idle authenticated client connections to a room; READY <n>\n"
    "  redis-idle  N idle Redis SUBSCRIBE connections (baseline); READY <n>\n"
    "  unicast     pushes through center's POST /v1/push to clients of a room; one result line\n"
    "  broadcast   POST /v1/broadcast publisher and/or room clients counting the broadcasts\n"
    "  redis-broadcast  the same with Redis PUBLISH / SUBSCRIBE (baseline)\n"
    "  raw-broadcast    clients of push-broadcast-floor (the raw-epoll baseline)\n"
    "  webhook     the app webhook of push-loadtest upstream: counts the items it is POSTed\n";

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
  if (mode == "webhook") return webhookMode(argc - 1, argv + 1);
  if (mode == "--help" || mode == "help") {
    std::fputs(kUsage, stdout);
    return kExitOk;
  }
  std::fprintf(stderr, "push-load: unknown mode '%s'\n%s", argv[1], kUsage);
  return kExitUsage;
}

#include "loadtest/loadgen/broadcast_modes.h"

#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "loadtest/loadgen/broadcast_payload.h"
#include "loadtest/loadgen/broadcast_publisher.h"
#include "loadtest/loadgen/broadcast_receivers.h"
#include "loadtest/loadgen/mode_common.h"

namespace push::loadgen {
namespace {

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

// Builds the receivers (when `ro` is set) and the publisher (when `po` is) on one Runner and
// runs them (runBroadcast).
int runParts(double max_seconds, const std::string& impl,
             std::unique_ptr<loadgen::BroadcastReceivers::Options> ro,
             loadgen::BroadcastPublisher::Options* po, long long rounds) {
  Runner runner(max_seconds);
  std::unique_ptr<loadgen::BroadcastReceivers> receivers;
  if (ro) receivers = std::make_unique<loadgen::BroadcastReceivers>(runner.loop(), std::move(*ro));
  std::unique_ptr<loadgen::BroadcastPublisher> publisher;
  if (po) publisher = std::make_unique<loadgen::BroadcastPublisher>(runner.loop(), std::move(*po));
  return runBroadcast(runner, impl, receivers.get(), publisher.get(), rounds);
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

}  // namespace

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
  return runParts(common->max_seconds, "push mode=broadcast", std::move(ro),
                  publishing ? &po : nullptr, flags->rounds);
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
  return runParts(common->max_seconds, "redis mode=broadcast", std::move(ro),
                  publishing ? &po : nullptr, flags->rounds);
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
  auto ro = std::make_unique<loadgen::BroadcastReceivers::Options>(
      receiverOptions(*common, *flags, *server));
  ro->kind = loadgen::BroadcastReceivers::Kind::Raw;
  return runParts(common->max_seconds, "floor mode=broadcast", std::move(ro), nullptr,
                  flags->rounds);
}

}  // namespace push::loadgen

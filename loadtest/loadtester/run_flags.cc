#include "loadtest/loadtester/run_flags.h"

#include "loadtest/loadgen/source_addresses.h"

namespace push::loadtester {

const char kScenarioSummary[] =
    "connect: ramp N connections; hold: ramp them and hold them T seconds; "
    "reconnect-storm: ramp them, drop some with a command, time their return; "
    "unicast: ramp them, push to each through center, count every push; "
    "broadcast: ramp them, broadcast to all through center, count every copy; "
    "upstream: ramp them, send Upstream frames, count every ack and webhook item";

bool knownScenario(const std::string& s) {
  return s == "connect" || s == "hold" || s == "reconnect-storm" || s == "unicast" ||
         s == "broadcast" || s == "upstream";
}

void defineFlags(CommandLine& cl) {
  cl.option("server", "HOST:PORT", "room client TCP address (this or --dispatcher)");
  cl.option("dispatcher", "HOST:PORT",
            "route through push-dispatcher: each worker asks GET /v1/route for every user's room "
            "before connecting, as the SDK does (instead of --server)");
  cl.option("app", "APP", "app of the tokens (required)");
  cl.option("secret", "SECRET", "the app's token secret (required)");
  cl.option("connections", "N", "connections in all, 1..10000000 (required)");
  cl.option("seconds", "T",
            "hold: seconds to hold them after the last one connected; reconnect-storm: seconds "
            "for every dropped client to be back; unicast, broadcast, upstream: seconds of sending "
            "at most (60)");
  cl.option("storm-command", "CMD",
            "reconnect-storm: shell command that drops connections, run once all are in; "
            "unicast: run --storm-after seconds into the sending (clients then reconnect)");
  cl.option("storm-after", "S",
            "unicast: seconds after the sending starts to run --storm-command (default T/3)");
  cl.option("center", "HOST:PORT", "unicast, broadcast: center's HTTP API address (required)");
  cl.option("webhook", "HOST:PORT",
            "upstream: where push-loadtest's webhook receiver listens (required; the "
            "coordinator's upstream_url for the app: http://HOST:PORT/upstream)");
  cl.option("api-key", "KEY", "unicast, broadcast: the app's API key at center (required)");
  cl.option("rate", "R",
            "unicast: pushes per second, 1..10000000 (default 1000); broadcast: broadcasts per "
            "second (default 1); upstream: Upstream frames per second (default 100)");
  cl.option("http-connections", "C", "unicast, broadcast: HTTP connections to center (default 16)");
  cl.option("count", "C", "broadcast: broadcasts to send, 1..100000 (default 10)");
  cl.option("qos", "Q", "broadcast: qos of the broadcasts, 0 or 1 (default 0)");
  cl.option("depth", "D", "unicast: requests in flight per HTTP connection at most (default 64)");
  cl.option("payload-bytes", "B",
            "unicast: payload size, 32..4096 (default 64); broadcast: 48..4096 (default 256); "
            "upstream: 64..4096 (default 64)");
  cl.option("batch", "N",
            "unicast: pushes per request, 1..1000; over 1 posts /v1/push/batch (default 1)");
  cl.option("per-worker", "M", "connections per worker process, 1..19000 (default 18000)");
  cl.option("sources", "A-B", "source addresses, split over the workers (default: any)");
  cl.option("connect-rate", "R", "new connections per second in all (default 5000)");
  cl.option("heartbeat", "S", "seconds between Pings (default: what the room proposes)");
  cl.option("input-gather-us", "N",
            "the workers' loops sleep N us after a turn that read, 0..100000 (default 0: off)");
  cl.option("user-prefix", "P", "user of connection i is P<first-user + i> (default u)");
  cl.option("first-user", "K", "index of the first user (default 0)");
  cl.option("network", "TYPE", "network in Auth: wifi (default), cellular, ethernet, unknown");
  cl.option("out", "DIR",
            "directory for the report and worker logs (default push-loadtest-<time>)");
  cl.option("max-seconds", "S", "hard limit on the whole run; exit status 3 (default 3600)");
  cl.option("load-bin", "PATH", "the push-load binary (default: next to this one)");
  cl.flag("help", "print this help");
}

Result<RunFlags> readFlags(const CommandLine& cl, const std::string& scenario) {
  const bool hold = scenario == "hold";
  const bool storm = scenario == "reconnect-storm";
  const bool unicast = scenario == "unicast";
  const bool broadcast = scenario == "broadcast";
  // A sending process after the ramp: unicast's sender or broadcast's publisher.
  const bool traffic = unicast || broadcast;
  const bool upstream = scenario == "upstream";
  // A storm in the run: the reconnect-storm scenario, or one during unicast's sending.
  const bool storming = storm || (unicast && cl.has("storm-command"));
  auto connections = cl.getInt("connections", 0, 1, 10'000'000);
  auto seconds = cl.getInt("seconds", 60, 1, 86'400);
  auto per_worker = cl.getInt("per-worker", 18'000, 1, 19'000);
  auto first_user = cl.getInt("first-user", 0, 0, 1LL << 40);
  auto max_seconds = cl.getInt("max-seconds", 3600, 1, 7 * 86'400);
  auto heartbeat = cl.getInt("heartbeat", 0, 1, 65'535);
  auto gather = cl.getInt("input-gather-us", 0, 0, 100'000);
  auto rate = cl.getInt("connect-rate", 5000, 1, 1'000'000);
  auto sources = loadgen::parseSourceAddresses(cl.get("sources"));
  auto push_rate = cl.getInt("rate", broadcast ? 1 : upstream ? 100 : 1000, 1, 10'000'000);
  auto http = cl.getInt("http-connections", 16, 1, 1024);
  auto depth = cl.getInt("depth", 64, 1, 65'536);
  auto payload = broadcast  ? cl.getInt("payload-bytes", 256, 48, 4096)
                 : upstream ? cl.getInt("payload-bytes", 64, 64, 4096)
                            : cl.getInt("payload-bytes", 64, 32, 4096);
  auto batch = cl.getInt("batch", 1, 1, 1000);
  auto count = cl.getInt("count", 10, 1, 100'000);
  auto qos = cl.getInt("qos", 0, 0, 1);
  for (const Status& st :
       {connections.status(), seconds.status(), per_worker.status(), first_user.status(),
        max_seconds.status(), heartbeat.status(), gather.status(), rate.status(), sources.status(),
        push_rate.status(), http.status(), depth.status(), payload.status(), batch.status(),
        count.status(), qos.status()}) {
    if (!st.isOk()) return st;
  }
  if (cl.has("server") == cl.has("dispatcher")) {
    return invalidArgument("give --server or --dispatcher (one of them)");
  }
  const char* target_flag = cl.has("dispatcher") ? "dispatcher" : "server";
  for (const char* required : {"app", "secret", "connections"}) {
    if (!cl.has(required)) return invalidArgument(std::string("--") + required + " is required");
  }
  if (scenario == "connect" && cl.has("seconds")) {
    return invalidArgument("--seconds is not for connect (it ends once all are in)");
  }
  for (const char* flag : {"center", "api-key", "http-connections"}) {
    if (cl.has(flag) && !traffic) {
      return invalidArgument(std::string("--") + flag + " is for unicast and broadcast");
    }
  }
  for (const char* flag : {"rate", "payload-bytes"}) {
    if (cl.has(flag) && !traffic && !upstream) {
      return invalidArgument(std::string("--") + flag + " is for unicast, broadcast and upstream");
    }
  }
  if (upstream != cl.has("webhook")) {
    return invalidArgument(upstream ? "upstream needs --webhook" : "--webhook is for upstream");
  }
  for (const char* flag : {"depth", "batch"}) {
    if (cl.has(flag) && !unicast)
      return invalidArgument(std::string("--") + flag + " is for unicast");
  }
  for (const char* flag : {"count", "qos"}) {
    if (cl.has(flag) && !broadcast)
      return invalidArgument(std::string("--") + flag + " is for broadcast");
  }
  if (traffic && (!cl.has("center") || !cl.has("api-key"))) {
    return invalidArgument(scenario + " needs --center and --api-key");
  }
  if (storm && !cl.has("storm-command")) return invalidArgument("--storm-command is required");
  if (!storming && cl.has("storm-command")) {
    return invalidArgument("--storm-command is for reconnect-storm and unicast");
  }
  auto storm_after = cl.getInt("storm-after", *seconds / 3, 0, 86'400);
  if (!storm_after.isOk()) return storm_after.status();
  if (cl.has("storm-after") && !(unicast && storming)) {
    return invalidArgument("--storm-after is for unicast with --storm-command");
  }
  RunFlags f;
  f.scenario = scenario;
  f.hold = hold;
  f.storm = storm;
  f.unicast = unicast;
  f.broadcast = broadcast;
  f.upstream = upstream;
  f.traffic = traffic;
  f.storming = storming;
  f.target_flag = target_flag;
  f.connections = *connections;
  f.seconds = *seconds;
  f.per_worker = *per_worker;
  f.first_user = *first_user;
  f.max_seconds = *max_seconds;
  f.heartbeat = *heartbeat;
  f.input_gather_us = *gather;
  f.connect_rate = *rate;
  f.sources = *sources;
  f.rate = *push_rate;
  f.http = *http;
  f.depth = *depth;
  f.payload = *payload;
  f.batch = *batch;
  f.count = *count;
  f.qos = *qos;
  f.storm_after = *storm_after;
  return f;
}

}  // namespace push::loadtester

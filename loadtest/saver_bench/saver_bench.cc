// push-saver-bench: drives a running push-saver (services/saver) over rpc::Channel, as center
// and rooms do, for loadtest/run_offline_bench.sh.
//
//   push-saver-bench store-ack --target HOST:PORT [--messages N] [--users U] [--depth D]
//                    [--batch B] [--payload P] [--pid SAVER_PID] [--max-seconds S]
//   push-saver-bench replay    --target HOST:PORT [--users U] [--per-user M] [--limit L]
//                    [--depth D] [--batch B] [--payload P] [--pid SAVER_PID] [--max-seconds S]
//                    [--redis-pid REDIS_PID]
//   push-saver-bench stats     --target HOST:PORT   only the STATS line below
//   all: [--app A] [--connections C] (Channel connections, default 2) [--drain-seconds S]
//
// store-ack: N QoS 1 messages, message i to user "u<i % U>". D lanes run at once; a lane
// Stores B messages in one call (one StoreItem per message with its one user, as center's
// unicast Store batches them), then Acks those B in one call grouped per user (as a room
// batches its clients' acks), then takes the next B. Every message is stored and acked once;
// the inbox stays small as with online clients. Prints
//   mode=store-ack messages=... stored=... acked=... seconds=... stored_acked_per_s=...
//   store_calls=... ack_calls=... errors=... cpu_saver=... complete=0|1
// cpu_saver is the saver's CPU (cores) over the window when --pid is given, -1 otherwise.
//
// replay: stores M (default 100) messages for each of U users (not timed beyond its own
// rate), then Loads (user, limit L = 100) once per user as a room does when the client
// authenticates, D Loads in flight. Prints
//   mode=replay users=... per_user=... setup_per_s=... setup_drain_s=... loads=... seconds=...
//   loads_per_s=...
//   p50_ms=... p99_ms=... max_ms=... full=... errors=... cpu_saver=... complete=0|1
// With --drain-seconds the Loads start once the setup's write-behind reached MySQL (offline
// messages were stored before their users connect; setup_drain_s is that wait).
// full = Loads that returned L messages; cpu_redis (with --redis-pid) is Redis's CPU over the
// Loads, cores.
//
// Bounded: each phase stops issuing calls after --max-seconds (default 60) and waits at most
// 15 s more for the calls in flight; a run cut short prints complete=0 and exits 1. Any failed
// call counts in errors (the first five are printed on stderr) and makes the exit code 1.
// After the run it asks saver for Stats and prints "STATS ... write_behind_backlog=...
// drain_s=..."; with --drain-seconds S it first waits up to S s for the write-behind's
// backlog to reach 0 (MySQL caught up) and drain_s is how long that took.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/base/log.h"
#include "common/net/event_loop.h"
#include "common/rpc/channel.h"
#include "common/rpc/controller.h"
#include "proto/saver.pb.h"

namespace {

using namespace push;
using Clock = std::chrono::steady_clock;

struct Args {
  std::string mode, target, app = "bench";
  uint64_t messages = 100000;
  uint32_t users = 1000, depth = 8, batch = 100, payload = 64, per_user = 100, limit = 100;
  uint32_t connections = 2;
  int pid = 0, redis_pid = 0;
  double max_seconds = 60;
  double drain_seconds = 0;
};

double secondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// CPU ticks (user + system) of a process, -1 when it cannot be read. Fields 14 and 15 of
// /proc/<pid>/stat, counted after the command name (which may hold spaces) in parentheses.
long long cpuTicks(int pid) {
  if (pid <= 0) return -1;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return -1;
  long long utime = 0, stime = 0;
  // After ") ": state(3) ppid(4) ... utime(14) stime(15).
  if (std::sscanf(stat.c_str() + close + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lld %lld",
                  &utime, &stime) != 2) {
    return -1;
  }
  return utime + stime;
}

// The saver's CPU over a window, in cores.
class CpuWindow {
 public:
  explicit CpuWindow(int pid) : pid_(pid), start_ticks_(cpuTicks(pid)), start_(Clock::now()) {}
  double cores() const {
    long long end = cpuTicks(pid_);
    if (start_ticks_ < 0 || end < 0) return -1;
    return static_cast<double>(end - start_ticks_) / static_cast<double>(::sysconf(_SC_CLK_TCK)) /
           secondsSince(start_);
  }

 private:
  int pid_;
  long long start_ticks_;
  Clock::time_point start_;
};

// Unique across runs against the same Redis: the run's start in ms in the high bits (as
// center's ids carry their time), a counter below.
uint64_t idBase() {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  return static_cast<uint64_t>(ms) << 22;
}

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// D lanes, each one call in flight: a lane's next call is issued from the previous one's
// completion. `step` issues the lane's next call and returns false when the lane has no more
// work; the run ends when every lane is idle.
class Runner {
 public:
  struct Lane final : google::protobuf::Closure {
    Runner* runner = nullptr;
    size_t index = 0;
    rpc::Controller controller;
    Clock::time_point sent;
    bool busy = false;
    std::function<void(Lane&)> on_done;
    void Run() override {
      busy = false;
      on_done(*this);
      runner->next(*this);
    }
  };

  // step(lane) issues one call on the lane (setting lane.on_done) or returns false.
  Runner(uint32_t depth, double max_seconds, std::function<bool(Lane&)> step)
      : lanes_(depth), max_seconds_(max_seconds), step_(std::move(step)) {
    for (size_t i = 0; i < lanes_.size(); ++i) {
      lanes_[i].runner = this;
      lanes_[i].index = i;
    }
  }

  // Runs until every lane is idle, or the time limit plus 15 s for calls in flight. False
  // when calls were still in flight; work left undone at the time limit shows in the
  // caller's counts.
  bool run(net::EventLoop& loop) {
    start_ = Clock::now();
    for (auto& lane : lanes_)
      next(lane);
    auto limit = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::duration<double>(max_seconds_ + 15));
    bool idle = loop.runUntil([this] { return busy() == 0; }, limit);
    return idle;
  }

  void fail(const Status& status) {
    if (errors_++ < 5) std::fprintf(stderr, "push-saver-bench: %s\n", status.toString().c_str());
  }
  uint64_t errors() const { return errors_; }
  double elapsed() const { return std::chrono::duration<double>(end_ - start_).count(); }

 private:
  void next(Lane& lane) {
    end_ = Clock::now();
    if (secondsSince(start_) >= max_seconds_) return;
    lane.controller.Reset();
    lane.sent = Clock::now();
    lane.busy = true;
    if (!step_(lane)) lane.busy = false;
  }
  size_t busy() const {
    return static_cast<size_t>(
        std::count_if(lanes_.begin(), lanes_.end(), [](const Lane& l) { return l.busy; }));
  }

  std::vector<Lane> lanes_;
  double max_seconds_;
  std::function<bool(Lane&)> step_;
  Clock::time_point start_, end_;
  uint64_t errors_ = 0;
};

void fillMessage(const Args& args, uint64_t id, const std::string& payload, Message* m) {
  m->set_id(id);
  m->set_app(args.app);
  m->set_payload(payload);
  m->set_qos(1);
  m->set_created_ms(nowMs());
  m->set_ttl_s(3600);
}

// One lane's requests, reused call after call (no allocation once warm).
struct LaneState {
  saver::StoreRequest store;
  saver::StoreResponse stored;
  saver::AckRequest ack;
  saver::AckResponse acked;
  saver::LoadRequest load;
  saver::LoadResponse loaded;
  bool acking = false;
};

std::string user(uint64_t i, uint32_t users) {
  return "u" + std::to_string(i % users);
}

int storeAck(net::EventLoop& loop, rpc::Channel* channel, const Args& args) {
  saver::Saver_Stub stub(channel);
  const std::string payload(args.payload, 'p');
  const uint64_t base = idBase();
  std::vector<LaneState> state(args.depth);
  uint64_t next_msg = 0, stored = 0, acked = 0, store_calls = 0, ack_calls = 0;
  Runner* self = nullptr;
  Runner runner(args.depth, args.max_seconds, [&](Runner::Lane& lane) {
    LaneState& s = state[lane.index];
    if (s.acking) {
      // The batch just stored, acked per user in one call.
      s.ack.Clear();
      std::unordered_map<std::string, saver::AckItem*> by_user;
      for (const auto& item : s.store.items()) {
        saver::AckItem*& a = by_user[item.users(0)];
        if (a == nullptr) {
          a = s.ack.add_items();
          a->set_app(args.app);
          a->set_user(item.users(0));
        }
        a->add_message_ids(item.message().id());
      }
      s.acked.Clear();
      lane.on_done = [&](Runner::Lane& l) {
        LaneState& ls = state[l.index];
        ls.acking = false;
        ++ack_calls;
        if (!l.controller.status().isOk()) return self->fail(l.controller.status());
        acked += ls.acked.removed();
      };
      stub.Ack(&lane.controller, &s.ack, &s.acked, &lane);
      return true;
    }
    if (next_msg >= args.messages) return false;
    const uint64_t n = std::min<uint64_t>(args.batch, args.messages - next_msg);
    s.store.Clear();
    for (uint64_t i = next_msg; i < next_msg + n; ++i) {
      saver::StoreItem* item = s.store.add_items();
      fillMessage(args, base + i, payload, item->mutable_message());
      item->add_users(user(i, args.users));
    }
    next_msg += n;
    s.stored.Clear();
    lane.on_done = [&](Runner::Lane& l) {
      LaneState& ls = state[l.index];
      ++store_calls;
      if (!l.controller.status().isOk()) return self->fail(l.controller.status());
      stored += ls.stored.stored();
      ls.acking = true;  // the lane's next call acks this batch
    };
    stub.Store(&lane.controller, &s.store, &s.stored, &lane);
    return true;
  });
  self = &runner;
  CpuWindow cpu(args.pid);
  bool complete = runner.run(loop) && acked == args.messages;
  double cores = cpu.cores();
  const double seconds = runner.elapsed();
  std::printf(
      "mode=store-ack messages=%llu users=%u depth=%u batch=%u payload=%u stored=%llu acked=%llu "
      "seconds=%.3f stored_acked_per_s=%.0f store_calls=%llu ack_calls=%llu errors=%llu "
      "cpu_saver=%.2f complete=%d\n",
      static_cast<unsigned long long>(args.messages), args.users, args.depth, args.batch,
      args.payload, static_cast<unsigned long long>(stored), static_cast<unsigned long long>(acked),
      seconds, seconds > 0 ? static_cast<double>(acked) / seconds : 0.0,
      static_cast<unsigned long long>(store_calls), static_cast<unsigned long long>(ack_calls),
      static_cast<unsigned long long>(runner.errors()), cores, complete ? 1 : 0);
  return complete && runner.errors() == 0 ? 0 : 1;
}

bool awaitDrained(net::EventLoop& loop, rpc::Channel* channel, double drain_seconds,
                  saver::StatsResponse* response);

int replay(net::EventLoop& loop, rpc::Channel* channel, const Args& args) {
  saver::Saver_Stub stub(channel);
  const std::string payload(args.payload, 'p');
  const uint64_t base = idBase();
  std::vector<LaneState> state(args.depth);

  // Setup: per_user messages for every user, message i to user i % U (so each user's ids
  // interleave with the others', as a stream of pushes would).
  const uint64_t total = static_cast<uint64_t>(args.users) * args.per_user;
  uint64_t next_msg = 0, stored = 0;
  Runner* self = nullptr;
  Runner setup(args.depth, args.max_seconds, [&](Runner::Lane& lane) {
    if (next_msg >= total) return false;
    LaneState& s = state[lane.index];
    const uint64_t n = std::min<uint64_t>(args.batch, total - next_msg);
    s.store.Clear();
    for (uint64_t i = next_msg; i < next_msg + n; ++i) {
      saver::StoreItem* item = s.store.add_items();
      fillMessage(args, base + i, payload, item->mutable_message());
      item->add_users(user(i, args.users));
    }
    next_msg += n;
    s.stored.Clear();
    lane.on_done = [&](Runner::Lane& l) {
      if (!l.controller.status().isOk()) return self->fail(l.controller.status());
      stored += state[l.index].stored.stored();
    };
    stub.Store(&lane.controller, &s.store, &s.stored, &lane);
    return true;
  });
  self = &setup;
  bool complete = setup.run(loop) && stored == total;
  const double setup_per_s =
      setup.elapsed() > 0 ? static_cast<double>(stored) / setup.elapsed() : 0;
  uint64_t errors = setup.errors();
  // Offline messages were stored well before their users connect: with --drain-seconds the
  // write-behind of the setup reaches MySQL first, so the loads are timed on their own.
  double setup_drain_s = 0;
  if (args.drain_seconds > 0) {
    const auto drain_start = Clock::now();
    saver::StatsResponse drained;
    if (!awaitDrained(loop, channel, args.drain_seconds, &drained) ||
        drained.write_behind_backlog() > 0) {
      std::fprintf(stderr, "replay: the write-behind did not drain within %.0f s\n",
                   args.drain_seconds);
      ++errors;
    }
    setup_drain_s = secondsSince(drain_start);
  }

  // Loads: once per user, as at each client's connect.
  uint64_t next_user = 0, full = 0, loads = 0;
  std::vector<int64_t> latencies_us;
  latencies_us.reserve(args.users);
  Runner load(args.depth, args.max_seconds, [&](Runner::Lane& lane) {
    if (next_user >= args.users) return false;
    LaneState& s = state[lane.index];
    s.load.set_app(args.app);
    s.load.set_user(user(next_user++, args.users));
    s.load.set_after_id(0);
    s.load.set_limit(args.limit);
    s.loaded.Clear();
    lane.on_done = [&](Runner::Lane& l) {
      if (!l.controller.status().isOk()) return self->fail(l.controller.status());
      latencies_us.push_back(
          std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - l.sent).count());
      ++loads;
      if (static_cast<uint32_t>(state[l.index].loaded.messages_size()) == args.limit) ++full;
    };
    stub.Load(&lane.controller, &s.load, &s.loaded, &lane);
    return true;
  });
  self = &load;
  CpuWindow cpu(args.pid), redis_cpu(args.redis_pid);
  complete = load.run(loop) && complete && loads == args.users;
  double cores = cpu.cores(), redis_cores = redis_cpu.cores();
  errors += load.errors();
  std::sort(latencies_us.begin(), latencies_us.end());
  auto pct = [&](double p) -> double {
    if (latencies_us.empty()) return 0;
    size_t i = std::min(latencies_us.size() - 1, static_cast<size_t>(p * latencies_us.size()));
    return static_cast<double>(latencies_us[i]) / 1000.0;
  };
  const double seconds = load.elapsed();
  std::printf(
      "mode=replay users=%u per_user=%u limit=%u depth=%u payload=%u setup_per_s=%.0f "
      "setup_drain_s=%.3f loads=%llu "
      "seconds=%.3f loads_per_s=%.0f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f full=%llu errors=%llu "
      "cpu_saver=%.2f cpu_redis=%.2f complete=%d\n",
      args.users, args.per_user, args.limit, args.depth, args.payload, setup_per_s, setup_drain_s,
      static_cast<unsigned long long>(loads), seconds,
      seconds > 0 ? static_cast<double>(loads) / seconds : 0.0, pct(0.50), pct(0.99),
      latencies_us.empty() ? 0.0 : static_cast<double>(latencies_us.back()) / 1000.0,
      static_cast<unsigned long long>(full), static_cast<unsigned long long>(errors), cores,
      redis_cores, complete ? 1 : 0);
  return complete && errors == 0 ? 0 : 1;
}

// One Stats call; false when it failed or timed out.
bool stats(net::EventLoop& loop, rpc::Channel* channel, saver::StatsResponse* response) {
  saver::Saver_Stub stub(channel);
  rpc::Controller controller;
  saver::StatsRequest request;
  struct Done final : google::protobuf::Closure {
    bool flag = false;
    void Run() override { flag = true; }
  } done;
  stub.Stats(&controller, &request, response, &done);
  loop.runUntil([&] { return done.flag; }, std::chrono::seconds(15));
  return done.flag && controller.status().isOk();
}

// Polls Stats (bounded by drain_seconds) until the write-behind's backlog is 0; false when a
// Stats call failed. `response` holds the last answer.
bool awaitDrained(net::EventLoop& loop, rpc::Channel* channel, double drain_seconds,
                  saver::StatsResponse* response) {
  const auto start = Clock::now();
  bool ok = stats(loop, channel, response);
  while (ok && drain_seconds > 0 && response->write_behind_backlog() > 0 &&
         secondsSince(start) < drain_seconds) {
    // A bounded poll of a counter in another process: there is nothing to wait on here.
    loop.runUntil([] { return false; }, std::chrono::milliseconds(20));
    response->Clear();
    ok = stats(loop, channel, response);
  }
  return ok;
}

// Saver's own counters after the run. With --drain-seconds it first waits (polling Stats,
// bounded) for the write-behind to reach MySQL: drain_s says how long MySQL took after Redis
// was done, the run's rate with MySQL caught up is acked / (seconds + drain_s).
void printStats(net::EventLoop& loop, rpc::Channel* channel, double drain_seconds) {
  saver::StatsResponse response;
  const auto start = Clock::now();
  const bool ok = awaitDrained(loop, channel, drain_seconds, &response);
  if (!ok) {
    std::printf("STATS error=1\n");
    return;
  }
  std::printf(
      "STATS stored=%llu acked=%llu loaded=%llu write_behind_backlog=%llu "
      "write_behind_oldest_ms=%llu write_behind_dropped=%llu mysql_ok=%d redis_ok=%d "
      "drain_s=%.3f\n",
      static_cast<unsigned long long>(response.stored()),
      static_cast<unsigned long long>(response.acked()),
      static_cast<unsigned long long>(response.loaded()),
      static_cast<unsigned long long>(response.write_behind_backlog()),
      static_cast<unsigned long long>(response.write_behind_oldest_ms()),
      static_cast<unsigned long long>(response.write_behind_dropped()), response.mysql_ok() ? 1 : 0,
      response.redis_ok() ? 1 : 0, drain_seconds > 0 ? secondsSince(start) : 0.0);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: push-saver-bench store-ack|replay|stats --target HOST:PORT [flags]\n");
    return 2;
  }
  (void)push::log::setLevel("warn");
  Args args;
  args.mode = argv[1];
  try {
    for (int i = 2; i + 1 < argc; i += 2) {
      std::string arg = argv[i], v = argv[i + 1];
      if (arg == "--target")
        args.target = v;
      else if (arg == "--app")
        args.app = v;
      else if (arg == "--messages")
        args.messages = std::stoull(v);
      else if (arg == "--users")
        args.users = static_cast<uint32_t>(std::stoul(v));
      else if (arg == "--depth")
        args.depth = static_cast<uint32_t>(std::stoul(v));
      else if (arg == "--batch")
        args.batch = static_cast<uint32_t>(std::stoul(v));
      else if (arg == "--payload")
        args.payload = static_cast<uint32_t>(std::stoul(v));
      else if (arg == "--per-user")
        args.per_user = static_cast<uint32_t>(std::stoul(v));
      else if (arg == "--limit")
        args.limit = static_cast<uint32_t>(std::stoul(v));
      else if (arg == "--connections")
        args.connections = static_cast<uint32_t>(std::stoul(v));
      else if (arg == "--pid")
        args.pid = std::stoi(v);
      else if (arg == "--redis-pid")
        args.redis_pid = std::stoi(v);
      else if (arg == "--max-seconds")
        args.max_seconds = std::stod(v);
      else if (arg == "--drain-seconds")
        args.drain_seconds = std::stod(v);
      else {
        std::fprintf(stderr, "push-saver-bench: unknown flag %s\n", arg.c_str());
        return 2;
      }
    }
  } catch (const std::exception&) {
    std::fprintf(stderr, "push-saver-bench: bad flag value\n");
    return 2;
  }
  if (args.target.empty() || args.users == 0 || args.depth == 0 || args.depth > 4096 ||
      args.batch == 0 || args.limit == 0 || args.max_seconds <= 0 || args.max_seconds > 3600 ||
      args.drain_seconds < 0 || args.drain_seconds > 3600 || args.connections == 0 ||
      args.connections > 64 ||
      (args.mode != "store-ack" && args.mode != "replay" && args.mode != "stats")) {
    std::fprintf(stderr, "push-saver-bench: bad arguments\n");
    return 2;
  }

  push::net::EventLoop loop;
  push::rpc::Channel::Options options;
  options.connections_per_endpoint = args.connections;
  options.timeout = std::chrono::seconds(10);
  auto created = push::rpc::Channel::create(loop, options);
  if (!created.isOk()) return 2;
  push::rpc::ChannelPtr channel = std::move(created).value();
  if (auto st = channel->setEndpoints(std::vector<std::string>{args.target}); !st.isOk()) {
    std::fprintf(stderr, "push-saver-bench: %s\n", st.toString().c_str());
    return 2;
  }
  if (!loop.runUntil([&] { return channel->usableEndpoints() > 0; }, std::chrono::seconds(5))) {
    std::fprintf(stderr, "push-saver-bench: cannot connect to %s\n", args.target.c_str());
    return 1;
  }
  int rc = 0;
  if (args.mode == "store-ack") rc = storeAck(loop, channel.get(), args);
  if (args.mode == "replay") rc = replay(loop, channel.get(), args);
  printStats(loop, channel.get(), args.drain_seconds);
  std::fflush(stdout);
  channel.reset();
  (void)loop.shutdown();
  return rc;
}

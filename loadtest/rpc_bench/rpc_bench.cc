// rpc-bench: small unary RPCs per second and latency over loopback, server and client in
// separate processes (loadtest/run_rpc_bench.sh runs both, and gRPC's, side by side).
//
//   rpc-bench server [--listen 127.0.0.1:0]          prints "PORT <n>", serves until SIGTERM
//   rpc-bench client --target HOST:PORT --depth N --seconds S [--payload B] [--rate R]
//                    [--connections C]
//   both: [--busy-poll-us U]  poll without sleeping for U µs after I/O (EventLoop::setBusyPoll)
//
// The client keeps N calls in flight on C connections (default 1) for S seconds after a 1 s
// warm-up. With --rate it sends R calls/s open-loop (at most N in flight) to measure latency
// below peak. Prints one line:
//   impl=push depth=N calls=... seconds=... qps=... p50_us=... p99_us=... errors=...
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <uv.h>

#include "common/base/log.h"
#include "common/net/event_loop.h"
#include "common/net/signal_watcher.h"
#include "common/rpc/channel.h"
#include "common/rpc/controller.h"
#include "common/rpc/server.h"
#include "examples/rpc_echo/echo_service.h"
#include "proto/echo.pb.h"

namespace {

using namespace push;
using Clock = std::chrono::steady_clock;

int runServer(const std::string& listen, int busy_poll_us) {
  net::EventLoop loop;
  loop.setBusyPoll(std::chrono::microseconds(busy_poll_us));
  rpc::Server::Options options;
  options.address = listen;
  examples::EchoServiceImpl echo(loop, "bench");  // first: it outlives the server
  rpc::ServerPtr server = rpc::Server::create(loop, options);
  if (Status st = server->addService(&echo); !st.isOk()) return 1;
  if (Status st = server->start(); !st.isOk()) {
    std::fprintf(stderr, "rpc-bench: %s\n", st.toString().c_str());
    return 1;
  }
  std::printf("PORT %u\n", server->address().port());
  std::fflush(stdout);
  net::SignalWatcherPtr signals;
  signals = net::SignalWatcher::create(loop, [&](int) {
    signals.reset();
    server.release()->shutdown(std::chrono::seconds(1), [&loop] { loop.stop(); });
  });
  loop.run();
  signals.reset();
  (void)loop.shutdown();
  return 0;
}

class BenchClient {
 public:
  struct Call final : google::protobuf::Closure {
    BenchClient* client;
    rpc::Controller controller;
    echo::EchoRequest request;
    echo::EchoResponse response;
    int64_t sent_ms = 0;  // the loop's time at issue
    void Run() override { client->onDone(this); }
  };

  BenchClient(net::EventLoop& loop, rpc::Channel* channel, int depth, int payload, double rate)
      : loop_(loop), stub_(channel), depth_(depth), rate_(rate), calls_(depth) {
    for (auto& c : calls_) {
      c.client = this;
      c.request.set_payload(std::string(payload, 'x'));
      free_.push_back(&c);
    }
  }

  void start(Clock::time_point measure_from, Clock::time_point stop_at) {
    started_ = Clock::now();
    stop_at_ = stop_at;
    // Calls are timed by the channel (Controller::latencyUs) and windowed by the loop's
    // cached time: the client reads no clock of its own per call (redis-benchmark, the
    // yardstick, reads one per pipeline batch).
    const auto toLoopMs = [&](Clock::time_point t) {
      return static_cast<int64_t>(uv_hrtime() / 1000000) +
             std::chrono::duration_cast<std::chrono::milliseconds>(t - started_).count();
    };
    measure_from_ms_ = toLoopMs(measure_from);
    stop_at_ms_ = toLoopMs(stop_at);
    // Room for 3M calls/s, so the vector never reallocates (a stall) inside the window.
    const double window_s = std::chrono::duration<double>(stop_at - measure_from).count();
    latencies_.reserve(
        std::min<size_t>(size_t{1} << 27, static_cast<size_t>(window_s * 3e6) + 1024));
    if (rate_ <= 0) {
      while (!free_.empty())
        issue();
      return;
    }
    uv_timer_init(loop_.uvLoop(), &pacer_);
    pacer_.data = this;
    uv_timer_start(
        &pacer_, [](uv_timer_t* t) { static_cast<BenchClient*>(t->data)->pace(); }, 1, 1);
  }

  bool finished() const { return stopping_ && free_.size() == calls_.size(); }
  void closePacer() {
    if (rate_ > 0) uv_close(reinterpret_cast<uv_handle_t*>(&pacer_), nullptr);
  }

  std::vector<int64_t>& latencies() { return latencies_; }  // µs
  uint64_t errors() const { return errors_; }
  uint64_t measured() const { return measured_; }

 private:
  void pace() {
    // Open loop: send what the rate owes since start, limited by the calls available.
    const double elapsed = std::chrono::duration<double>(Clock::now() - started_).count();
    const auto owed = static_cast<uint64_t>(elapsed * rate_);
    while (issued_ < owed && !free_.empty() && !stopping_)
      issue();
    if (issued_ < owed) issued_ = owed;  // over the in-flight cap: drop, do not burst later
    if (Clock::now() >= stop_at_) stopping_ = true;
  }

  void issue() {
    Call* c = free_.back();
    free_.pop_back();
    ++issued_;
    c->controller.Reset();
    c->sent_ms = loop_.nowMs();
    stub_.Echo(&c->controller, &c->request, &c->response, c);
  }

  void onDone(Call* c) {
    const int64_t now_ms = loop_.nowMs();
    if (!c->controller.status().isOk()) {
      if (errors_++ < 5) {
        std::fprintf(stderr, "rpc-bench: %s\n", c->controller.status().toString().c_str());
      }
    } else if (c->sent_ms >= measure_from_ms_ && now_ms < stop_at_ms_) {
      latencies_.push_back(c->controller.latencyUs());
      ++measured_;
    }
    free_.push_back(c);
    if (now_ms >= stop_at_ms_) stopping_ = true;
    if (!stopping_ && rate_ <= 0) issue();
    // Open loop: also pace on every completion, not only on the 1 ms timer, so calls leave
    // spread out instead of in 1 ms bursts (a burst would measure its own queueing).
    if (!stopping_ && rate_ > 0) pace();
  }

  net::EventLoop& loop_;
  echo::EchoService_Stub stub_;
  int depth_;
  double rate_;
  std::vector<Call> calls_;
  std::vector<Call*> free_;
  std::vector<int64_t> latencies_;
  Clock::time_point started_, stop_at_;
  int64_t measure_from_ms_ = 0, stop_at_ms_ = 0;  // the loop's time (EventLoop::nowMs)
  uv_timer_t pacer_;
  uint64_t issued_ = 0, errors_ = 0, measured_ = 0;
  bool stopping_ = false;
};

int runClient(const std::string& target, int depth, double seconds, int payload, double rate,
              int connections, int busy_poll_us) {
  net::EventLoop loop;
  loop.setBusyPoll(std::chrono::microseconds(busy_poll_us));
  rpc::Channel::Options options;
  options.connections_per_endpoint = static_cast<uint32_t>(connections);
  options.timeout = std::chrono::seconds(10);
  auto created = rpc::Channel::create(loop, options);
  if (!created.isOk()) return 2;
  rpc::ChannelPtr channel = std::move(created).value();
  if (Status st = channel->setEndpoints(std::vector<std::string>{target}); !st.isOk()) {
    std::fprintf(stderr, "rpc-bench: %s\n", st.toString().c_str());
    return 2;
  }
  if (!loop.runUntil([&] { return channel->usableEndpoints() > 0; }, std::chrono::seconds(5))) {
    std::fprintf(stderr, "rpc-bench: cannot connect to %s\n", target.c_str());
    return 1;
  }
  BenchClient client(loop, channel.get(), depth, payload, rate);
  const auto begin = Clock::now();
  const auto measure_from = begin + std::chrono::seconds(1);
  const auto stop_at = measure_from + std::chrono::duration_cast<Clock::duration>(
                                          std::chrono::duration<double>(seconds));
  client.start(measure_from, stop_at);
  // Bounded: the run ends at stop_at plus a grace for calls in flight.
  loop.runUntil([&] { return client.finished(); },
                std::chrono::duration_cast<std::chrono::milliseconds>(stop_at - begin) +
                    std::chrono::seconds(15));
  client.closePacer();
  auto& lat = client.latencies();
  std::sort(lat.begin(), lat.end());
  auto pct = [&](double p) -> double {
    if (lat.empty()) return 0;
    return static_cast<double>(lat[std::min(lat.size() - 1, static_cast<size_t>(p * lat.size()))]);
  };
  std::printf(
      "impl=push depth=%d calls=%llu seconds=%.2f qps=%.0f p50_us=%.1f p99_us=%.1f errors=%llu\n",
      depth, static_cast<unsigned long long>(client.measured()), seconds,
      static_cast<double>(client.measured()) / seconds, pct(0.50), pct(0.99),
      static_cast<unsigned long long>(client.errors()));
  std::fflush(stdout);
  channel.reset();
  (void)loop.shutdown();
  return client.errors() == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: rpc-bench server|client [flags]\n");
    return 2;
  }
  (void)push::log::setLevel("warn");
  std::string mode = argv[1], listen = "127.0.0.1:0", target;
  int depth = 1, payload = 16, connections = 1, busy_poll_us = 0;
  double seconds = 3, rate = 0;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string arg = argv[i], v = argv[i + 1];
    if (arg == "--listen")
      listen = v;
    else if (arg == "--port")
      listen = "127.0.0.1:" + v;
    else if (arg == "--target")
      target = v;
    else if (arg == "--depth")
      depth = std::stoi(v);
    else if (arg == "--seconds")
      seconds = std::stod(v);
    else if (arg == "--payload")
      payload = std::stoi(v);
    else if (arg == "--rate")
      rate = std::stod(v);
    else if (arg == "--connections")
      connections = std::stoi(v);
    else if (arg == "--busy-poll-us")
      busy_poll_us = std::stoi(v);
    else {
      std::fprintf(stderr, "rpc-bench: unknown flag %s\n", arg.c_str());
      return 2;
    }
  }
  if (mode == "server") return runServer(listen, busy_poll_us);
  if (mode == "client" && !target.empty() && depth > 0 && seconds > 0 && seconds <= 600) {
    return runClient(target, depth, seconds, payload, rate, connections, busy_poll_us);
  }
  std::fprintf(stderr, "rpc-bench: bad arguments\n");
  return 2;
}

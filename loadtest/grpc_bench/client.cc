#include "loadtest/grpc_bench/client.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include <grpcpp/alarm.h>
#include <grpcpp/grpcpp.h>

#include "bench.grpc.pb.h"
#include "loadtest/grpc_bench/cq_waiter.h"

namespace push::grpcbench {

namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kWarmup = std::chrono::seconds(1);
// After the measured interval, calls still in flight get this long to finish before they are
// cancelled.
constexpr auto kDrainGrace = std::chrono::seconds(1);
// The watchdog ends the process this long after the measured interval whatever happens.
constexpr auto kWatchdogGrace = std::chrono::seconds(5);
constexpr auto kConnectTimeout = std::chrono::seconds(3);
// A worker stops issuing calls after this many failures (the server is gone or broken).
constexpr uint64_t kMaxFailures = 100;

// The phases every call is judged against, fixed before the first call starts.
struct Schedule {
  Clock::time_point measure_start;
  Clock::time_point measure_end;  // no new calls after this
  Clock::time_point cancel_at;    // calls still in flight are cancelled
};

// One call in flight. Rebuilt for every call: a ClientContext serves one call only.
struct Call {
  std::unique_ptr<grpc::ClientContext> context;
  std::unique_ptr<grpc::ClientAsyncResponseReader<EchoResponse>> reader;
  EchoResponse response;
  grpc::Status status;
  Clock::time_point started;
  GrpcEcho::Stub* stub = nullptr;
};

// A completion queue, its polling thread and the calls it keeps in flight. Everything but
// the results is touched by the worker's thread only.
class Worker {
 public:
  // All three must outlive the worker.
  Worker(const EchoRequest& request, const Schedule& schedule, const Tuning& tuning)
      : request_(request), schedule_(schedule), tuning_(tuning) {}

  void addCall(GrpcEcho::Stub* stub) {
    auto call = std::make_unique<Call>();
    call->stub = stub;
    calls_.push_back(std::move(call));
  }

  void start() {
    thread_ = std::thread([this] { run(); });
  }
  void join() { thread_.join(); }

  // Valid after join().
  const std::vector<uint32_t>& latenciesNs() const { return latencies_ns_; }
  uint64_t failures() const { return failures_; }
  uint64_t cancelled() const { return cancelled_; }

 private:
  void issue(Call* call, Clock::time_point now) {
    call->context = std::make_unique<grpc::ClientContext>();
    call->response.Clear();
    call->started = now;
    call->reader = call->stub->PrepareAsyncEcho(call->context.get(), request_, &cq_);
    call->reader->StartCall();
    call->reader->Finish(&call->response, &call->status, call);
  }

  void run() {
    // Fires on this CQ when calls still in flight should be cancelled (a stuck server).
    grpc::Alarm cancel_alarm;
    cancel_alarm.Set(&cq_, std::chrono::system_clock::now() + (schedule_.cancel_at - Clock::now()),
                     &cancel_alarm);
    bool alarm_pending = true;
    bool cancelled = false;

    for (auto& call : calls_)
      issue(call.get(), Clock::now());
    size_t in_flight = calls_.size();
    // The run is bounded, so "spin forever" really means it.
    CqWaiter waiter(&cq_, tuning_.spin_us, std::chrono::hours(1), tuning_.yield);
    void* tag = nullptr;
    bool ok = false;
    while ((in_flight > 0 || alarm_pending) && waiter.next(&tag, &ok)) {
      if (tag == &cancel_alarm) {
        alarm_pending = false;
        if (ok && in_flight > 0) {
          cancelled = true;
          for (auto& call : calls_) {
            if (call->context) call->context->TryCancel();
          }
        }
        continue;
      }
      const Clock::time_point now = Clock::now();
      Call* call = static_cast<Call*>(tag);
      if (!ok || !call->status.ok()) {
        // Calls cancelled by the drain are counted apart: the server was slow, not wrong.
        ++(cancelled ? cancelled_ : failures_);
      } else if (now >= schedule_.measure_start && now <= schedule_.measure_end) {
        // Counted by completion time, so qps = completions in the window / its length.
        const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now - call->started);
        latencies_ns_.push_back(static_cast<uint32_t>(std::min<int64_t>(ns.count(), UINT32_MAX)));
      }
      if (now < schedule_.measure_end && failures_ < kMaxFailures) {
        issue(call, now);
      } else {
        call->reader.reset();
        call->context.reset();
        if (--in_flight == 0 && alarm_pending) cancel_alarm.Cancel();
      }
    }
    cq_.Shutdown();
    while (cq_.Next(&tag, &ok)) {
    }
  }

  const EchoRequest& request_;
  const Schedule& schedule_;
  const Tuning& tuning_;
  grpc::CompletionQueue cq_;
  std::vector<std::unique_ptr<Call>> calls_;
  std::vector<uint32_t> latencies_ns_;
  uint64_t failures_ = 0;
  uint64_t cancelled_ = 0;
  std::thread thread_;
};

double percentileUs(std::vector<uint32_t>& sorted_ns, double q) {
  if (sorted_ns.empty()) return 0;
  const size_t index = std::min(sorted_ns.size() - 1, static_cast<size_t>(q * sorted_ns.size()));
  return sorted_ns[index] / 1000.0;
}

}  // namespace

int runClient(const ClientOptions& options) {
  const std::string kHostPrefix = "127.0.0.1:";
  if (options.target.rfind(kHostPrefix, 0) != 0) {
    std::fprintf(stderr, "grpc-bench client: --target must be 127.0.0.1:<port>\n");
    return 2;
  }

  // Bounded run whatever gRPC does: the connect wait, warmup, measurement and drain all
  // fit well inside this.
  const auto limit = kConnectTimeout * options.channels + kWarmup +
                     std::chrono::duration<double>(options.seconds) + kWatchdogGrace;
  std::thread([limit] {
    std::this_thread::sleep_for(limit);
    std::fprintf(stderr, "grpc-bench client: watchdog expired, exiting\n");
    _exit(3);
  }).detach();

  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<GrpcEcho::Stub>> stubs;
  for (int i = 0; i < options.channels; ++i) {
    grpc::ChannelArguments args;
    for (const auto& [name, value] : options.tuning.string_args)
      args.SetString(name, value);
    for (const auto& [name, value] : options.tuning.args)
      args.SetInt(name, value);
    // Without this, channels with equal arguments share one subchannel, i.e. one connection.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    // "ipv4:" skips the resolver: the address is used as is.
    channels.push_back(grpc::CreateCustomChannel("ipv4:" + options.target,
                                                 grpc::InsecureChannelCredentials(), args));
    if (!channels.back()->WaitForConnected(std::chrono::system_clock::now() + kConnectTimeout)) {
      std::fprintf(stderr, "grpc-bench client: cannot connect to %s\n", options.target.c_str());
      return 1;
    }
    stubs.push_back(GrpcEcho::NewStub(channels.back()));
  }

  EchoRequest request;
  request.set_message("ping");
  request.set_payload(std::string(static_cast<size_t>(options.payload), 'x'));

  Schedule schedule;
  const Clock::time_point begin = Clock::now();
  schedule.measure_start = begin + kWarmup;
  schedule.measure_end =
      schedule.measure_start +
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.seconds));
  schedule.cancel_at = schedule.measure_end + kDrainGrace;

  const int worker_count = std::max(1, std::min(options.tuning.cqs, options.depth));
  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < worker_count; ++i) {
    workers.push_back(std::make_unique<Worker>(request, schedule, options.tuning));
  }
  for (int i = 0; i < options.depth; ++i) {
    workers[static_cast<size_t>(i % worker_count)]->addCall(
        stubs[static_cast<size_t>(i) % stubs.size()].get());
  }
  for (auto& worker : workers)
    worker->start();
  for (auto& worker : workers)
    worker->join();

  std::vector<uint32_t> latencies;
  uint64_t failures = 0;
  uint64_t cancelled = 0;
  for (auto& worker : workers) {
    latencies.insert(latencies.end(), worker->latenciesNs().begin(), worker->latenciesNs().end());
    failures += worker->failures();
    cancelled += worker->cancelled();
  }
  std::sort(latencies.begin(), latencies.end());
  const double seconds =
      std::chrono::duration<double>(schedule.measure_end - schedule.measure_start).count();
  std::printf("impl=grpc depth=%d calls=%zu seconds=%.2f qps=%.0f p50_us=%.1f p99_us=%.1f\n",
              options.depth, latencies.size(), seconds,
              static_cast<double>(latencies.size()) / seconds, percentileUs(latencies, 0.50),
              percentileUs(latencies, 0.99));
  std::fflush(stdout);
  if (cancelled > 0) {
    std::fprintf(stderr,
                 "grpc-bench client: %llu calls still in flight %.1f s after the end "
                 "were cancelled\n",
                 static_cast<unsigned long long>(cancelled),
                 std::chrono::duration<double>(kDrainGrace).count());
  }
  if (failures > 0) {
    std::fprintf(stderr, "grpc-bench client: %llu calls failed\n",
                 static_cast<unsigned long long>(failures));
    return 1;
  }
  return 0;
}

}  // namespace push::grpcbench

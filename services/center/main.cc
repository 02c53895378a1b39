// push-center: the operator HTTP API (push, sessions, kick) and the admin endpoints.
//
//   push-center [--config FILE] [--http HOST:PORT] [--admin HOST:PORT] [--node-id N]
//               [--workers N] [--queued HOST:PORT[,HOST:PORT...]]
//               [--saver HOST:PORT[,HOST:PORT...]]
//
// Center keeps no state between requests, so --workers N forks N instances that share the
// API port with SO_REUSEPORT (port 0 is resolved once, by the parent) and use N cores. Worker
// i numbers its message ids with node id N0 + i (N0 = --node-id), so ids stay unique; each
// app's rate limit is split evenly between the workers (the kernel spreads connections, not
// requests, so one busy client connection meets 1/N of the limit). /metrics and /status on
// the API port answer for the worker that accepted the connection; the admin port (admin
// in the config, or --admin) is per worker: worker i listens on its port + i.
//
// --queued (overrides the config's `queued` list) enables POST /v1/broadcast: it publishes to
// those queued/nsqd TCP addresses; without any, broadcast answers 501.
// --saver (overrides saver.addresses) stores QoS 1 pushes, job chunks and broadcasts in saver
// before they are sent (CenterServer); without any, nothing is stored.
//
// Prints "HTTP_ADDRESS <host:port>" once serving (each worker prints it), then
// "ADMIN_ADDRESS <host:port>" when there is an admin port. SIGTERM/SIGINT stop it gracefully
// (CenterServer::stop: requests already received are answered, within stop_grace_ms) and it
// exits 0; with --workers the parent forwards the signal to every worker and waits for them.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <vector>

#include "common/base/log.h"
#include "common/net/event_loop.h"
#include "common/net/signal_watcher.h"
#include "proto/config.pb.h"
#include "services/center/center_server.h"
#include "services/common/service_main.h"
#include "services/common/worker_supervisor.h"

namespace {

using namespace push;

int runCenter(center::CenterOptions options, std::chrono::microseconds busy_poll) {
  net::EventLoop loop;
  loop.setBusyPoll(busy_poll);
  auto created = center::CenterServer::create(loop, std::move(options));
  if (!created.isOk()) {
    std::fprintf(stderr, "push-center: %s\n", created.status().toString().c_str());
    return 2;
  }
  std::unique_ptr<center::CenterServer> center = std::move(created).value();
  Status st = center->start();
  if (!st.isOk()) {
    std::fprintf(stderr, "push-center: %s\n", st.toString().c_str());
    center->stop([] {});
    center.reset();
    (void)loop.shutdown();
    return 1;
  }
  service::announce("HTTP_ADDRESS", center->address());
  if (center->adminAddress().port() != 0)
    service::announce("ADMIN_ADDRESS", center->adminAddress());
  net::SignalWatcherPtr signals = net::SignalWatcher::create(loop, [&](int signum) {
    LOG_INFO(Center, "signal {}: stopping", signum);
    signals.reset();
    center->stop([&loop] { loop.stop(); });
  });
  loop.run();
  signals.reset();  // before the loop shuts down (null already when a signal stopped it)
  center.reset();
  st = loop.shutdown();
  if (!st.isOk()) LOG_WARN(Center, "shutdown: {}", st.toString());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CommandLine cl("push-center", "the operator HTTP API");
  service::addCommonFlags(cl);
  cl.option("http", "HOST:PORT", "API address (overrides http.listen.address)");
  cl.option("admin", "HOST:PORT", "this process's admin address (overrides admin.listen.address)");
  cl.option("node-id", "N", "node number in message ids, 0..1023 (overrides node_id)");
  cl.option("workers", "N", "center processes sharing the API port (SO_REUSEPORT), default 1");
  cl.option("queued", "HOST:PORT,...",
            "queued/nsqd TCP addresses broadcasts are published to (overrides queued)");
  cl.option("saver", "HOST:PORT,...",
            "saver RPC addresses QoS 1 messages are stored in first (overrides saver.addresses)");
  config::CenterConfig cfg;
  auto file = service::loadConfig(cl, argc, argv, &cfg);
  if (!file.isOk()) {
    if (file.status().code() == Code::CANCELLED) return 0;
    std::fprintf(stderr, "push-center: %s\n", file.status().toString().c_str());
    return 2;
  }
  if (cl.has("http")) cfg.mutable_http()->mutable_listen()->set_address(cl.get("http"));
  if (cl.has("admin")) cfg.mutable_admin()->mutable_listen()->set_address(cl.get("admin"));
  // "a,b,c" -> each non-empty part.
  auto addEach = [](const std::string& list, auto add) {
    for (size_t begin = 0; begin <= list.size();) {
      size_t end = list.find(',', begin);
      if (end == std::string::npos) end = list.size();
      if (end > begin) add(list.substr(begin, end - begin));
      begin = end + 1;
    }
  };
  if (cl.has("queued")) {
    cfg.clear_queued();
    addEach(cl.get("queued"), [&](std::string a) { cfg.add_queued(std::move(a)); });
  }
  if (cl.has("saver")) {
    cfg.mutable_saver()->clear_addresses();
    addEach(cl.get("saver"),
            [&](std::string a) { cfg.mutable_saver()->add_addresses(std::move(a)); });
  }
  auto node = cl.getInt("node-id", cfg.node_id(), 0, IdGenerator::kMaxNode);
  if (!node.isOk()) {
    std::fprintf(stderr, "push-center: %s\n", node.status().toString().c_str());
    return 2;
  }
  cfg.set_node_id(static_cast<uint32_t>(*node));
  auto workers = cl.getInt("workers", 1, 1, 64);
  if (!workers.isOk()) {
    std::fprintf(stderr, "push-center: %s\n", workers.status().toString().c_str());
    return 2;
  }
  if (*node + *workers - 1 > IdGenerator::kMaxNode) {
    std::fprintf(
        stderr,
        "push-center: --node-id %lld with %lld workers needs node ids up to %lld (max %u)\n",
        static_cast<long long>(*node), static_cast<long long>(*workers),
        static_cast<long long>(*node + *workers - 1), IdGenerator::kMaxNode);
    return 2;
  }
  auto busy_poll = service::busyPollFlag(cl);
  if (!busy_poll.isOk()) {
    std::fprintf(stderr, "push-center: %s\n", busy_poll.status().toString().c_str());
    return 2;
  }
  auto options = center::CenterOptions::fromConfig(cfg, file->get());
  if (!options.isOk()) {
    std::fprintf(stderr, "push-center: %s\n", options.status().toString().c_str());
    return 2;
  }
  if (*workers == 1) return runCenter(std::move(options).value(), *busy_poll);
  std::vector<int> reserved;
  auto http = service::reservePort(options->http.address, &reserved);
  if (!http.isOk()) {
    std::fprintf(stderr, "push-center: %s\n", http.status().toString().c_str());
    return 1;
  }
  options->http.address = *http;
  options->http.reuse_port = true;
  const int n = static_cast<int>(*workers);
  // Apps from ZooKeeper are divided the same way as their records arrive.
  options->workers = static_cast<uint32_t>(n);
  for (auto& app : options->apps) {
    app.rate_per_s /= n;
    app.burst = std::max(1.0, app.burst / n);
    app.broadcast_rate_per_s /= n;
    app.broadcast_burst = std::max(1.0, app.broadcast_burst / n);
  }
  const center::CenterOptions base = *options;
  const std::chrono::microseconds poll = *busy_poll;
  return service::superviseWorkers("push-center", n, [&base, poll](int i) {
    center::CenterOptions o = base;
    o.node_id = base.node_id + static_cast<uint32_t>(i);
    if (!o.admin.address.empty()) o.admin.address = service::shiftPort(base.admin.address, i);
    return runCenter(std::move(o), poll);
  });
}

// push-dispatcher: GET /v1/route, the rooms a client should try (services/dispatcher/README.md).
//
//   push-dispatcher [--config FILE] [--http HOST:PORT] [--admin HOST:PORT] [--zookeeper HOSTS]
//                   [--workers N]
//
// Rooms come from ZooKeeper (zookeeper.hosts, or --zookeeper) or from the config's static
// `rooms`. The dispatcher keeps no state between requests, so --workers N forks N instances
// sharing the API port with SO_REUSEPORT (each its own ZooKeeper session); worker i's admin
// port is the admin port + i.
//
// Prints "HTTP_ADDRESS <host:port>" once serving (each worker prints it), then "ADMIN_ADDRESS
// <host:port>" when there is an admin port. SIGTERM/SIGINT stop it; it exits 0.
#include <cstdio>
#include <vector>

#include "common/base/log.h"
#include "common/net/event_loop.h"
#include "common/net/signal_watcher.h"
#include "proto/config.pb.h"
#include "services/common/service_main.h"
#include "services/common/worker_supervisor.h"
#include "services/dispatcher/dispatcher_server.h"

namespace {

using namespace push;

int runDispatcher(dispatcher::DispatcherOptions options, std::chrono::microseconds busy_poll) {
  net::EventLoop loop;
  loop.setBusyPoll(busy_poll);
  auto created = dispatcher::DispatcherServer::create(loop, std::move(options));
  if (!created.isOk()) {
    std::fprintf(stderr, "push-dispatcher: %s\n", created.status().toString().c_str());
    return 2;
  }
  std::unique_ptr<dispatcher::DispatcherServer> server = std::move(created).value();
  if (Status st = server->start(); !st.isOk()) {
    std::fprintf(stderr, "push-dispatcher: %s\n", st.toString().c_str());
    server.reset();
    (void)loop.shutdown();
    return 1;
  }
  service::announce("HTTP_ADDRESS", server->address());
  if (server->adminAddress().port() != 0)
    service::announce("ADMIN_ADDRESS", server->adminAddress());
  net::SignalWatcherPtr signals = net::SignalWatcher::create(loop, [&](int signum) {
    LOG_INFO(Dispatcher, "signal {}: stopping", signum);
    signals.reset();
    server->stop();
    loop.stop();
  });
  loop.run();
  signals.reset();
  server.reset();
  if (Status st = loop.shutdown(); !st.isOk()) {
    LOG_WARN(Dispatcher, "shutdown: {}", st.toString());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CommandLine cl("push-dispatcher", "routes clients to rooms (GET /v1/route)");
  service::addCommonFlags(cl);
  cl.option("http", "HOST:PORT", "route API address (overrides http.listen.address)");
  cl.option("admin", "HOST:PORT", "this process's admin address (overrides admin.listen.address)");
  cl.option("zookeeper", "HOSTS", "ZooKeeper hosts (overrides zookeeper.hosts)");
  cl.option("workers", "N", "dispatcher processes sharing the API port (SO_REUSEPORT), default 1");
  config::DispatcherConfig cfg;
  auto file = service::loadConfig(cl, argc, argv, &cfg);
  if (!file.isOk()) {
    if (file.status().code() == Code::CANCELLED) return 0;
    std::fprintf(stderr, "push-dispatcher: %s\n", file.status().toString().c_str());
    return 2;
  }
  if (cl.has("http")) cfg.mutable_http()->mutable_listen()->set_address(cl.get("http"));
  if (cl.has("admin")) cfg.mutable_admin()->mutable_listen()->set_address(cl.get("admin"));
  if (cl.has("zookeeper")) cfg.mutable_zookeeper()->set_hosts(cl.get("zookeeper"));
  auto workers = cl.getInt("workers", 1, 1, 64);
  if (!workers.isOk()) {
    std::fprintf(stderr, "push-dispatcher: %s\n", workers.status().toString().c_str());
    return 2;
  }
  auto busy_poll = service::busyPollFlag(cl);
  if (!busy_poll.isOk()) {
    std::fprintf(stderr, "push-dispatcher: %s\n", busy_poll.status().toString().c_str());
    return 2;
  }
  auto options = dispatcher::DispatcherOptions::fromConfig(cfg, file->get());
  if (!options.isOk()) {
    std::fprintf(stderr, "push-dispatcher: %s\n", options.status().toString().c_str());
    return 2;
  }
  if (*workers == 1) return runDispatcher(std::move(options).value(), *busy_poll);
  std::vector<int> reserved;
  auto http = service::reservePort(options->http.address, &reserved);
  if (!http.isOk()) {
    std::fprintf(stderr, "push-dispatcher: %s\n", http.status().toString().c_str());
    return 1;
  }
  options->http.address = *http;
  options->http.reuse_port = true;
  const dispatcher::DispatcherOptions base = *options;
  const std::chrono::microseconds poll = *busy_poll;
  return service::superviseWorkers("push-dispatcher", static_cast<int>(*workers),
                                   [&base, poll](int i) {
                                     dispatcher::DispatcherOptions o = base;
                                     if (!o.admin.address.empty())
                                       o.admin.address = service::shiftPort(base.admin.address, i);
                                     return runDispatcher(std::move(o), poll);
                                   });
}

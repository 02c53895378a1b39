// push-coordinator: client Upstream data to the apps' webhooks, session events to the apps
// that subscribe (services/coordinator/README.md).
//
//   push-coordinator [--config FILE] [--listen HOST:PORT] [--admin HOST:PORT]
//
// Prints "RPC_ADDRESS <host:port>" (and "ADMIN_ADDRESS <host:port>" when the admin port is
// on) once serving; SIGINT/SIGTERM stop it gracefully (running calls get shutdown_grace_ms).
#include <cstdio>
#include <memory>

#include "common/base/log.h"
#include "common/net/event_loop.h"
#include "common/net/signal_watcher.h"
#include "proto/config.pb.h"
#include "services/common/service_main.h"
#include "services/coordinator/coordinator_server.h"

namespace {

using namespace push;

int fail(int code, const Status& status) {
  std::fprintf(stderr, "push-coordinator: %s\n", status.toString().c_str());
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  CommandLine cl("push-coordinator", "client upstream data to the apps' webhooks, and events");
  service::addCommonFlags(cl);
  cl.option("listen", "HOST:PORT", "RPC address (overrides rpc.listen.address)");
  cl.option("admin", "HOST:PORT", "admin HTTP address (overrides admin.listen.address)");
  config::CoordinatorConfig cfg;
  auto file = service::loadConfig(cl, argc, argv, &cfg);
  if (!file.isOk()) {
    if (file.status().code() == Code::CANCELLED) return 0;
    return fail(2, file.status());
  }
  if (cl.has("listen")) cfg.mutable_rpc()->mutable_listen()->set_address(cl.get("listen"));
  if (cl.has("admin")) cfg.mutable_admin()->mutable_listen()->set_address(cl.get("admin"));
  auto options = coord::CoordinatorServer::Options::fromConfig(cfg, file->get());
  if (!options.isOk()) return fail(2, options.status());
  auto busy_poll = service::busyPollFlag(cl);
  if (!busy_poll.isOk()) return fail(2, busy_poll.status());

  net::EventLoop loop;
  loop.setBusyPoll(*busy_poll);
  auto created = coord::CoordinatorServer::create(loop, std::move(options).value());
  if (!created.isOk()) {
    (void)loop.shutdown();
    return fail(2, created.status());
  }
  std::unique_ptr<coord::CoordinatorServer> server = std::move(created).value();
  Status st = server->start();
  if (!st.isOk()) {
    server.reset();
    (void)loop.shutdown();
    return fail(1, st);
  }
  service::announce("RPC_ADDRESS", server->address());
  if (server->adminAddress().port() != 0)
    service::announce("ADMIN_ADDRESS", server->adminAddress());

  net::SignalWatcherPtr signals = net::SignalWatcher::create(loop, [&](int signum) {
    LOG_INFO(Coordinator, "signal {}: stopping", signum);
    signals.reset();
    server->stop([&loop] { loop.stop(); });
  });
  loop.run();
  signals.reset();
  server.reset();
  st = loop.shutdown();
  if (!st.isOk()) LOG_WARN(Coordinator, "shutdown: {}", st.toString());
  return 0;
}

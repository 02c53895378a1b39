// push-saver: stored QoS 1 messages and broadcast logs on Redis, written behind to MySQL
// (services/saver/README.md).
//
//   push-saver [--config FILE] [--listen HOST:PORT] [--admin HOST:PORT] [--redis HOST:PORT]
//
// Prints "RPC_ADDRESS <host:port>" (and "ADMIN_ADDRESS <host:port>") once serving;
// SIGINT/SIGTERM stop it gracefully (calls in flight and the write-behind get
// shutdown_grace_ms).
#include <cstdio>
#include <memory>

#include "common/base/log.h"
#include "common/net/event_loop.h"
#include "common/net/signal_watcher.h"
#include "proto/config.pb.h"
#include "services/common/service_main.h"
#include "services/saver/saver_server.h"

namespace {

using namespace push;

int fail(int code, const Status& status) {
  std::fprintf(stderr, "push-saver: %s\n", status.toString().c_str());
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  CommandLine cl("push-saver",
                 "stored messages and broadcast logs: Redis, written behind to MySQL");
  service::addCommonFlags(cl);
  cl.option("listen", "HOST:PORT", "RPC address (overrides rpc.listen.address)");
  cl.option("admin", "HOST:PORT", "admin HTTP address (overrides admin.listen.address)");
  cl.option("redis", "HOST:PORT", "one Redis (overrides redis.mode and redis.addresses)");
  config::SaverConfig cfg;
  auto file = service::loadConfig(cl, argc, argv, &cfg);
  if (!file.isOk()) {
    if (file.status().code() == Code::CANCELLED) return 0;
    return fail(2, file.status());
  }
  if (cl.has("listen")) cfg.mutable_rpc()->mutable_listen()->set_address(cl.get("listen"));
  if (cl.has("admin")) cfg.mutable_admin()->mutable_listen()->set_address(cl.get("admin"));
  if (cl.has("redis")) {
    cfg.mutable_redis()->set_mode("single");
    cfg.mutable_redis()->clear_addresses();
    cfg.mutable_redis()->add_addresses(cl.get("redis"));
  }
  auto options = saver::SaverServer::Options::fromConfig(cfg, file->get());
  if (!options.isOk()) return fail(2, options.status());
  auto busy_poll = service::busyPollFlag(cl);
  if (!busy_poll.isOk()) return fail(2, busy_poll.status());

  net::EventLoop loop;
  loop.setBusyPoll(*busy_poll);
  auto created = saver::SaverServer::create(loop, std::move(options).value());
  if (!created.isOk()) return fail(2, created.status());
  std::unique_ptr<saver::SaverServer> server = std::move(created).value();
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
    LOG_INFO(Saver, "signal {}: stopping", signum);
    signals.reset();
    server->stop([&loop] { loop.stop(); });
  });
  loop.run();
  signals.reset();
  server.reset();
  st = loop.shutdown();
  if (!st.isOk()) LOG_WARN(Saver, "shutdown: {}", st.toString());
  return 0;
}

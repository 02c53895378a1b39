// push-center: the operator HTTP API (push, sessions, kick) and the admin endpoints.
//
//   push-center [--config FILE] [--http HOST:PORT] [--node-id N]
//
// Prints "HTTP_ADDRESS <host:port>" once serving; SIGINT/SIGTERM stop it.
#include <cstdio>

#include "common/base/log.h"
#include "common/net/event_loop.h"
#include "common/net/signal_watcher.h"
#include "proto/config.pb.h"
#include "services/center/center_server.h"
#include "services/common/service_main.h"

int main(int argc, char** argv) {
  using namespace push;
  CommandLine cl("push-center", "the operator HTTP API");
  service::addCommonFlags(cl);
  cl.option("http", "HOST:PORT", "API address (overrides http.listen.address)");
  cl.option("node-id", "N", "node number in message ids, 0..1023 (overrides node_id)");
  config::CenterConfig cfg;
  auto file = service::loadConfig(cl, argc, argv, &cfg);
  if (!file.isOk()) {
    if (file.status().code() == Code::CANCELLED) return 0;
    std::fprintf(stderr, "push-center: %s\n", file.status().toString().c_str());
    return 2;
  }
  if (cl.has("http")) cfg.mutable_http()->mutable_listen()->set_address(cl.get("http"));
  auto node = cl.getInt("node-id", cfg.node_id(), 0, IdGenerator::kMaxNode);
  if (!node.isOk()) {
    std::fprintf(stderr, "push-center: %s\n", node.status().toString().c_str());
    return 2;
  }
  cfg.set_node_id(static_cast<uint32_t>(*node));
  auto options = center::CenterOptions::fromConfig(cfg, file->get());
  if (!options.isOk()) {
    std::fprintf(stderr, "push-center: %s\n", options.status().toString().c_str());
    return 2;
  }
  net::EventLoop loop;
  auto created = center::CenterServer::create(loop, std::move(options).value());
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
  net::SignalWatcher* signals = net::SignalWatcher::create(loop, [&](int signum) {
    LOG_INFO(Center, "signal {}: stopping", signum);
    signals->close();
    center->stop([&loop] { loop.stop(); });
  });
  loop.run();
  center.reset();
  st = loop.shutdown();
  if (!st.isOk()) LOG_WARN(Center, "shutdown: {}", st.toString());
  return 0;
}

// push-echo-server: the RPC layer's demo and test server.
//
//   push-echo-server [--config FILE] [--listen HOST:PORT] [--server-id NAME] [--log-level L]
//
// Prints "RPC_ADDRESS <host:port>" on stdout once listening (port 0 picks a free port), then
// serves until SIGINT/SIGTERM, when it stops gracefully (running calls finish, up to 5 s).
#include <cstdio>
#include <cstring>
#include <string>

#include "common/base/config.h"
#include "common/base/log.h"
#include "common/net/event_loop.h"
#include "common/net/signal_watcher.h"
#include "common/rpc/server.h"
#include "examples/rpc_echo/echo_service.h"
#include "proto/config.pb.h"

namespace {

int usage(const char* why) {
  std::fprintf(stderr,
               "push-echo-server: %s\n"
               "usage: push-echo-server [--config FILE] [--listen HOST:PORT] [--server-id NAME] "
               "[--log-level LEVEL]\n",
               why);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace push;
  config::EchoServerConfig cfg;
  std::string config_path, listen, server_id, level;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](std::string* out) {
      if (i + 1 >= argc) return false;
      *out = argv[++i];
      return true;
    };
    bool ok = true;
    if (arg == "--config") {
      ok = value(&config_path);
    } else if (arg == "--listen") {
      ok = value(&listen);
    } else if (arg == "--server-id") {
      ok = value(&server_id);
    } else if (arg == "--log-level") {
      ok = value(&level);
    } else {
      return usage(("unknown argument " + arg).c_str());
    }
    if (!ok) return usage(("missing value for " + arg).c_str());
  }
  std::unique_ptr<ConfigFile> file;
  if (!config_path.empty()) {
    auto loaded = ConfigFile::load(config_path, &cfg);
    if (!loaded.isOk()) {
      std::fprintf(stderr, "push-echo-server: %s\n", loaded.status().toString().c_str());
      return 1;
    }
    file = std::move(loaded).value();
    Status st = file->requireRange("rpc.max_frame_bytes", 1024, 256 << 20);
    if (!st.isOk()) {
      std::fprintf(stderr, "push-echo-server: %s\n", st.toString().c_str());
      return 1;
    }
  }
  if (!listen.empty()) cfg.mutable_rpc()->mutable_listen()->set_address(listen);
  if (!level.empty()) cfg.mutable_log()->set_level(level);
  if (Status st = log::configure(cfg.log()); !st.isOk()) {
    std::fprintf(stderr, "push-echo-server: %s\n", st.toString().c_str());
    return 1;
  }
  auto options = rpc::Server::Options::fromConfig(cfg.rpc());
  if (!options.isOk()) {
    std::fprintf(stderr, "push-echo-server: %s\n", options.status().toString().c_str());
    return 1;
  }

  net::EventLoop loop;
  if (server_id.empty()) server_id = cfg.server_id();
  examples::EchoServiceImpl echo(loop, server_id);  // first: it outlives the server
  rpc::ServerPtr server = rpc::Server::create(loop, *options);
  Status st = server->addService(&echo);
  if (st.isOk()) st = server->start();
  if (!st.isOk()) {
    std::fprintf(stderr, "push-echo-server: %s\n", st.toString().c_str());
    server.reset();
    (void)loop.shutdown();
    return 1;
  }
  std::printf("RPC_ADDRESS %s\n", server->address().toString().c_str());
  std::fflush(stdout);

  net::SignalWatcherPtr signals;
  signals = net::SignalWatcher::create(loop, [&](int signum) {
    LOG_INFO(App, "signal {}: stopping", signum);
    signals.reset();
    // Handed over: the server deletes itself when its graceful shutdown is done.
    server.release()->shutdown(std::chrono::seconds(5), [&loop] { loop.stop(); });
  });
  loop.run();
  signals.reset();
  st = loop.shutdown();
  if (!st.isOk()) LOG_WARN(App, "shutdown: {}", st.toString());
  return 0;
}

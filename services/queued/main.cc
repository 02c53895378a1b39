// push-queued: the NSQ-compatible queue daemon (README.md). Takes nsqd's command line:
//
//   push-queued --tcp-address=127.0.0.1:4150 --http-address=127.0.0.1:4151 --data-path=DIR
//
// SIGINT/SIGTERM stop it cleanly: clients closed, disk queues synced, metadata written.
#include <cstdio>
#include <memory>

#include "common/base/log.h"
#include "common/net/event_loop.h"
#include "common/net/signal_watcher.h"
#include "services/queued/queued_options.h"
#include "services/queued/queued_server.h"

int main(int argc, char** argv) {
  using namespace push;
  Result<queued::QueuedOptions> options = queued::QueuedOptions::parse(argc, argv);
  if (!options.isOk()) {
    if (options.status().code() == Code::CANCELLED) return 0;
    std::fprintf(stderr, "push-queued: %s\n", options.status().message().c_str());
    return 2;
  }
  // nsqd's level names; spdlog calls its highest "critical".
  const std::string level = options->log_level == "fatal" ? "critical" : options->log_level;
  if (Status set = log::setLevel(level); !set.isOk()) {
    std::fprintf(stderr, "push-queued: --log-level: %s\n", set.message().c_str());
    return 2;
  }
  net::EventLoop loop;
  auto created = queued::QueuedServer::create(loop, std::move(options).value());
  if (!created.isOk()) {
    std::fprintf(stderr, "push-queued: %s\n", created.status().message().c_str());
    return 1;
  }
  std::unique_ptr<queued::QueuedServer> server = std::move(created).value();
  Status started = server->start();
  if (!started.isOk()) {
    std::fprintf(stderr, "push-queued: FATAL: %s\n", started.message().c_str());
    server.reset();
    (void)loop.shutdown();
    return 1;
  }
  std::printf("TCP_ADDRESS %s\nHTTP_ADDRESS %s\n", server->tcpAddress().toString().c_str(),
              server->httpAddress().toString().c_str());
  if (server->httpsAddress().port() != 0) {
    std::printf("HTTPS_ADDRESS %s\n", server->httpsAddress().toString().c_str());
  }
  std::fflush(stdout);
  net::SignalWatcherPtr signals = net::SignalWatcher::create(loop, [&](int signum) {
    LOG_INFO(Queue, "signal {}: stopping", signum);
    signals.reset();
    (void)server->stop();
    loop.stop();
  });
  loop.run();
  signals.reset();
  server.reset();
  Status st = loop.shutdown();
  if (!st.isOk()) LOG_WARN(Queue, "shutdown: {}", st.toString());
  return 0;
}

#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/base/result.h"
#include "common/base/status.h"
#include "common/http/http_server.h"
#include "common/net/inet_address.h"
#include "common/net/owning_ptrs.h"
#include "services/queued/queued_options.h"

namespace push::net {
class EventLoop;
}
namespace push::queue {
class QueueEngine;
}

namespace push::queued {

class LookupdRegistrar;
class ProtocolV2;

// queued: the queue engine behind nsqd's TCP protocol V2 and HTTP API, registered with
// nsqlookupd (README.md). Owns the engine, the protocol server, the HTTP server (and, with
// --tls-cert, --tls-key and a non-empty --https-address, the same API over TLS, as nsqd), the
// lookupd registrar and the timers that drive them: the engine's tick (timeouts, deferred
// messages) and the protocol's (heartbeats) every 10 ms, the disk sync every --sync-timeout.
//
// Loop-thread only. create() then start(); stop() closes clients, syncs every disk queue and
// writes the metadata; the destructor stops if stop() was not called.
class QueuedServer {
 public:
  static Result<std::unique_ptr<QueuedServer>> create(net::EventLoop& loop, QueuedOptions options);
  ~QueuedServer();

  // Loads the metadata and disk queues, then listens (TCP, HTTP, HTTPS) and registers with
  // lookupd (TCP and HTTP ports only, as nsqd).
  Status start();
  Status stop();

  net::InetAddress tcpAddress() const;
  net::InetAddress httpAddress() const;
  // The HTTPS listener's address; empty (port 0) when it does not run.
  net::InetAddress httpsAddress() const;

  queue::QueueEngine& engine() { return *engine_; }
  ProtocolV2& protocol() { return *protocol_; }
  LookupdRegistrar& registrar() { return *registrar_; }
  const QueuedOptions& options() const { return options_; }
  int64_t startTimeSeconds() const { return start_time_s_; }
  int64_t uptimeMs() const;

 private:
  QueuedServer(net::EventLoop& loop, QueuedOptions options);
  void onTick();

  net::EventLoop& loop_;
  QueuedOptions options_;
  std::unique_ptr<queue::QueueEngine> engine_;
  std::unique_ptr<ProtocolV2> protocol_;
  std::unique_ptr<LookupdRegistrar> registrar_;
  http::HttpServerPtr http_;
  http::HttpServerPtr https_;  // null unless TLS is configured and --https-address is set
  net::PeriodicTimerPtr tick_timer_;
  net::PeriodicTimerPtr sync_timer_;
  int64_t start_time_s_ = 0;
  int64_t start_ms_ = 0;
  int64_t last_protocol_tick_ms_ = 0;
  bool stopped_ = false;
};

}  // namespace push::queued

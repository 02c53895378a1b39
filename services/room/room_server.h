#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/base/result.h"
#include "common/http/http_server.h"
#include "common/net/inet_address.h"
#include "common/net/periodic_timer.h"
#include "common/net/tcp_server.h"
#include "common/rpc/channel.h"
#include "common/rpc/server.h"
#include "services/room/room_options.h"

namespace push::net {
class EventLoop;
}
namespace push::saver {
class Saver_Stub;
}
namespace push::coord {
class Coordinator_Stub;
}

namespace push::room {

class AckForwarder;
class AckTracker;
class AppTable;
class BroadcastConsumer;
class BroadcastPacer;
class ClientProtocol;
class ConnectionTable;
class Delivery;
class IpFilter;
class OfflineReplay;
class RoomDrain;
class RoomRpcService;
class SessionAnnouncer;
class Sessions;
class TagIndex;
class UpstreamForwarder;

// One room instance (docs/ARCHITECTURE.md §2): owns and wires its parts, and runs its life (start,
// drain, stop). The parts, one concern each:
//   ConnectionTable    every client connection's state, by ConnId
//   ClientProtocol     the client protocol: admission, frames, Auth/Bind/Ack..., deadlines
//   Sessions           (app, user) -> connections, caps per user/device, register updates
//   SessionAnnouncer   Online/Offline batches and heartbeats to register
//   Delivery           Room.Deliver: a message to the connections of its targets
//   RoomRpcService     the Room RPC service (Deliver, Kick, Drain, ListSessions)
//   RoomDrain          Reconnect spread over a window, then close
//   TagIndex           (app, tag) -> subscribed connections (Subscribe frames; broadcasts)
//   BroadcastConsumer  bcast.<app> from queued, one channel per room instance (when configured)
//   BroadcastPacer     a broadcast to the app's (or tag's) connections, paced, coalesced
//   AckForwarder       accepted client acks to saver, batched, retried (when configured)
//   UpstreamForwarder  Upstream frames to coordinator and UpstreamAcks back; session events
//                      (when configured)
//   OfflineReplay      at Auth/Bind: stored messages and missed broadcasts from saver, before
//                      live pushes (when configured)
//   AppTable, IpFilter, AckTracker
// plus the TCP and WebSocket listeners, the RPC server and the admin port.
//
// Ownership: create(), start(); stop(done) closes everything and runs `done` once every
// connection, listener and timer is closed and the last session changes went to register;
// destroy the RoomServer after that. Loop-thread only.
class RoomServer final {
 public:
  static Result<std::unique_ptr<RoomServer>> create(net::EventLoop& loop, RoomOptions options);
  ~RoomServer();

  Status start();
  // Starts draining (RoomDrain): listeners close, every client gets Reconnect with a delay
  // spread over `window`, connections still open at their delay + grace (or at `deadline`)
  // are closed; `on_drained` runs once no connection is left. Idempotent.
  void drain(std::chrono::milliseconds window, std::chrono::milliseconds deadline,
             std::function<void()> on_drained);
  // drain() with the configured window and deadline (0: configured) for the RPC and SIGTERM;
  // returns the connections open when it started.
  uint32_t drainWithDefaults(uint32_t window_ms = 0, uint32_t deadline_ms = 0);
  void stop(std::function<void()> done);
  // Runs when a drain started by RPC (or drain() without a callback) completes.
  void setOnDrained(std::function<void()> fn) { on_drained_ = std::move(fn); }

  const std::string& roomId() const { return room_id_; }
  const net::InetAddress& tcpAddress() const { return tcp_address_; }
  const net::InetAddress& wsAddress() const { return ws_address_; }
  const net::InetAddress& rpcAddress() const { return rpc_address_; }
  const net::InetAddress& adminAddress() const { return admin_address_; }
  size_t connectionCount() const;
  size_t sessionCount() const;
  bool draining() const;
  std::string statusJson() const;

  // The parts, for tests and tools.
  const TagIndex& tags() const { return *tags_; }
  Delivery& delivery() { return *delivery_; }
  RoomRpcService& rpcService() { return *rpc_service_; }
  BroadcastPacer& pacer() { return *pacer_; }
  const BroadcastConsumer* broadcasts() const { return broadcasts_.get(); }
  // Null without saver.
  const AckForwarder* ackForwarder() const { return forwarder_.get(); }
  const OfflineReplay* replay() const { return replay_.get(); }
  // Null without a coordinator.
  const UpstreamForwarder* upstreamForwarder() const { return upstream_.get(); }

 private:
  RoomServer(net::EventLoop& loop, RoomOptions options, IpFilter filter);
  void closeListeners();
  Status startSaver();
  Status startCoordinator();
  void onConnectionClosed();
  // ZooKeeper apps/<app> (rooms without static apps): the table follows the records; a new app
  // gets its broadcast subscription, a removed one's connections are closed (ERROR_UNKNOWN_APP).
  void applyApps(const discovery::AppDirectory::Apps& records);
  void closeAppConnections(uint16_t app);
  // ZooKeeper services/register (register.discover): the announcer routes by their slot map.
  void followRegisters(const std::vector<discovery::ServiceInstance>& registers);
  void maybeFinishStop();

  net::EventLoop& loop_;
  const RoomOptions options_;
  std::string room_id_;
  std::string advertised_rpc_;

  std::unique_ptr<AppTable> apps_;
  std::unique_ptr<IpFilter> ip_filter_;
  std::unique_ptr<AckTracker> acks_;
  std::unique_ptr<ConnectionTable> table_;
  std::unique_ptr<Sessions> sessions_;
  std::unique_ptr<TagIndex> tags_;
  std::unique_ptr<ClientProtocol> protocol_;
  std::unique_ptr<Delivery> delivery_;
  std::unique_ptr<RoomDrain> drain_;
  std::unique_ptr<RoomRpcService> rpc_service_;
  std::unique_ptr<BroadcastPacer> pacer_;
  std::unique_ptr<BroadcastConsumer> broadcasts_;  // null without queued; after pacer_
  std::unique_ptr<SessionAnnouncer> announcer_;    // null without register
  // Saver (all null without it): the parts before the stub before the channel in
  // destruction order (calls completing later find the parts gone and do nothing).
  rpc::ChannelPtr saver_channel_;
  std::unique_ptr<saver::Saver_Stub> saver_stub_;
  std::unique_ptr<AckForwarder> forwarder_;
  std::unique_ptr<OfflineReplay> replay_;
  // Coordinator (all null without it), in the same order as saver's.
  rpc::ChannelPtr coordinator_channel_;
  std::unique_ptr<coord::Coordinator_Stub> coordinator_stub_;
  std::unique_ptr<UpstreamForwarder> upstream_;

  net::TcpServerPtr tcp_listener_;
  net::TcpServerPtr ws_listener_;
  rpc::ServerPtr rpc_server_;  // after rpc_service_: the server calls into it until closed
  http::HttpServerPtr admin_;
  // Null without ZooKeeper. Feeds saver_channel_ (declared after it, so destroyed before it).
  std::unique_ptr<service::DiscoveryLink> discovery_;
  net::PeriodicTimerPtr housekeeping_;  // IP filter sweep, register heartbeat

  net::InetAddress tcp_address_, ws_address_, rpc_address_, admin_address_;
  std::function<void()> on_drained_;
  uint64_t app_updates_ = 0;       // app lists applied from ZooKeeper
  uint64_t register_updates_ = 0;  // register lists applied from ZooKeeper
  bool stopping_ = false;
  bool rpc_stopped_ = false;
  bool broadcasts_stopped_ = false;
  bool finishing_ = false;  // stopped everything; waiting for register to take the last batch
  std::function<void()> on_stopped_;
};

}  // namespace push::room

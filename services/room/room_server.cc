#include "services/room/room_server.h"

#include <unistd.h>

#include <algorithm>
#include <map>

#include <google/protobuf/message.h>

#include "common/base/clock.h"
#include "common/base/json_writer.h"
#include "common/base/log.h"
#include "common/net/event_loop.h"
#include "proto/config.pb.h"
#include "proto/coordinator.pb.h"
#include "proto/saver.pb.h"
#include "services/common/admin_port.h"
#include "services/room/ack_forwarder.h"
#include "services/room/ack_tracker.h"
#include "services/room/app_table.h"
#include "services/room/broadcast_consumer.h"
#include "services/room/broadcast_pacer.h"
#include "services/room/client_protocol.h"
#include "services/room/connection_table.h"
#include "services/room/delivery.h"
#include "services/room/ip_filter.h"
#include "services/room/offline_replay.h"
#include "services/room/room_drain.h"
#include "services/room/room_metrics.h"
#include "services/room/room_rpc_service.h"
#include "services/room/session_announcer.h"
#include "services/room/sessions.h"
#include "services/room/tag_index.h"
#include "services/room/upstream_forwarder.h"

namespace push::room {

Result<std::unique_ptr<RoomServer>> RoomServer::create(net::EventLoop& loop, RoomOptions options) {
  if (options.apps.empty() && !options.discovery.enabled()) {
    return invalidArgument(
        "room: no apps configured: list apps, or configure discovery.zookeeper to take them from "
        "ZooKeeper apps/<app>");
  }
  if (options.max_apps_per_connection > kMaxAppsPerConnection) {
    return invalidArgument("room: max_apps_per_connection over " +
                           std::to_string(kMaxAppsPerConnection));
  }
  if (options.max_tags_per_connection == 0 ||
      options.max_tags_per_connection > kMaxTagsPerConnection) {
    return invalidArgument("room: max_tags_per_connection must be 1.." +
                           std::to_string(kMaxTagsPerConnection));
  }
  if (options.apps.size() > 65535) return invalidArgument("room: too many apps");
  if (options.register_client && options.register_client->discover &&
      !options.discovery.enabled()) {
    return invalidArgument("room: register.discover needs discovery.zookeeper");
  }
  if (options.session_limits.max_per_user == 0 || options.session_limits.max_per_device == 0) {
    return invalidArgument("room: session limits must be at least 1");
  }
  ASSIGN_OR_RETURN(IpFilter filter, IpFilter::create(options.ip_filter));
  return std::unique_ptr<RoomServer>(new RoomServer(loop, std::move(options), std::move(filter)));
}

namespace {
RoomOptions withInputLimit(RoomOptions o) {
  o.limits.max_input = std::max<uint32_t>(o.limits.max_input, o.max_frame_bytes + 64);
  return o;
}
}  // namespace

RoomServer::RoomServer(net::EventLoop& loop, RoomOptions options, IpFilter filter)
    : loop_(loop), options_(withInputLimit(std::move(options))) {
  room_id_ = options_.name + "-" + std::to_string(::getpid()) + "-" +
             std::to_string(Clock::system().wallMillis());
  apps_ = std::make_unique<AppTable>(options_.apps);
  roomMetrics().apps_served.set(static_cast<int64_t>(apps_->served()));
  ip_filter_ = std::make_unique<IpFilter>(std::move(filter));
  acks_ = std::make_unique<AckTracker>();
  table_ = std::make_unique<ConnectionTable>();
  sessions_ = std::make_unique<Sessions>(*apps_, *table_, options_.session_limits);
  tags_ = std::make_unique<TagIndex>(options_.max_tags_per_connection);
  protocol_ = std::make_unique<ClientProtocol>(ClientProtocol::Context{
      loop_, options_, room_id_, *apps_, *table_, *sessions_, *ip_filter_, *acks_, *tags_});
  protocol_->setOnConnectionClosed([this] { onConnectionClosed(); });
  delivery_ = std::make_unique<Delivery>(*apps_, *table_, *sessions_, *protocol_, *acks_,
                                         options_.max_unacked_per_connection);
  drain_ = std::make_unique<RoomDrain>(loop_, *table_, *protocol_);
  rpc_service_ = std::make_unique<RoomRpcService>(
      RoomRpcService::Context{*apps_, *table_, *sessions_, *protocol_, *delivery_, room_id_,
                              advertised_rpc_, [this](uint32_t window_ms, uint32_t deadline_ms) {
                                return drainWithDefaults(window_ms, deadline_ms);
                              }});
  BroadcastPacer::Options pacing;
  pacing.rate_per_s = options_.broadcast_rate_per_s;
  pacer_ = std::make_unique<BroadcastPacer>(loop_, *table_, *tags_, *protocol_, pacing,
                                            [this](uint64_t token, uint32_t written) {
                                              if (broadcasts_)
                                                broadcasts_->onWritten(token, written);
                                            });
}

RoomServer::~RoomServer() {
  // stop() must have completed: no connection may still call back into this object.
  if (table_->size() > 0) {
    LOG_ERROR(Room, "room {} destroyed with {} connections open", room_id_, table_->size());
  }
}

size_t RoomServer::connectionCount() const {
  return table_->size();
}
size_t RoomServer::sessionCount() const {
  return sessions_->count();
}
bool RoomServer::draining() const {
  return drain_->active();
}

Status RoomServer::startSaver() {
  if (!options_.saver) return Status::ok();
  const RoomOptions::Saver& o = *options_.saver;
  ASSIGN_OR_RETURN(saver_channel_, rpc::Channel::create(loop_, o.channel));
  if (o.discover) {
    if (!discovery_) return invalidArgument("saver.discover: needs discovery.zookeeper");
    RETURN_IF_ERROR(discovery_->feedChannel("saver", "rpc", *saver_channel_));
  } else {
    RETURN_IF_ERROR(saver_channel_->setEndpoints(o.addresses));
  }
  saver_stub_ = std::make_unique<saver::Saver_Stub>(saver_channel_.get());
  AckForwarder::Options fo;
  fo.timeout = o.timeout;
  fo.batch_max = o.ack_batch_max;
  fo.batch_interval = o.ack_batch_interval;
  fo.backlog_max = o.ack_backlog_max;
  forwarder_ = std::make_unique<AckForwarder>(loop_, *saver_stub_, *apps_, fo);
  OfflineReplay::Options ro;
  // No more than the connection can track for acks: an ack of a message its PendingAcks
  // forgot is not forwarded, so that message would be loaded again at every connect until
  // max_loads dropped it. The rest comes at the next connect, once these are acked.
  ro.max_messages = std::min<uint32_t>(o.replay_max_messages, options_.max_unacked_per_connection);
  ro.page = o.replay_page;
  ro.timeout = o.replay_timeout;
  ro.call_timeout = o.timeout;
  ro.hold_max = o.replay_hold_max;
  ro.max_unacked = options_.max_unacked_per_connection;
  ro.after_register = options_.register_client.has_value();
  replay_ = std::make_unique<OfflineReplay>(loop_, *saver_stub_, *apps_, *table_, *protocol_, ro);
  protocol_->setSaver(forwarder_.get(), replay_.get());
  delivery_->setReplay(replay_.get());
  // With sessions announced to register, a replay loads once register has the session.
  if (ro.after_register) {
    sessions_->setOnRegistered([this](net::ConnId id, uint16_t app) {
      if (replay_) replay_->registered(id, app);
    });
  }
  if (o.discover) {
    LOG_INFO(Room, "saver: acks forwarded and replays loaded from savers found in ZooKeeper");
  } else {
    LOG_INFO(Room, "saver: acks forwarded and replays loaded from {} address(es)",
             o.addresses.size());
  }
  return Status::ok();
}

Status RoomServer::startCoordinator() {
  if (!options_.coordinator) return Status::ok();
  const RoomOptions::Coordinator& o = *options_.coordinator;
  ASSIGN_OR_RETURN(coordinator_channel_, rpc::Channel::create(loop_, o.channel));
  if (o.discover) {
    if (!discovery_) return invalidArgument("coordinator.discover: needs discovery.zookeeper");
    RETURN_IF_ERROR(discovery_->feedChannel("coordinator", "rpc", *coordinator_channel_));
  } else {
    RETURN_IF_ERROR(coordinator_channel_->setEndpoints(o.addresses));
  }
  coordinator_stub_ = std::make_unique<coord::Coordinator_Stub>(coordinator_channel_.get());
  UpstreamForwarder::Options uo;
  uo.timeout = o.timeout;
  uo.batch_max = o.batch_max;
  uo.batch_interval = o.batch_interval;
  uo.max_pending_per_connection = o.max_pending_per_connection;
  uo.max_pending = o.max_pending;
  uo.event_backlog_max = o.event_backlog_max;
  upstream_ = std::make_unique<UpstreamForwarder>(
      loop_, *coordinator_stub_, room_id_, uo, [this](net::ConnId id, const client::Frame& frame) {
        // The connection may have closed meanwhile: a stale id finds nothing.
        if (ClientConn* c = table_->find(id)) protocol_->sendFrame(*c, frame);
      });
  protocol_->setUpstream(upstream_.get());
  sessions_->setUpstream(upstream_.get());
  if (o.discover) {
    LOG_INFO(Room, "coordinator: upstream and session events to coordinators found in ZooKeeper");
  } else {
    LOG_INFO(Room, "coordinator: upstream and session events to {} address(es)",
             o.addresses.size());
  }
  return Status::ok();
}

Status RoomServer::start() {
  loop_.assertInLoopThread();
  protocol_->start();
  ASSIGN_OR_RETURN(discovery_, service::DiscoveryLink::create(loop_, options_.discovery));
  RETURN_IF_ERROR(startSaver());
  RETURN_IF_ERROR(startCoordinator());
  net::TcpServer::Options tcp;
  tcp.address = options_.tcp_address;
  tcp.reuse_port = options_.reuse_port;
  auto onTcp = [this](net::TcpConnection& c) { protocol_->accept(c, false); };
  ASSIGN_OR_RETURN(tcp_listener_, net::TcpServer::listen(loop_, tcp, onTcp));
  tcp_address_ = tcp_listener_->address();
  if (!options_.ws_address.empty()) {
    net::TcpServer::Options ws = tcp;
    ws.address = options_.ws_address;
    auto onWs = [this](net::TcpConnection& c) { protocol_->accept(c, true); };
    ASSIGN_OR_RETURN(ws_listener_, net::TcpServer::listen(loop_, ws, onWs));
    ws_address_ = ws_listener_->address();
  }
  rpc_server_ = rpc::Server::create(loop_, options_.rpc);
  RETURN_IF_ERROR(rpc_server_->addService(rpc_service_.get()));
  RETURN_IF_ERROR(rpc_server_->start());
  rpc_address_ = rpc_server_->address();
  advertised_rpc_ =
      options_.advertise_rpc.empty() ? rpc_address_.toString() : options_.advertise_rpc;
  ASSIGN_OR_RETURN(
      admin_, service::startAdmin(
                  loop_, options_.admin_address,
                  {.health = [this] { return draining() ? unavailable("draining") : Status::ok(); },
                   .status_json = [this] { return statusJson(); }}));
  if (admin_) admin_address_ = admin_->address();
  if (options_.register_client) {
    SessionAnnouncer::Options ao{*options_.register_client, options_.register_heartbeat, room_id_,
                                 advertised_rpc_};
    ASSIGN_OR_RETURN(announcer_, SessionAnnouncer::create(loop_, std::move(ao),
                                                          [this] { return sessions_->count(); }));
    sessions_->setAnnouncer(announcer_.get());
  }
  housekeeping_ = net::PeriodicTimer::create(loop_, [this] {
    ip_filter_->sweep(loop_.nowMs());
    if (announcer_) announcer_->tick(loop_.nowMs());
  });
  housekeeping_->start(std::min<std::chrono::milliseconds>(options_.register_heartbeat,
                                                           std::chrono::milliseconds(1000)));
  if (announcer_) announcer_->heartbeat(loop_.nowMs());  // introduce ourselves at once
  if (!options_.queued.empty() || !options_.queued_lookupd.empty()) {
    BroadcastConsumer::Options bo;
    bo.queued = options_.queued;
    bo.lookupd = options_.queued_lookupd;
    bo.lookup_interval = options_.queued_lookup_interval;
    bo.max_in_flight = options_.broadcast_max_in_flight;
    ASSIGN_OR_RETURN(broadcasts_,
                     BroadcastConsumer::create(loop_, std::move(bo), *apps_, room_id_, *pacer_));
    protocol_->setBroadcasts(broadcasts_.get());
  }
  if (discovery_) {
    std::map<std::string, net::InetAddress> endpoints{{"tcp", tcp_address_}};
    if (ws_listener_) endpoints.emplace("ws", ws_address_);
    if (admin_) endpoints.emplace("admin", admin_address_);
    auto rpc = net::InetAddress::parse(advertised_rpc_);
    endpoints.emplace("rpc", rpc.isOk() ? *rpc : rpc_address_);
    const double capacity = options_.discovery.capacity;
    RETURN_IF_ERROR(discovery_->registerSelf("room", room_id_, endpoints, [this, capacity] {
      return draining() ? 1.0 : static_cast<double>(table_->size()) / capacity;
    }));
    // Live config (config/room): log levels and the heartbeat hints of new connections.
    RETURN_IF_ERROR(discovery_->watchConfig(
        "room", std::make_unique<config::RoomConfig>(),
        [this](const google::protobuf::Message& m) -> Status {
          const auto& live = static_cast<const config::RoomConfig&>(m);
          ASSIGN_OR_RETURN(auto hints,
                           RoomOptions::liveHeartbeats(live, nullptr, options_.heartbeats()));
          protocol_->setHeartbeats(hints);
          LOG_INFO(Room, "live config: heartbeats wifi {} s, cellular {} s, unknown {} s [{}, {}]",
                   hints.wifi_s, hints.cellular_s, hints.unknown_s, hints.min_s, hints.max_s);
          return Status::ok();
        }));
  }
  if (announcer_ && options_.register_client->discover) {
    // Until the first list arrives the announcer knows no register: changes are dropped and
    // marked for a resync, which the first list's heartbeat asks for.
    RETURN_IF_ERROR(discovery_->watch(
        "register", [this](const std::vector<discovery::ServiceInstance>& registers) {
          followRegisters(registers);
        }));
  }
  if (discovery_ && options_.apps.empty()) {
    // No static apps: ZooKeeper's, followed live. Until the first list arrives Auth frames
    // wait (ClientProtocol::setHoldAuth), bounded by the auth deadline.
    protocol_->setHoldAuth(true);
    RETURN_IF_ERROR(discovery_->watchApps(
        [this](const discovery::AppDirectory::Apps& apps) { applyApps(apps); }));
  }
  LOG_INFO(Room, "room {} serving clients on tcp {}{}{}, rpc {}", room_id_, tcp_address_.toString(),
           ws_listener_ ? ", ws " : "", ws_listener_ ? ws_address_.toString() : "",
           rpc_address_.toString());
  return Status::ok();
}

void RoomServer::followRegisters(const std::vector<discovery::ServiceInstance>& registers) {
  // Followed while draining too: the Offlines of the connections closing go to the owners.
  if (!announcer_) return;
  auto shards = reg::RegisterClient::shardsOfInstances(registers);
  const Status st = shards.isOk() ? announcer_->setShards(std::move(shards).value(), loop_.nowMs())
                                  : shards.status();
  if (!st.isOk()) {
    LOG_ERROR(Room, "register instances from ZooKeeper not applied, the previous map stays: {}",
              st.toString());
    return;
  }
  ++register_updates_;
  LOG_INFO(Room, "register: {} instance(s) from ZooKeeper, {} shard(s)", registers.size(),
           announcer_->shardCount());
}

void RoomServer::applyApps(const discovery::AppDirectory::Apps& records) {
  if (stopping_) return;  // connections are closing anyway; nothing new is subscribed
  const AppTable::Changes changes = apps_->apply(records);
  ++app_updates_;
  roomMetrics().app_updates.inc();
  roomMetrics().apps_served.set(static_cast<int64_t>(apps_->served()));
  std::string added, removed, edited;
  for (uint16_t app : changes.added) {
    added += (added.empty() ? "" : ",") + apps_->name(app);
    if (!broadcasts_) continue;
    // The app is served without broadcasts rather than refused: pushes still reach it.
    if (Status st = broadcasts_->addApp(app); !st.isOk()) {
      LOG_ERROR(Room, "apps: no broadcasts for '{}': {}", apps_->name(app), st.toString());
    }
  }
  for (uint16_t app : changes.removed) {
    removed += (removed.empty() ? "" : ",") + apps_->name(app);
    closeAppConnections(app);
  }
  for (uint16_t app : changes.edited)
    edited += (edited.empty() ? "" : ",") + apps_->name(app);
  protocol_->setHoldAuth(false);  // the first list: the Auth frames that waited for it
  LOG_INFO(Room, "apps from ZooKeeper: {} served; added [{}] removed [{}] secrets changed [{}]{}",
           apps_->served(), added, removed, edited,
           changes.ignored ? " (" + std::to_string(changes.ignored) + " over the bound ignored)"
                           : std::string());
}

void RoomServer::closeAppConnections(uint16_t app) {
  // Every connection carrying the app, as its Auth app or bound: its sessions would otherwise
  // stay registered for an app no one may push to any more. An Error frame says why; the SDK
  // stops reconnecting on ERROR_UNKNOWN_APP (sdk/PROTOCOL.md "Errors").
  size_t closed = 0;
  for (size_t i = 0; i < table_->slotCount(); ++i) {
    ClientConn& c = table_->slot(i);
    if (!c.in_use || c.state != ConnState::Active || !c.hasApp(app)) continue;
    protocol_->fail(c, client::ERROR_UNKNOWN_APP,
                    "app '" + apps_->name(app) + "' is no longer served here");
    ++closed;
  }
  if (closed > 0) {
    LOG_INFO(Room, "apps: '{}' removed: {} connection(s) closed", apps_->name(app), closed);
  }
}

void RoomServer::closeListeners() {
  // New connections go to the other workers sharing the port (SO_REUSEPORT) or elsewhere.
  tcp_listener_.reset();
  ws_listener_.reset();
}

void RoomServer::drain(std::chrono::milliseconds window, std::chrono::milliseconds deadline,
                       std::function<void()> on_drained) {
  if (!on_drained) on_drained = on_drained_;
  closeListeners();
  if (discovery_) discovery_->refreshNow();  // load 1 from now: dispatcher sends no one here
  drain_->start(window, deadline, std::move(on_drained));
}

uint32_t RoomServer::drainWithDefaults(uint32_t window_ms, uint32_t deadline_ms) {
  const uint32_t before = static_cast<uint32_t>(table_->size());
  drain(window_ms ? std::chrono::milliseconds(window_ms) : options_.drain_window,
        deadline_ms ? std::chrono::milliseconds(deadline_ms) : options_.drain_deadline, nullptr);
  return before;
}

void RoomServer::onConnectionClosed() {
  drain_->check();
  if (stopping_) maybeFinishStop();
}

void RoomServer::stop(std::function<void()> done) {
  loop_.assertInLoopThread();
  if (stopping_) return;
  stopping_ = true;
  on_stopped_ = std::move(done);
  protocol_->setDraining(true);
  closeListeners();
  admin_.reset();
  if (discovery_) discovery_->stop(nullptr);  // dispatcher stops sending clients here
  housekeeping_.reset();
  if (replay_) replay_->clear();  // nothing held is written to connections that are closing
  for (size_t i = 0; i < table_->slotCount(); ++i) {
    if (table_->slot(i).in_use) table_->slot(i).tcp->close();
  }
  if (broadcasts_) {
    broadcasts_->stop([this] {
      broadcasts_stopped_ = true;
      maybeFinishStop();
    });
  } else {
    pacer_->clear();
    broadcasts_stopped_ = true;
  }
  if (rpc_server_) {
    // The server deletes itself once shut down: handed over, not closed by rpc_server_.
    rpc_server_.release()->shutdown(std::chrono::milliseconds(1000), [this] {
      rpc_stopped_ = true;
      maybeFinishStop();
    });
  } else {
    rpc_stopped_ = true;
  }
  maybeFinishStop();
}

void RoomServer::maybeFinishStop() {
  if (!stopping_ || table_->size() > 0 || !rpc_stopped_ || !broadcasts_stopped_ || !on_stopped_ ||
      finishing_) {
    return;
  }
  finishing_ = true;
  protocol_->stop();
  auto finish = [this] {
    sessions_->setAnnouncer(nullptr);
    announcer_.reset();  // closes its channels
    sessions_->setUpstream(nullptr);
    protocol_->setUpstream(nullptr);
    upstream_.reset();
    coordinator_stub_.reset();
    coordinator_channel_.reset();
    auto done = std::move(on_stopped_);
    on_stopped_ = nullptr;
    done();
  };
  // The session events queued last (the offline events of the connections the stop closed)
  // go to the coordinator before it is let go, bounded by stop_flush.
  auto flushEvents = [this, finish = std::move(finish)]() mutable {
    if (!upstream_) return finish();
    upstream_->flushEvents(options_.coordinator->stop_flush, std::move(finish));
  };
  auto flushAnnouncer = [this, finish = std::move(flushEvents)]() mutable {
    protocol_->setSaver(nullptr, nullptr);
    delivery_->setReplay(nullptr);
    replay_.reset();
    forwarder_.reset();
    saver_stub_.reset();
    discovery_.reset();      // its watcher feeds saver_channel_; the session closes
    saver_channel_.reset();  // after the last call it carried
    if (!announcer_) return loop_.post(std::move(finish));
    // The Offline batches of the connections that just closed: register stops routing to
    // this room now instead of at its room timeout.
    announcer_->flush(std::move(finish));
  };
  // The acks accepted last go to saver first (one attempt, bounded by the call timeout):
  // otherwise their messages are sent again.
  if (forwarder_) return forwarder_->flush(std::move(flushAnnouncer));
  flushAnnouncer();
}

std::string RoomServer::statusJson() const {
  JsonWriter w(512);
  w.beginObject();
  w.key("room_id").string(room_id_);
  w.key("tcp").string(tcp_address_.toString());
  w.key("rpc").string(advertised_rpc_);
  w.key("connections").uint64(table_->size());
  w.key("sessions").uint64(sessions_->count());
  w.key("users").uint64(sessions_->users());
  w.key("tags").uint64(tags_->entries());  // (app, tag) pairs with a subscriber
  w.key("tag_subscriptions").uint64(tags_->subscriptions());
  w.key("draining").boolean(draining());
  const RoomOptions::HeartbeatHints& hb = protocol_->heartbeats();
  w.key("heartbeat").beginObject();
  w.key("wifi_s").uint64(hb.wifi_s).key("cellular_s").uint64(hb.cellular_s);
  w.key("unknown_s").uint64(hb.unknown_s).key("min_s").uint64(hb.min_s);
  w.key("max_s").uint64(hb.max_s);
  w.endObject();
  if (discovery_) w.key("discovery").raw(discovery_->statusJson());
  if (announcer_) {
    w.key("register").beginObject();
    w.key("source").string(options_.register_client->discover ? "zookeeper" : "config");
    w.key("shards").uint64(announcer_->shardCount());
    w.key("updates").uint64(register_updates_);
    w.endObject();
  }
  w.key("apps").beginObject();
  w.key("source").string(options_.apps.empty() ? "zookeeper" : "config");
  w.key("served").uint64(apps_->served());
  w.key("numbered").uint64(apps_->size());  // served or removed: numbers are never reused
  w.key("updates").uint64(app_updates_);
  w.key("ignored_over_bound").uint64(apps_->ignoredOverLimit());
  w.key("held_auths").uint64(protocol_->heldAuths());
  w.endObject();
  w.key("ip_tracked").uint64(ip_filter_->trackedAddresses());
  w.key("broadcast").beginObject();
  if (broadcasts_) {
    const BroadcastConsumer::Stats b = broadcasts_->stats();
    w.key("channel").string(broadcasts_->channel());
    w.key("queued_connections").uint64(b.connections);
    w.key("received").uint64(b.received);
    w.key("delivered").uint64(b.delivered);
    w.key("expired").uint64(b.expired);
    w.key("invalid").uint64(b.invalid);
  }
  w.key("pending").uint64(pacer_->pending());
  w.key("writes").uint64(pacer_->deliveries());
  w.endObject();
  if (forwarder_ && replay_) {
    const AckForwarder::Stats a = forwarder_->stats();
    const OfflineReplay::Stats r = replay_->stats();
    w.key("saver").beginObject();
    w.key("usable_endpoints").uint64(saver_channel_ ? saver_channel_->usableEndpoints() : 0);
    w.key("acks_accepted").uint64(a.accepted);
    w.key("acks_forwarded").uint64(a.forwarded);
    w.key("acks_removed").uint64(a.removed);
    w.key("acks_dropped").uint64(a.dropped);
    w.key("acks_backlog").uint64(a.backlog);
    w.key("acks_in_flight").uint64(a.in_flight);
    w.key("ack_calls_failed").uint64(a.failed_calls);
    w.key("replays_active").uint64(r.active);
    w.key("replays_started").uint64(r.started);
    w.key("replays_completed").uint64(r.completed);
    w.key("replays_abandoned").uint64(r.abandoned);
    w.key("replayed_messages").uint64(r.messages);
    w.key("replayed_broadcasts").uint64(r.broadcasts);
    w.key("replay_expired").uint64(r.expired);
    w.key("replay_load_failures").uint64(r.load_failures);
    w.key("replay_held").uint64(r.held);
    w.key("replay_waited_for_register").uint64(r.waited_for_register);
    w.endObject();
  }
  w.key("acks");
  acks_->writeRecent(w, 20);
  w.endObject();
  return w.take();
}

}  // namespace push::room

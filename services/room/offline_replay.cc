#include "services/room/offline_replay.h"

#include <algorithm>
#include <utility>

#include "common/base/clock.h"
#include "common/base/log.h"
#include "common/net/event_loop.h"
#include "common/net/tcp_connection.h"
#include "common/rpc/controller.h"
#include "proto/client.pb.h"
#include "proto/saver.pb.h"
#include "services/room/app_table.h"
#include "services/room/client_conn.h"
#include "services/room/client_protocol.h"
#include "services/room/connection_table.h"
#include "services/room/room_metrics.h"

namespace push::room {

// One app's loads for one replay: the stored pages, then the broadcast pages. Owned by the
// call in flight (handed from callback to the next call).
struct OfflineReplay::AppLoad {
  net::ConnId conn = 0;
  uint64_t serial = 0;
  uint16_t app = 0;
  std::string user;
  uint64_t after_id = 0;   // the next stored page starts after it
  uint64_t after_seq = 0;  // the next broadcast page starts after it (0: no broadcasts)
  uint32_t messages = 0;   // stored messages loaded so far
  uint32_t broadcasts = 0;
  rpc::Controller controller;
  saver::LoadRequest load;
  saver::LoadResponse loaded;
  saver::LoadBroadcastsRequest load_broadcasts;
  saver::LoadBroadcastsResponse loaded_broadcasts;
};

namespace {
int64_t wallMs() {
  return Clock::system().wallMillis();
}
}  // namespace

OfflineReplay::OfflineReplay(net::EventLoop& loop, saver::Saver_Stub& saver, const AppTable& apps,
                             ConnectionTable& table, ClientProtocol& protocol, Options options)
    : loop_(loop),
      saver_(saver),
      apps_(apps),
      table_(table),
      protocol_(protocol),
      options_(options),
      alive_(std::make_shared<bool>(true)) {}

OfflineReplay::~OfflineReplay() {
  *alive_ = false;
}

void OfflineReplay::start(ClientConn& c, uint16_t app, uint64_t last_broadcast_seq,
                          bool session_opened) {
  const net::ConnId id = ConnectionTable::idOf(c);
  auto [it, fresh] = replays_.try_emplace(id);
  Replay& r = it->second;
  if (fresh) {
    r.serial = next_serial_++;
    r.started_ms = loop_.nowMs();
    r.deadline = net::PeriodicTimer::create(loop_, [this, id] {
      auto parked = replays_.find(id);
      if (parked != replays_.end() && !parked->second.parked.empty()) {
        // Register has not answered the session yet: load anyway, with a timeout of its own.
        LOG_CONN(Debug, Room, id, "replay: no register answer after {} ms: loading anyway",
                 options_.timeout.count());
        Replay& waiting = parked->second;
        waiting.deadline->start(options_.timeout, false);
        startParked(waiting, 0, true);
        return;
      }
      roomMetrics().replay_timeouts.inc();
      LOG_CONN(Debug, Room, id, "replay: still loading after {} ms: going on without it",
               options_.timeout.count());
      finish(id, false);
    });
    r.deadline->start(options_.timeout, false);
    ++stats_.started;
  }
  ++r.loads;
  auto load = std::make_unique<AppLoad>();
  load->conn = id;
  load->serial = r.serial;
  load->app = app;
  load->user = c.user;
  load->after_seq = last_broadcast_seq;
  if (options_.after_register && session_opened) {
    r.parked.push_back(std::move(load));  // registered() starts it
    return;
  }
  loadStored(std::move(load));
}

void OfflineReplay::registered(net::ConnId id, uint16_t app) {
  loop_.post([this, alive = alive_, id, app] {
    if (!*alive) return;
    auto it = replays_.find(id);
    if (it == replays_.end()) return;  // done (or abandoned) already, or none was started
    startParked(it->second, app, false);
  });
}

void OfflineReplay::startParked(Replay& r, uint16_t app, bool all) {
  std::vector<std::unique_ptr<AppLoad>> loads;
  for (auto p = r.parked.begin(); p != r.parked.end();) {
    if (all || (*p)->app == app) {
      loads.push_back(std::move(*p));
      p = r.parked.erase(p);
    } else {
      ++p;
    }
  }
  for (auto& load : loads) {
    ++stats_.waited_for_register;
    loadStored(std::move(load));  // may finish the replay (r) before it returns: not used after
  }
}

void OfflineReplay::loadStored(std::unique_ptr<AppLoad> load) {
  const uint32_t left = options_.max_messages - load->messages;
  load->controller.Reset();
  load->controller.setTimeout(options_.call_timeout);
  load->load.set_app(apps_.name(load->app));
  load->load.set_user(load->user);
  load->load.set_after_id(load->after_id);
  load->load.set_limit(std::min(left, options_.page));
  load->loaded.Clear();
  AppLoad* raw = load.release();
  std::shared_ptr<bool> alive = alive_;
  saver_.Load(&raw->controller, &raw->load, &raw->loaded, rpc::newCallback([this, raw, alive] {
    std::unique_ptr<AppLoad> load(raw);
    if (!*alive) return;
    ClientConn* c = nullptr;
    Replay* r = find(load->conn, load->serial, &c);
    if (!r) return;  // closed or abandoned meanwhile
    if (!load->controller.status().isOk()) {
      LOG_EVERY_SEC(Warn, Room, 5, "replay: Saver.Load for '{}' failed: {}", load->user,
                    load->controller.status().toString());
      return appDone(*load, false);
    }
    const int64_t now = wallMs();
    for (const saver::StoredMessage& stored : load->loaded.messages()) {
      const Message& m = stored.message();
      load->after_id = m.id();
      ++load->messages;
      if (m.ttl_s() > 0 && m.created_ms() + int64_t{m.ttl_s()} * 1000 <= now) {
        ++stats_.expired;
        continue;
      }
      // Written by this replay, or by an earlier one and not acked yet: not twice.
      if (c->pending_acks && c->pending_acks->contains(m.id())) continue;
      if (!r->sent.insert(m.id()).second) continue;
      client::Frame frame;
      client::Push* push = frame.mutable_push();
      push->set_message_id(m.id());
      push->set_app(m.app());
      push->set_payload(m.payload());
      push->set_qos(m.qos());
      push->set_created_ms(static_cast<uint64_t>(m.created_ms()));
      writePush(*c, frame.SerializeAsString(), m.id(), load->app, m.qos());
      ++stats_.messages;
      roomMetrics().replayed_messages.inc();
    }
    if (c->state != ConnState::Active || c->tcp->closing()) return;  // over its limit
    if (load->loaded.more() && !load->loaded.messages().empty() &&
        load->messages < options_.max_messages) {
      return loadStored(std::move(load));
    }
    if (load->after_seq > 0) return loadBroadcasts(std::move(load));
    appDone(*load, true);
  }));
}

void OfflineReplay::loadBroadcasts(std::unique_ptr<AppLoad> load) {
  load->controller.Reset();
  load->controller.setTimeout(options_.call_timeout);
  load->load_broadcasts.set_app(apps_.name(load->app));
  load->load_broadcasts.set_after_sequence(load->after_seq);
  load->load_broadcasts.set_limit(options_.page);
  load->loaded_broadcasts.Clear();
  AppLoad* raw = load.release();
  std::shared_ptr<bool> alive = alive_;
  saver_.LoadBroadcasts(
      &raw->controller, &raw->load_broadcasts, &raw->loaded_broadcasts,
      rpc::newCallback([this, raw, alive] {
        std::unique_ptr<AppLoad> load(raw);
        if (!*alive) return;
        ClientConn* c = nullptr;
        Replay* r = find(load->conn, load->serial, &c);
        if (!r) return;
        if (!load->controller.status().isOk()) {
          LOG_EVERY_SEC(Warn, Room, 5, "replay: Saver.LoadBroadcasts for '{}' failed: {}",
                        apps_.name(load->app), load->controller.status().toString());
          return appDone(*load, false);
        }
        const uint64_t now = static_cast<uint64_t>(wallMs());
        const std::string& app = apps_.name(load->app);
        for (const broadcast::BroadcastMessage& b : load->loaded_broadcasts.broadcasts()) {
          if (b.sequence() <= load->after_seq) continue;  // not after what the client has
          load->after_seq = b.sequence();
          ++load->broadcasts;
          // Tagged: this connection subscribes after auth, so it cannot be known to want it.
          if (!b.tag().empty() || b.app() != app) continue;
          if (b.expires_ms() != 0 && b.expires_ms() <= now) {
            ++stats_.expired;
            continue;
          }
          if (!r->sent.insert(b.message_id()).second) continue;
          client::Frame frame;
          client::Push* push = frame.mutable_push();
          push->set_message_id(b.message_id());
          push->set_app(b.app());
          push->set_payload(b.payload());
          push->set_qos(b.qos());
          push->set_created_ms(b.created_ms());
          push->set_broadcast_seq(b.sequence());
          // Broadcasts are not in the user's inbox: their acks are not forwarded (as live).
          protocol_.sendFrame(*c, frame);
          ++stats_.broadcasts;
          roomMetrics().replayed_broadcasts.inc();
        }
        if (c->state != ConnState::Active || c->tcp->closing()) return;
        if (load->loaded_broadcasts.more() && !load->loaded_broadcasts.broadcasts().empty() &&
            load->broadcasts < options_.max_messages) {
          return loadBroadcasts(std::move(load));
        }
        appDone(*load, true);
      }));
}

void OfflineReplay::writePush(ClientConn& c, std::string_view frame, uint64_t id, uint16_t app,
                              uint32_t qos) {
  if (!protocol_.sendEncoded(c, frame)) return;
  roomMetrics().pushes.inc();
  if (qos == 0) return;
  if (!c.pending_acks) c.pending_acks = std::make_unique<PendingAcks>();
  c.pending_acks->add(id, options_.max_unacked, app);
}

OfflineReplay::Replay* OfflineReplay::find(net::ConnId id, uint64_t serial, ClientConn** conn) {
  auto it = replays_.find(id);
  if (it == replays_.end() || it->second.serial != serial) return nullptr;
  ClientConn* c = table_.find(id);
  if (!c || c->state != ConnState::Active) {
    replays_.erase(it);
    return nullptr;
  }
  *conn = c;
  return &it->second;
}

void OfflineReplay::appDone(const AppLoad& load, bool ok) {
  if (!ok) {
    ++stats_.load_failures;
    roomMetrics().replay_load_failures.inc();
    return finish(load.conn, false);  // the other apps' answers, if any, are ignored
  }
  auto it = replays_.find(load.conn);
  if (it == replays_.end()) return;
  if (--it->second.loads == 0) finish(load.conn, true);
}

void OfflineReplay::finish(net::ConnId id, bool completed) {
  auto it = replays_.find(id);
  if (it == replays_.end()) return;
  Replay r = std::move(it->second);
  replays_.erase(it);
  r.deadline.reset();
  if (completed) {
    ++stats_.completed;
  } else {
    ++stats_.abandoned;
  }
  roomMetrics().replay_seconds.observe(static_cast<double>(loop_.nowMs() - r.started_ms) / 1e3);
  ClientConn* c = table_.find(id);
  if (!c || c->state != ConnState::Active) return;
  for (const Held& h : r.held) {
    if (r.sent.count(h.id)) continue;  // the replay wrote it already
    writePush(*c, h.frame, h.id, h.app, h.qos);
  }
}

bool OfflineReplay::holdIfReplaying(ClientConn& c, uint64_t message_id, uint16_t app, uint32_t qos,
                                    std::string_view frame) {
  if (replays_.empty()) return false;
  const net::ConnId id = ConnectionTable::idOf(c);
  auto it = replays_.find(id);
  if (it == replays_.end()) return false;
  Replay& r = it->second;
  r.held.push_back(Held{message_id, app, qos, std::string(frame)});
  ++stats_.held;
  if (r.held.size() >= options_.hold_max) {
    roomMetrics().replay_hold_overflows.inc();
    LOG_CONN(Debug, Room, id, "replay: {} live pushes held: going on without it", r.held.size());
    finish(id, false);
  }
  return true;
}

void OfflineReplay::connectionClosed(net::ConnId id) {
  replays_.erase(id);
}

void OfflineReplay::clear() {
  replays_.clear();
}

OfflineReplay::Stats OfflineReplay::stats() const {
  Stats s = stats_;
  s.active = replays_.size();
  return s;
}

}  // namespace push::room

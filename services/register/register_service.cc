#include "services/register/register_service.h"

#include <algorithm>

#include "common/base/clock.h"
#include "common/base/json_writer.h"
#include "common/base/log.h"
#include "common/base/metrics.h"
#include "common/net/event_loop.h"
#include "common/net/periodic_timer.h"
#include "common/rpc/channel.h"
#include "common/rpc/controller.h"
#include "proto/room.pb.h"

namespace push::reg {

namespace pb = google::protobuf;

namespace {
struct RegisterMetrics {
  metrics::Counter& online = metrics::Registry::global().counter("push_register_online_total",
                                                                 "Sessions reported online.");
  metrics::Counter& offline = metrics::Registry::global().counter("push_register_offline_total",
                                                                  "Sessions reported offline.");
  metrics::Counter& lookups =
      metrics::Registry::global().counter("push_register_lookups_total", "Users looked up.");
  metrics::Counter& wrong_slot = metrics::Registry::global().counter(
      "push_register_wrong_slot_total", "Sessions refused: slot owned by another instance.");
  metrics::Counter& rooms_lost = metrics::Registry::global().counter(
      "push_register_rooms_lost_total", "Rooms dropped for silence or replaced by a restart.");
  metrics::Counter& pulled = metrics::Registry::global().counter(
      "push_register_sessions_pulled_total", "Sessions learned from Room.ListSessions.");
  metrics::Counter& slot_changes = metrics::Registry::global().counter(
      "push_register_slot_changes_total", "Times this instance's slots changed.");
  metrics::Counter& slots_dropped = metrics::Registry::global().counter(
      "push_register_slot_sessions_dropped_total",
      "Sessions dropped because their slot moved to another instance.");
  metrics::Counter& stale_dropped = metrics::Registry::global().counter(
      "push_register_stale_sessions_dropped_total",
      "Sessions dropped because a full pull of their room no longer listed them.");
  metrics::Gauge& pulls_running = metrics::Registry::global().gauge(
      "push_register_pulls", "Pulls of rooms' sessions (ListSessions), by state.",
      R"(state="running")");
  metrics::Gauge& pulls_waiting = metrics::Registry::global().gauge(
      "push_register_pulls", "Pulls of rooms' sessions (ListSessions), by state.",
      R"(state="waiting")");
};
RegisterMetrics& regMetrics() {
  static RegisterMetrics* m = new RegisterMetrics();
  return *m;
}
}  // namespace

// One ListSessions pull from one room.
struct RegisterService::Pull {
  Pull(RegisterService* s, Liveness::Token a) : service(s), alive(std::move(a)) {
    ++service->pulls_running_;
  }
  // Its last page answered (or failed, or was superseded): a waiting pull may start.
  ~Pull() {
    if (alive.alive()) service->pullEnded();
  }
  Pull(const Pull&) = delete;
  Pull& operator=(const Pull&) = delete;
  RegisterService* service;
  Liveness::Token alive;
  std::string room_id;
  uint64_t id = 0;                // RoomState::pull_id while it is the room's current pull
  uint64_t slots_generation = 0;  // the slots it asks for; stale when setSlots took more
  rpc::ChannelPtr channel;
  rpc::Controller controller;
  room::ListSessionsRequest request;
  room::ListSessionsResponse response;
  size_t sessions = 0;
};

RegisterService::RegisterService(net::EventLoop& loop, Options options)
    : loop_(loop), options_(std::move(options)), table_(options_.max_sessions_per_user) {
  liveness_timer_ = net::PeriodicTimer::create(loop_, [this] { checkLiveness(); });
  liveness_timer_->start(std::min<std::chrono::milliseconds>(options_.room_timeout / 4,
                                                             std::chrono::milliseconds(1000)));
  (void)regMetrics();
}

RegisterService::~RegisterService() {
  close();
}

void RegisterService::close() {
  liveness_timer_.reset();
  liveness_.kill();
  for (auto& weak : pulls_) {
    if (auto pull = weak.lock()) pull->channel.reset();  // its call completes CANCELLED
  }
  pulls_.clear();
  // Pulls ending from now on do not count themselves (the service is gone for them).
  size_t waiting = 0;
  for (auto& entry : rooms_) {
    waiting += entry.second.pull_waiting ? 1 : 0;
    entry.second.pull_waiting = false;
  }
  regMetrics().pulls_running.add(-static_cast<int64_t>(pulls_running_));
  regMetrics().pulls_waiting.add(-static_cast<int64_t>(waiting));
  pulls_running_ = 0;
  pull_queue_.clear();
}

int64_t RegisterService::nowMs() const {
  return loop_.nowMs();
}

std::string RegisterService::goneKey(std::string_view app, std::string_view user,
                                     uint64_t conn_id) {
  std::string key;
  key.reserve(app.size() + user.size() + 22);
  key.append(app);
  key.push_back('\0');
  key.append(user);
  key.push_back('\0');
  key.append(std::to_string(conn_id));
  return key;
}

void RegisterService::Online(pb::RpcController*, const OnlineRequest* request,
                             OnlineResponse* response, pb::Closure* done) {
  rpc::DoneGuard guard(done);
  uint32_t accepted = 0, wrong = 0;
  for (const Session& s : request->sessions()) {
    if (!options_.slots.contains(slotOf(s.app(), s.user()))) {
      ++wrong;
      continue;
    }
    RoomState& room = rooms_[s.room_id()];
    if (room.address.empty()) {
      room.address = s.room_address();
      room.last_seen_ms = nowMs();
    }
    if (room.syncing) room.gone_during_sync.erase(goneKey(s.app(), s.user(), s.conn_id()));
    table_.add(s);
    ++accepted;
  }
  regMetrics().online.inc(accepted);
  regMetrics().wrong_slot.inc(wrong);
  response->set_accepted(accepted);
  response->set_wrong_slot(wrong);
}

void RegisterService::Offline(pb::RpcController*, const OfflineRequest* request,
                              OfflineResponse* response, pb::Closure* done) {
  rpc::DoneGuard guard(done);
  uint32_t removed = 0;
  for (const OfflineSession& s : request->sessions()) {
    removed += table_.remove(s.app(), s.user(), s.room_id(), s.conn_id());
    auto it = rooms_.find(s.room_id());
    if (it != rooms_.end() && it->second.syncing) {
      it->second.gone_during_sync.insert(goneKey(s.app(), s.user(), s.conn_id()));
    }
  }
  regMetrics().offline.inc(static_cast<uint64_t>(request->sessions_size()));
  response->set_removed(removed);
}

void RegisterService::Lookup(pb::RpcController*, const LookupRequest* request,
                             LookupResponse* response, pb::Closure* done) {
  rpc::DoneGuard guard(done);
  std::vector<Session> found;
  for (const UserKey& u : request->users()) {
    found.clear();
    table_.lookup(u.app(), u.user(), &found);
    UserSessions* out = response->add_users();
    for (auto& s : found)
      *out->add_sessions() = std::move(s);
  }
  regMetrics().lookups.inc(static_cast<uint64_t>(request->users_size()));
}

void RegisterService::RoomHeartbeat(pb::RpcController* controller,
                                    const RoomHeartbeatRequest* request,
                                    RoomHeartbeatResponse* response, pb::Closure* done) {
  rpc::DoneGuard guard(done);
  if (request->room_id().empty() || request->room_address().empty()) {
    static_cast<rpc::Controller*>(controller)
        ->setStatus(invalidArgument("room_id and room_address are required"));
    return;
  }
  // A new instance at a known address: the old one restarted; its sessions are gone.
  for (auto it = rooms_.begin(); it != rooms_.end();) {
    if (it->first != request->room_id() && it->second.address == request->room_address()) {
      size_t dropped = table_.dropRoom(it->first);
      LOG_INFO(Register, "room {} at {} replaced by {}: dropped {} sessions", it->first,
               it->second.address, request->room_id(), dropped);
      regMetrics().rooms_lost.inc();
      it = eraseRoom(it);
    } else {
      ++it;
    }
  }
  RoomState& room = rooms_[request->room_id()];
  room.address = request->room_address();
  room.last_seen_ms = nowMs();
  if (request->resync()) {
    room.synced = false;
    // A pull running now may have listed sessions before what made the room ask (its map
    // moved, a batch failed): it starts over when it ends instead of counting as the resync.
    if (room.syncing) room.resync_pending = true;
  }
  if (!room.synced && !room.syncing) startPull(request->room_id(), room);
  response->set_resync(!room.synced);
}

void RegisterService::roomsInDiscovery(const std::vector<std::string>& room_ids) {
  std::unordered_set<std::string> now(room_ids.begin(), room_ids.end());
  for (const std::string& id : rooms_in_discovery_) {
    if (now.count(id)) continue;
    auto it = rooms_.find(id);
    if (it == rooms_.end()) continue;
    const size_t dropped = table_.dropRoom(id);
    LOG_WARN(Register, "room {} at {} left ZooKeeper: dropped {} sessions", id, it->second.address,
             dropped);
    regMetrics().rooms_lost.inc();
    eraseRoom(it);
  }
  rooms_in_discovery_ = std::move(now);
}

void RegisterService::setSlots(const SlotSet& slots) {
  const SlotSet before = options_.slots;
  if (before == slots) return;
  size_t taken = 0, given = 0;
  for (uint32_t s = 0; s < kSlotCount; ++s) {
    taken += slots.contains(s) && !before.contains(s);
    given += before.contains(s) && !slots.contains(s);
  }
  options_.slots = slots;
  regMetrics().slot_changes.inc();
  const size_t dropped = given ? table_.keepOnlySlots(slots) : 0;
  regMetrics().slots_dropped.inc(dropped);
  LOG_INFO(Register, "slots now {} ({} of 1024): took over {}, gave up {} ({} sessions dropped)",
           slots.count() ? slots.toString() : "none", slots.count(), taken, given, dropped);
  if (taken == 0) return;
  ++slots_generation_;
  for (auto& [id, room] : rooms_) {
    room.synced = false;
    if (!room.syncing) startPull(id, room);  // a running one starts over when it ends
  }
}

void RegisterService::checkLiveness() {
  const int64_t now = nowMs();
  for (auto it = rooms_.begin(); it != rooms_.end();) {
    if (now - it->second.last_seen_ms > options_.room_timeout.count()) {
      size_t dropped = table_.dropRoom(it->first);
      LOG_WARN(Register, "room {} at {} silent for {} ms: dropped {} sessions", it->first,
               it->second.address, now - it->second.last_seen_ms, dropped);
      regMetrics().rooms_lost.inc();
      it = eraseRoom(it);
    } else {
      ++it;
    }
  }
}

void RegisterService::startPull(const std::string& room_id, RoomState& room) {
  if (options_.slots.count() == 0) {  // nothing to hold yet (slots not assigned)
    room.synced = true;
    return;
  }
  if (room.pull_waiting) return;  // already in line
  const uint32_t cap = std::max<uint32_t>(options_.max_concurrent_pulls, 1);
  if (pulls_running_ < cap && pull_queue_.empty()) return runPull(room_id, room);
  // In line behind the others, also when a slot is free now (a pull just ended and the line
  // starts on the next turn): a heartbeat arriving in between must not overtake it.
  room.pull_waiting = true;
  pull_queue_.push_back(room_id);
  regMetrics().pulls_waiting.add(1);
  LOG_DEBUG(Register, "room {}: pull waits ({} running, {} waiting)", room_id, pulls_running_,
            pull_queue_.size());
  if (pulls_running_ < cap) postStartWaitingPulls();
}

void RegisterService::postStartWaitingPulls() {
  loop_.post([this, alive = liveness_.token()] {
    if (alive.alive()) startWaitingPulls();
  });
}

RegisterService::RoomMap::iterator RegisterService::eraseRoom(RoomMap::iterator it) {
  if (it->second.pull_waiting) regMetrics().pulls_waiting.add(-1);  // its entry is skipped
  return rooms_.erase(it);
}

void RegisterService::pullEnded() {
  --pulls_running_;
  regMetrics().pulls_running.add(-1);
  // Not from inside the ended pull's callback (or destructor): on a later turn.
  if (!pull_queue_.empty()) postStartWaitingPulls();
}

void RegisterService::startWaitingPulls() {
  while (!pull_queue_.empty() &&
         pulls_running_ < std::max<uint32_t>(options_.max_concurrent_pulls, 1)) {
    const std::string room_id = std::move(pull_queue_.front());
    pull_queue_.pop_front();
    auto it = rooms_.find(room_id);
    // A room dropped while waiting (or dropped and back, in line again further on) is skipped.
    if (it == rooms_.end() || !it->second.pull_waiting) continue;
    RoomState& room = it->second;
    room.pull_waiting = false;
    regMetrics().pulls_waiting.add(-1);
    if (room.synced || room.syncing) continue;
    if (options_.slots.count() == 0) {  // slots given up meanwhile: nothing to hold
      room.synced = true;
      continue;
    }
    runPull(room_id, room);
  }
}

void RegisterService::runPull(const std::string& room_id, RoomState& room) {
  rpc::Channel::Options options;
  options.connections_per_endpoint = 1;
  options.timeout = std::chrono::seconds(5);
  options.cluster_key = options_.cluster_key;
  auto channel = rpc::Channel::create(loop_, options);
  if (!channel.isOk()) return;
  auto pull = std::make_shared<Pull>(this, liveness_.token());
  regMetrics().pulls_running.add(1);
  pull->room_id = room_id;
  pull->slots_generation = slots_generation_;
  pull->channel = std::move(channel).value();
  if (!pull->channel->setEndpoints(std::vector<std::string>{room.address}).isOk()) return;
  pull->request.set_limit(options_.pull_page);
  if (options_.slots.count() < kSlotCount) {
    for (uint32_t s = 0; s < kSlotCount; ++s) {
      if (options_.slots.contains(s)) pull->request.add_slots(s);
    }
  }
  room.syncing = true;
  room.resync_pending = false;
  room.pull_id = ++next_pull_id_;
  pull->id = room.pull_id;
  room.gone_during_sync.clear();
  table_.startConfirming(room_id);  // what the pull does not list (nor an Online) goes at its end
  pulls_.erase(std::remove_if(pulls_.begin(), pulls_.end(),
                              [](const std::weak_ptr<Pull>& w) { return w.expired(); }),
               pulls_.end());
  pulls_.push_back(pull);
  LOG_INFO(Register, "pulling sessions of room {} at {}", room_id, room.address);
  pullPage(std::move(pull));
}

void RegisterService::pullPage(std::shared_ptr<Pull> pull) {
  pull->controller.Reset();
  pull->response.Clear();
  room::Room_Stub stub(pull->channel.get());
  stub.ListSessions(&pull->controller, &pull->request, &pull->response, rpc::newCallback([pull] {
    if (!pull->alive.alive()) return;  // service closed; the channel closes with `pull`
    RegisterService* self = pull->service;
    auto it = self->rooms_.find(pull->room_id);
    // The room went away meanwhile, or went and came back with a pull of its own.
    if (it == self->rooms_.end() || it->second.pull_id != pull->id) return;
    RoomState& room = it->second;
    if (!pull->controller.status().isOk()) {
      LOG_WARN(Register, "pulling sessions of room {} failed: {}; retrying on its next heartbeat",
               pull->room_id, pull->controller.status().toString());
      room.syncing = false;
      return;
    }
    for (const Session& s : pull->response.sessions()) {
      if (room.gone_during_sync.count(goneKey(s.app(), s.user(), s.conn_id()))) continue;
      if (!self->options_.slots.contains(slotOf(s.app(), s.user()))) continue;
      self->table_.add(s);
      ++pull->sessions;
    }
    regMetrics().pulled.inc(static_cast<uint64_t>(pull->response.sessions_size()));
    if (!pull->response.done()) {
      pull->request.set_cursor(pull->response.next_cursor());
      self->loop_.post([pull] {                                  // not from inside the callback
        if (pull->alive.alive()) pull->service->pullPage(pull);  // close() reset its channel
      });
      return;
    }
    room.syncing = false;
    if (pull->slots_generation != self->slots_generation_ || room.resync_pending) {
      // Slots were taken over during the pull (its pages asked for the old ones), or the room
      // asked for a resync meanwhile (its earlier pages may predate the reason).
      LOG_INFO(Register, "room {}: {} sessions pulled; pulling again ({})", pull->room_id,
               pull->sessions,
               room.resync_pending ? "the room asked for a resync" : "slots taken over");
      const std::string room_id = pull->room_id;
      self->loop_.post([self, room_id, alive = pull->alive] {
        if (!alive.alive()) return;
        auto again = self->rooms_.find(room_id);
        if (again != self->rooms_.end() && !again->second.syncing) {
          self->startPull(room_id, again->second);
        }
      });
      return;
    }
    room.synced = true;
    room.gone_during_sync.clear();
    const size_t stale = self->table_.dropUnconfirmed(pull->room_id);
    regMetrics().stale_dropped.inc(stale);
    LOG_INFO(Register, "room {}: {} sessions pulled{}", pull->room_id, pull->sessions,
             stale ? ", " + std::to_string(stale) + " no longer there dropped" : std::string());
  }));
}

std::string RegisterService::statusJson() const {
  JsonWriter w(128 + rooms_.size() * 96);
  w.beginObject();
  writeStatus(w);
  w.endObject();
  return w.take();
}

void RegisterService::writeStatus(JsonWriter& w) const {
  w.key("sessions").uint64(table_.sessionCount());
  w.key("users").uint64(table_.userCount());
  w.key("slots").string(options_.slots.toString());
  size_t waiting = 0;
  for (const auto& entry : rooms_)
    waiting += entry.second.pull_waiting ? 1 : 0;
  w.key("pulls_running").uint64(pulls_running_);
  w.key("pulls_waiting").uint64(waiting);
  w.key("rooms").beginArray();
  for (const auto& [id, room] : rooms_) {
    w.beginObject();
    w.key("id").string(id);
    w.key("address").string(room.address);
    w.key("sessions").uint64(table_.sessionsOfRoom(id));
    w.key("synced").boolean(room.synced);
    w.endObject();
  }
  w.endArray();
}

}  // namespace push::reg

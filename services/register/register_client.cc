#include "services/register/register_client.h"

#include "common/base/log.h"
#include "common/discovery/service_instance.h"
#include "common/net/event_loop.h"
#include "common/net/periodic_timer.h"
#include "common/rpc/controller.h"
#include "proto/config.pb.h"
#include "services/register/slot_assignment.h"

namespace push::reg {

struct RegisterClient::ShardState {
  std::string address;
  rpc::ChannelPtr channel;
  std::unique_ptr<Register_Stub> stub;
  OnlineRequest online;
  std::vector<OnlineSent> online_sent;  // one per queued online session (null: none asked)
  OfflineRequest offline;
};

struct RegisterClient::PendingLookup {
  std::vector<UserKey> users;
  LookupDone done;
  std::vector<std::vector<Session>> results;
  Status status;
  size_t remaining = 0;         // shard calls still to answer
  size_t last_call = SIZE_MAX;  // the call this lookup was last counted in (while building)
};

namespace {
// OK when `shards` cover every slot exactly once.
Status checkCoverage(const std::vector<RegisterClient::Shard>& shards) {
  SlotSet covered;
  for (const auto& s : shards) {
    if (covered.overlaps(s.slots)) {
      return invalidArgument("register shards overlap at " + s.address + " (" + s.slots.toString() +
                             ")");
    }
    covered = covered.unite(s.slots);
  }
  if (covered.count() != kSlotCount) {
    return invalidArgument("register shards cover " + std::to_string(covered.count()) +
                           " of 1024 slots (" + covered.toString() + ")");
  }
  return Status::ok();
}
}  // namespace

Result<RegisterClient::Options> RegisterClient::Options::fromConfig(
    const config::RegisterClientConfig& config) {
  Options o;
  // Ranges are the caller's (service::registerClientRanges, with the line of its file).
  if (config.session_timeout_ms() != 0) {
    o.session_timeout = std::chrono::milliseconds(config.session_timeout_ms());
  }
  if (config.discover()) {
    if (config.shards_size() > 0) {
      return invalidArgument(
          "register: shards and discover: choose one (discover follows the "
          "register instances in ZooKeeper)");
    }
    o.discover = true;
    ASSIGN_OR_RETURN(o.channel, rpc::Channel::Options::fromConfig(config.channel()));
    return o;
  }
  for (const auto& s : config.shards()) {
    auto slots = SlotSet::parse(s.slots().empty() ? "0-1023" : s.slots());
    if (!slots.isOk()) return slots.status().withContext("register shard " + s.address());
    o.shards.push_back(Shard{s.address(), *slots});
  }
  if (o.shards.empty()) return invalidArgument("register: no shards configured");
  RETURN_IF_ERROR(checkCoverage(o.shards));
  ASSIGN_OR_RETURN(o.channel, rpc::Channel::Options::fromConfig(config.channel()));
  return o;
}

Result<std::unique_ptr<RegisterClient>> RegisterClient::create(net::EventLoop& loop,
                                                               Options options) {
  // One connection per shard: batches of one shard are answered in the order they were sent,
  // so an offline never overtakes the online it follows.
  options.channel.connections_per_endpoint = 1;
  std::unique_ptr<RegisterClient> client(new RegisterClient(loop, std::move(options)));
  for (size_t i = 0; i < client->options_.shards.size(); ++i) {
    ASSIGN_OR_RETURN(auto state, client->makeShard(client->options_.shards[i].address));
    for (uint32_t s = 0; s < kSlotCount; ++s) {
      if (client->options_.shards[i].slots.contains(s))
        client->slot_to_shard_[s] = static_cast<uint16_t>(i);
    }
    client->shards_.push_back(std::move(state));
  }
  return client;
}

Result<std::unique_ptr<RegisterClient::ShardState>> RegisterClient::makeShard(
    const std::string& address) {
  auto channel = rpc::Channel::create(loop_, options_.channel);
  if (!channel.isOk()) return channel.status();
  auto state = std::make_unique<ShardState>();
  state->address = address;
  state->channel = std::move(channel).value();
  RETURN_IF_ERROR(state->channel->setEndpoints(std::vector<std::string>{address}));
  state->stub = std::make_unique<Register_Stub>(state->channel.get());
  return state;
}

Result<std::vector<RegisterClient::Shard>> RegisterClient::shardsOfInstances(
    const std::vector<discovery::ServiceInstance>& registers) {
  std::vector<std::string> ids;
  ids.reserve(registers.size());
  for (const discovery::ServiceInstance& r : registers)
    ids.push_back(r.id);
  std::vector<SlotSet> slots = assignSlots(ids);
  std::vector<Shard> shards;
  shards.reserve(registers.size());
  for (size_t i = 0; i < registers.size(); ++i) {
    auto rpc = registers[i].endpoints.find("rpc");
    if (rpc == registers[i].endpoints.end() || rpc->second.empty()) {
      return invalidArgument("register instance " + registers[i].id + " has no rpc endpoint");
    }
    // No slot won (a duplicate id, whose first took them; or, rarely, rendezvous hashing left
    // an instance none): no shard, so coverage still holds.
    if (slots[i].count() == 0) continue;
    shards.push_back(Shard{rpc->second, std::move(slots[i])});
  }
  return shards;
}

Result<bool> RegisterClient::followInstances(
    const std::vector<discovery::ServiceInstance>& registers) {
  ASSIGN_OR_RETURN(std::vector<Shard> shards, shardsOfInstances(registers));
  return setShards(std::move(shards));
}

Result<bool> RegisterClient::setShards(std::vector<Shard> shards) {
  if (!shards.empty()) RETURN_IF_ERROR(checkCoverage(shards));
  std::vector<uint16_t> slot_to_shard(kSlotCount, 0);
  for (size_t i = 0; i < shards.size(); ++i) {
    for (uint32_t s = 0; s < kSlotCount; ++s) {
      if (shards[i].slots.contains(s)) slot_to_shard[s] = static_cast<uint16_t>(i);
    }
  }
  bool moved = shards.empty() != shards_.empty();
  if (!moved && !shards.empty()) {
    for (uint32_t s = 0; s < kSlotCount && !moved; ++s)
      moved = shards[slot_to_shard[s]].address != shards_[slot_to_shard_[s]]->address;
  }
  // Each new shard takes the old state at its address (channel and queues), else a new one.
  // The new ones are made before anything moves, so an error leaves everything as it was.
  std::vector<std::unique_ptr<ShardState>> states(shards.size());
  std::vector<size_t> reused(shards.size(), SIZE_MAX);
  std::vector<bool> claimed(shards_.size(), false);
  for (size_t i = 0; i < shards.size(); ++i) {
    for (size_t k = 0; k < shards_.size() && reused[i] == SIZE_MAX; ++k) {
      if (!claimed[k] && shards_[k]->address == shards[i].address) {
        claimed[k] = true;
        reused[i] = k;
      }
    }
    if (reused[i] == SIZE_MAX) {
      ASSIGN_OR_RETURN(states[i], makeShard(shards[i].address));
    }
  }
  for (size_t i = 0; i < shards.size(); ++i) {
    if (reused[i] != SIZE_MAX) states[i] = std::move(shards_[reused[i]]);
  }
  // Changes still queued, on kept and departing shards alike, go out by the new map (each
  // session with its `sent` callback, if it asked for one).
  std::vector<Session> online_queued;
  std::vector<OnlineSent> online_sent;
  std::vector<OfflineSession> offline_queued;
  auto take = [&](ShardState& st) {
    for (int i = 0; i < st.online.sessions_size(); ++i) {
      online_queued.push_back(std::move(*st.online.mutable_sessions(i)));
      online_sent.push_back(static_cast<size_t>(i) < st.online_sent.size()
                                ? std::move(st.online_sent[static_cast<size_t>(i)])
                                : nullptr);
    }
    for (auto& s : *st.offline.mutable_sessions())
      offline_queued.push_back(std::move(s));
    st.online.Clear();
    st.online_sent.clear();
    st.offline.Clear();
  };
  for (auto& st : states)
    take(*st);
  for (auto& old : shards_) {
    if (old) take(*old);
  }
  std::vector<std::unique_ptr<ShardState>> departing;
  departing.swap(shards_);
  shards_ = std::move(states);
  slot_to_shard_ = std::move(slot_to_shard);
  options_.shards = std::move(shards);
  departing.clear();  // their calls in flight complete CANCELLED
  for (size_t i = 0; i < online_queued.size(); ++i)
    online(std::move(online_queued[i]), std::move(online_sent[i]));
  for (auto& s : offline_queued)
    offline(std::move(s));
  return moved;
}

void RegisterClient::dropChange() {
  LOG_EVERY_SEC(Warn, Register, 5, "no register instance known: session change dropped");
  if (on_batch_failed_) on_batch_failed_(0, unavailable("no register instance known"));
}

RegisterClient::RegisterClient(net::EventLoop& loop, Options options)
    : loop_(loop), options_(std::move(options)), slot_to_shard_(kSlotCount, 0) {
  timer_ = net::PeriodicTimer::create(loop_, [this] {
    for (size_t i = 0; i < shards_.size(); ++i)
      sendBatch(i);
  });
}

RegisterClient::~RegisterClient() {
  liveness_.kill();  // first: closing the channels below completes calls
  timer_.reset();
  shards_.clear();  // closes channels: calls in flight complete CANCELLED
  // Lookups queued this turn and not sent yet complete too (docs/CONVENTIONS.md §9).
  std::vector<std::shared_ptr<PendingLookup>> queued;
  queued.swap(pending_lookups_);
  for (auto& p : queued) {
    p->done(Status(Code::CANCELLED, "register client closed"), std::move(p->results));
  }
}

size_t RegisterClient::shardOf(std::string_view app, std::string_view user) const {
  return slot_to_shard_[slotOf(app, user)];
}

void RegisterClient::scheduleFlush() {
  if (!timer_->active()) timer_->start(options_.batch_interval, false);
}

void RegisterClient::online(Session session, OnlineSent sent) {
  if (shards_.empty()) {
    if (sent) sent(false);
    return dropChange();
  }
  size_t shard = shardOf(session.app(), session.user());
  auto& q = shards_[shard]->online;
  *q.add_sessions() = std::move(session);
  // One entry per queued session (null when it asked for none): setShards re-routes them
  // together.
  shards_[shard]->online_sent.push_back(std::move(sent));
  if (static_cast<size_t>(q.sessions_size()) >= options_.max_batch) {
    sendBatch(shard);
  } else {
    scheduleFlush();
  }
}

void RegisterClient::offline(OfflineSession session) {
  if (shards_.empty()) return dropChange();
  size_t shard = shardOf(session.app(), session.user());
  auto& q = shards_[shard]->offline;
  *q.add_sessions() = std::move(session);
  if (static_cast<size_t>(q.sessions_size()) >= options_.max_batch) {
    sendBatch(shard);
  } else {
    scheduleFlush();
  }
}

void RegisterClient::flush() {
  for (size_t i = 0; i < shards_.size(); ++i)
    sendBatch(i);
}

void RegisterClient::flush(std::function<void()> done) {
  flush();
  if (batches_in_flight_ == 0) {
    loop_.post([alive = liveness_.token(), done = std::move(done)] {
      if (alive.alive()) done();
    });
    return;
  }
  flush_waiters_.push_back(std::move(done));
}

void RegisterClient::batchDone() {
  if (--batches_in_flight_ > 0 || flush_waiters_.empty()) return;
  auto waiters = std::move(flush_waiters_);
  flush_waiters_.clear();
  for (auto& done : waiters) {
    loop_.post([alive = liveness_.token(), done = std::move(done)] {
      if (alive.alive()) done();
    });
  }
}

void RegisterClient::sendBatch(size_t shard) {
  ShardState& s = *shards_[shard];
  auto alive = liveness_.token();
  // Online before offline: a session that came and went within one batch ends up absent.
  if (s.online.sessions_size() > 0) {
    struct Call {
      rpc::Controller controller;
      OnlineRequest request;
      OnlineResponse response;
      std::vector<OnlineSent> sent;
    };
    auto call = std::make_shared<Call>();
    call->request.Swap(&s.online);
    call->sent.swap(s.online_sent);
    call->controller.setTimeout(options_.session_timeout);
    ++batches_in_flight_;
    s.stub->Online(
        &call->controller, &call->request, &call->response,
        rpc::newCallback([this, alive, call, shard, address = s.address] {
          if (!alive.alive()) return;
          batchDone();
          Status st = call->controller.status();
          // Sessions the instance refused as not its own: it and this client see
          // different slot maps for a moment (a register joined or left). Its pull
          // after the resync brings them to whoever owns them by then.
          if (st.isOk() && call->response.wrong_slot() > 0) {
            st = Status(Code::FAILED_PRECONDITION, std::to_string(call->response.wrong_slot()) +
                                                       " sessions refused: slot owned elsewhere");
          }
          for (auto& sent : call->sent) {
            if (sent) sent(st.isOk());
          }
          if (!alive.alive() || st.isOk()) return;
          LOG_EVERY_SEC(Warn, Register, 1, "Online batch of {} to register {} failed: {}",
                        call->request.sessions_size(), address, st.toString());
          if (on_batch_failed_) on_batch_failed_(shard, st);
        }));
  }
  if (s.offline.sessions_size() > 0) {
    struct Call {
      rpc::Controller controller;
      OfflineRequest request;
      OfflineResponse response;
    };
    auto call = std::make_shared<Call>();
    call->request.Swap(&s.offline);
    call->controller.setTimeout(options_.session_timeout);
    ++batches_in_flight_;
    s.stub->Offline(&call->controller, &call->request, &call->response,
                    rpc::newCallback([this, alive, call, shard, address = s.address] {
                      if (!alive.alive()) return;
                      batchDone();
                      if (call->controller.status().isOk()) return;
                      LOG_EVERY_SEC(Warn, Register, 1,
                                    "Offline batch of {} to register {} failed: {}",
                                    call->request.sessions_size(), address,
                                    call->controller.status().toString());
                      if (on_batch_failed_) on_batch_failed_(shard, call->controller.status());
                    }));
  }
}

void RegisterClient::heartbeat(const RoomHeartbeatRequest& request,
                               std::function<void(size_t, const Status&, bool)> done) {
  struct Call {
    rpc::Controller controller;
    RoomHeartbeatRequest request;
    RoomHeartbeatResponse response;
  };
  auto alive = liveness_.token();
  for (size_t i = 0; i < shards_.size(); ++i) {
    auto call = std::make_shared<Call>();
    call->request = request;
    call->controller.setTimeout(options_.session_timeout);
    shards_[i]->stub->RoomHeartbeat(&call->controller, &call->request, &call->response,
                                    rpc::newCallback([alive, call, done, i] {
                                      if (!alive.alive()) return;
                                      done(i, call->controller.status(), call->response.resync());
                                    }));
  }
}

void RegisterClient::lookup(std::vector<UserKey> users, LookupDone done) {
  auto p = std::make_shared<PendingLookup>();
  p->results.resize(users.size());
  p->users = std::move(users);
  p->done = std::move(done);
  pending_lookups_.push_back(std::move(p));
  if (!lookup_flush_scheduled_) {
    lookup_flush_scheduled_ = true;
    loop_.runBeforePoll([this, alive = liveness_.token()] {
      if (alive.alive()) flushLookups();
    });
  }
}

void RegisterClient::flushLookups() {
  lookup_flush_scheduled_ = false;
  std::vector<std::shared_ptr<PendingLookup>> batch;
  batch.swap(pending_lookups_);
  // Bounded calls: a shard call carries at most this many users; more start another call.
  constexpr int kMaxUsersPerCall = 20000;
  struct ShardCall {
    rpc::Controller controller;
    LookupRequest request;
    LookupResponse response;
    std::vector<std::pair<PendingLookup*, size_t>> positions;  // per request entry
    std::vector<std::shared_ptr<PendingLookup>> owners;        // each lookup once
  };
  if (shards_.empty()) {
    for (auto& p : batch)
      p->done(unavailable("no register instance known"), std::move(p->results));
    return;
  }
  std::vector<std::shared_ptr<ShardCall>> open(shards_.size());
  std::vector<std::shared_ptr<ShardCall>> calls;
  for (auto& p : batch) {
    if (p->users.empty()) {
      p->done(Status(), std::move(p->results));
      continue;
    }
    for (size_t i = 0; i < p->users.size(); ++i) {
      const size_t shard = shardOf(p->users[i].app(), p->users[i].user());
      auto& call = open[shard];
      if (!call || call->request.users_size() >= kMaxUsersPerCall) {
        call = std::make_shared<ShardCall>();
        calls.push_back(call);
      }
      const size_t call_index = reinterpret_cast<uintptr_t>(call.get());
      if (p->last_call != call_index) {  // count each (lookup, call) pair once
        p->last_call = call_index;
        ++p->remaining;
        call->owners.push_back(p);
      }
      call->positions.emplace_back(p.get(), i);
      *call->request.add_users() = std::move(p->users[i]);
    }
  }
  for (auto& call : calls) {
    const size_t shard = shardOf(call->request.users(0).app(), call->request.users(0).user());
    shards_[shard]->stub->Lookup(
        &call->controller, &call->request, &call->response, rpc::newCallback([call] {
          const bool ok = call->controller.status().isOk() &&
                          call->response.users_size() == static_cast<int>(call->positions.size());
          Status failure;
          if (!call->controller.status().isOk()) {
            failure = call->controller.status().withContext("register lookup");
          } else if (!ok) {
            failure = internalError("register lookup answered a different number of users");
          }
          if (ok) {
            for (size_t k = 0; k < call->positions.size(); ++k) {
              auto [lookup, index] = call->positions[k];
              auto* sessions =
                  call->response.mutable_users(static_cast<int>(k))->mutable_sessions();
              auto& out = lookup->results[index];
              out.reserve(static_cast<size_t>(sessions->size()));
              for (auto& s : *sessions)
                out.push_back(std::move(s));
            }
          }
          for (auto& lookup : call->owners) {
            if (!ok && lookup->status.isOk()) lookup->status = failure;
            if (--lookup->remaining == 0) lookup->done(lookup->status, std::move(lookup->results));
          }
        }));
  }
}

}  // namespace push::reg

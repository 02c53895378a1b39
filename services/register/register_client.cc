#include "services/register/register_client.h"

#include "common/base/log.h"
#include "common/net/event_loop.h"
#include "common/net/periodic_timer.h"
#include "common/rpc/controller.h"
#include "proto/config.pb.h"

namespace push::reg {

struct RegisterClient::ShardState {
  std::string address;
  rpc::ChannelPtr channel;
  std::unique_ptr<Register_Stub> stub;
  OnlineRequest online;
  OfflineRequest offline;
};

Result<RegisterClient::Options> RegisterClient::Options::fromConfig(
    const config::RegisterClientConfig& config) {
  Options o;
  SlotSet covered;
  for (const auto& s : config.shards()) {
    auto slots = SlotSet::parse(s.slots().empty() ? "0-1023" : s.slots());
    if (!slots.isOk()) return slots.status().withContext("register shard " + s.address());
    if (covered.overlaps(*slots)) {
      return invalidArgument("register shards overlap at " + s.address() + " (" + s.slots() + ")");
    }
    covered = covered.unite(*slots);
    o.shards.push_back(Shard{s.address(), *slots});
  }
  if (o.shards.empty()) return invalidArgument("register: no shards configured");
  if (covered.count() != kSlotCount) {
    return invalidArgument("register shards cover " + std::to_string(covered.count()) +
                           " of 1024 slots (" + covered.toString() + ")");
  }
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
    auto channel = rpc::Channel::create(loop, client->options_.channel);
    if (!channel.isOk()) return channel.status();
    auto state = std::make_unique<ShardState>();
    state->address = client->options_.shards[i].address;
    state->channel.reset(*channel);
    RETURN_IF_ERROR(state->channel->setEndpoints(std::vector<std::string>{state->address}));
    state->stub = std::make_unique<Register_Stub>(state->channel.get());
    for (uint32_t s = 0; s < kSlotCount; ++s) {
      if (client->options_.shards[i].slots.contains(s)) client->slot_to_shard_[s] = static_cast<uint16_t>(i);
    }
    client->shards_.push_back(std::move(state));
  }
  return client;
}

RegisterClient::RegisterClient(net::EventLoop& loop, Options options)
    : loop_(loop), options_(std::move(options)), slot_to_shard_(kSlotCount, 0) {
  timer_ = net::PeriodicTimer::create(loop_, [this] {
    for (size_t i = 0; i < shards_.size(); ++i) sendBatch(i);
  });
}

RegisterClient::~RegisterClient() {
  *alive_ = false;
  if (timer_) timer_->close();
  shards_.clear();  // closes channels: calls in flight complete CANCELLED
}

size_t RegisterClient::shardOf(std::string_view app, std::string_view user) const {
  return slot_to_shard_[slotOf(app, user)];
}

void RegisterClient::scheduleFlush() {
  if (!timer_->active()) timer_->start(options_.batch_interval, false);
}

void RegisterClient::online(Session session) {
  size_t shard = shardOf(session.app(), session.user());
  auto& q = shards_[shard]->online;
  *q.add_sessions() = std::move(session);
  if (static_cast<size_t>(q.sessions_size()) >= options_.max_batch) {
    sendBatch(shard);
  } else {
    scheduleFlush();
  }
}

void RegisterClient::offline(OfflineSession session) {
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
  for (size_t i = 0; i < shards_.size(); ++i) sendBatch(i);
}

void RegisterClient::sendBatch(size_t shard) {
  ShardState& s = *shards_[shard];
  auto alive = alive_;
  // Online before offline: a session that came and went within one batch ends up absent.
  if (s.online.sessions_size() > 0) {
    struct Call {
      rpc::Controller controller;
      OnlineRequest request;
      OnlineResponse response;
    };
    auto call = std::make_shared<Call>();
    call->request.Swap(&s.online);
    s.stub->Online(&call->controller, &call->request, &call->response,
                   rpc::newCallback([this, alive, call, shard] {
                     if (!*alive || call->controller.status().isOk()) return;
                     LOG_EVERY_SEC(Warn, Register, 1, "Online batch of {} to register {} failed: {}",
                                   call->request.sessions_size(), shards_[shard]->address,
                                   call->controller.status().toString());
                     if (on_batch_failed_) on_batch_failed_(shard, call->controller.status());
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
    s.stub->Offline(&call->controller, &call->request, &call->response,
                    rpc::newCallback([this, alive, call, shard] {
                      if (!*alive || call->controller.status().isOk()) return;
                      LOG_EVERY_SEC(Warn, Register, 1,
                                    "Offline batch of {} to register {} failed: {}",
                                    call->request.sessions_size(), shards_[shard]->address,
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
  auto alive = alive_;
  for (size_t i = 0; i < shards_.size(); ++i) {
    auto call = std::make_shared<Call>();
    call->request = request;
    shards_[i]->stub->RoomHeartbeat(&call->controller, &call->request, &call->response,
                                    rpc::newCallback([alive, call, done, i] {
                                      if (!*alive) return;
                                      done(i, call->controller.status(), call->response.resync());
                                    }));
  }
}

void RegisterClient::lookup(std::vector<UserKey> users, LookupDone done) {
  struct Aggregate {
    LookupDone done;
    std::vector<std::vector<Session>> results;
    Status status;
    size_t remaining = 0;
  };
  struct ShardCall {
    rpc::Controller controller;
    LookupRequest request;
    LookupResponse response;
    std::vector<size_t> positions;  // index in `users` of each request entry
  };
  auto agg = std::make_shared<Aggregate>();
  agg->done = std::move(done);
  agg->results.resize(users.size());
  std::vector<std::shared_ptr<ShardCall>> calls(shards_.size());
  for (size_t i = 0; i < users.size(); ++i) {
    size_t shard = shardOf(users[i].app(), users[i].user());
    if (!calls[shard]) calls[shard] = std::make_shared<ShardCall>();
    calls[shard]->positions.push_back(i);
    *calls[shard]->request.add_users() = std::move(users[i]);
  }
  for (auto& c : calls) agg->remaining += c != nullptr;
  if (agg->remaining == 0) {
    agg->done(Status(), std::move(agg->results));
    return;
  }
  for (size_t shard = 0; shard < calls.size(); ++shard) {
    auto call = calls[shard];
    if (!call) continue;
    shards_[shard]->stub->Lookup(
        &call->controller, &call->request, &call->response, rpc::newCallback([agg, call] {
          if (!call->controller.status().isOk()) {
            if (agg->status.isOk()) agg->status = call->controller.status().withContext("register lookup");
          } else if (call->response.users_size() == static_cast<int>(call->positions.size())) {
            for (size_t k = 0; k < call->positions.size(); ++k) {
              auto* sessions = call->response.mutable_users(static_cast<int>(k))->mutable_sessions();
              auto& out = agg->results[call->positions[k]];
              out.reserve(static_cast<size_t>(sessions->size()));
              for (auto& s : *sessions) out.push_back(std::move(s));
            }
          } else if (agg->status.isOk()) {
            agg->status = internalError("register lookup answered a different number of users");
          }
          if (--agg->remaining == 0) agg->done(agg->status, std::move(agg->results));
        }));
  }
}

}  // namespace push::reg

#include "services/center/deliverer.h"

#include <algorithm>
#include <string_view>

#include "common/base/log.h"
#include "common/base/metrics.h"
#include "common/net/event_loop.h"
#include "common/rpc/controller.h"
#include "proto/room.pb.h"
#include "services/common/room_pool.h"
#include "services/register/register_client.h"

namespace push::center {

namespace {

metrics::Counter& deliverBatches() {
  static metrics::Counter& c = metrics::Registry::global().counter(
      "push_center_deliver_batches_total", "Room.DeliverBatch calls sent.");
  return c;
}

// One register lookup key per distinct user of `targets` (several devices of a user share
// it); `user_index` gets, per target, the index of its user's key.
std::vector<reg::UserKey> lookupKeys(const std::string& app,
                                     const std::vector<ParsedPush::Target>& targets,
                                     std::vector<uint32_t>* user_index) {
  std::vector<reg::UserKey> keys;
  keys.reserve(targets.size());
  std::unordered_map<std::string_view, uint32_t> key_of_user;
  user_index->reserve(targets.size());
  for (const auto& t : targets) {
    uint32_t index = static_cast<uint32_t>(keys.size());
    if (targets.size() > 1) {
      auto [it, added] = key_of_user.emplace(t.user, index);
      if (!added) index = it->second;
    }
    user_index->push_back(index);
    if (index == keys.size()) {
      reg::UserKey& k = keys.emplace_back();
      k.set_app(app);
      k.set_user(t.user);
    }
  }
  return keys;
}

}  // namespace

// One deliver() in flight.
struct Deliverer::Call {
  Message message;
  Outcome outcome;
  std::vector<uint32_t> user_index;            // per target: index into `sessions`
  std::vector<std::vector<Session>> sessions;  // per distinct user
  size_t items_pending = 0;                    // deliver items not answered yet
  Done done;
};

// One Room.DeliverBatch call being built or sent.
struct Deliverer::RoomBatch {
  room::DeliverBatchRequest request;
  // Per item: the call it belongs to and, per target of the item, the call's target index.
  std::vector<std::pair<std::shared_ptr<Call>, std::vector<size_t>>> owners;
};

// One room's deliveries of this loop turn, cut into batches.
struct Deliverer::RoomQueue {
  explicit RoomQueue(const BatchLimits& limits) : splitter(limits) {}
  BatchSplitter splitter;
  std::vector<std::unique_ptr<RoomBatch>> batches;
};

Deliverer::Deliverer(net::EventLoop& loop, reg::RegisterClient& registry, service::RoomPool& rooms,
                     BatchLimits limits)
    : loop_(loop), register_(registry), rooms_(rooms), limits_(limits) {
  (void)deliverBatches();
}

Deliverer::~Deliverer() {
  liveness_.kill();  // callbacks still queued in register and room channels do nothing now
}

void Deliverer::deliver(Message message, std::vector<ParsedPush::Target> targets, Done done) {
  auto call = std::make_shared<Call>();
  call->message = std::move(message);
  call->done = std::move(done);
  const size_t n = targets.size();
  call->outcome.targets = std::move(targets);
  call->outcome.connections.assign(n, 0);
  call->outcome.failed.assign(n, false);
  std::vector<reg::UserKey> keys =
      lookupKeys(call->message.app(), call->outcome.targets, &call->user_index);
  register_.lookup(std::move(keys),
                   [this, alive = liveness_.token(), call](
                       const Status& st, std::vector<std::vector<Session>>&& found) {
                     if (!alive.alive()) return;
                     if (!st.isOk()) {
                       LOG_EVERY_SEC(Warn, Center, 1, "register lookup failed: {}", st.toString());
                       Done done = std::move(call->done);
                       return done(st, std::move(call->outcome));
                     }
                     call->sessions = std::move(found);
                     route(call);
                   });
}

void Deliverer::route(std::shared_ptr<Call> call) {
  // Group targets by room. Most pushes reach one or a few rooms, so rooms are found by a
  // linear scan until there are many.
  struct RoomTargets {
    std::string_view address;
    std::vector<size_t> targets;  // indexes into call->outcome.targets
  };
  std::vector<RoomTargets> per_room;
  std::unordered_map<std::string_view, size_t> room_index;  // used past kLinearRooms
  constexpr size_t kLinearRooms = 8;
  auto roomFor = [&](std::string_view address) -> RoomTargets& {
    if (per_room.size() <= kLinearRooms) {
      for (RoomTargets& room : per_room) {
        if (room.address == address) return room;
      }
      if (per_room.size() == kLinearRooms) {
        for (size_t i = 0; i < per_room.size(); ++i)
          room_index.emplace(per_room[i].address, i);
      }
    } else if (auto it = room_index.find(address); it != room_index.end()) {
      return per_room[it->second];
    }
    if (per_room.size() >= kLinearRooms) room_index.emplace(address, per_room.size());
    RoomTargets& room = per_room.emplace_back();
    room.address = address;
    return room;
  };
  std::vector<std::string_view> rooms;  // of one target, without repeats
  const auto& targets = call->outcome.targets;
  for (size_t t = 0; t < targets.size(); ++t) {
    const std::string& device = targets[t].device;
    rooms.clear();
    for (const Session& s : call->sessions[call->user_index[t]]) {
      if (!device.empty() && s.device() != device) continue;
      if (std::find(rooms.begin(), rooms.end(), s.room_address()) == rooms.end()) {
        rooms.push_back(s.room_address());
      }
    }
    for (std::string_view address : rooms)
      roomFor(address).targets.push_back(t);
  }
  if (per_room.empty()) return finish(call);
  // A room's targets go in items of at most max_targets, so no item alone outgrows a batch.
  const size_t chunk = std::max<size_t>(1, limits_.max_targets);
  for (const RoomTargets& room : per_room)
    call->items_pending += (room.targets.size() + chunk - 1) / chunk;
  for (const RoomTargets& room : per_room) {
    const std::string address(room.address);
    for (size_t begin = 0; begin < room.targets.size(); begin += chunk) {
      queueItem(address, call, room.targets, begin, std::min(room.targets.size(), begin + chunk));
    }
  }
  if (!flush_scheduled_) {
    flush_scheduled_ = true;
    loop_.runBeforePoll([this, alive = liveness_.token()] {
      if (alive.alive()) flush();
    });
  }
}

void Deliverer::queueItem(const std::string& address, std::shared_ptr<Call> call,
                          const std::vector<size_t>& targets, size_t begin, size_t end) {
  room::DeliverRequest item;
  *item.mutable_message() = call->message;
  for (size_t i = begin; i < end; ++i) {
    const ParsedPush::Target& t = call->outcome.targets[targets[i]];
    room::DeliverTarget* target = item.add_targets();
    target->set_user(t.user);
    target->set_device(t.device);
  }
  auto& queue = pending_[address];
  if (!queue) queue = std::make_unique<RoomQueue>(limits_);
  if (queue->splitter.add(BatchSplitter::itemBytes(item.ByteSizeLong()), end - begin)) {
    queue->batches.push_back(std::make_unique<RoomBatch>());
  }
  RoomBatch& batch = *queue->batches.back();
  *batch.request.add_items() = std::move(item);
  batch.owners.emplace_back(std::move(call),
                            std::vector<size_t>(targets.begin() + begin, targets.begin() + end));
}

void Deliverer::flush() {
  flush_scheduled_ = false;
  auto queues = std::move(pending_);
  pending_.clear();
  for (auto& [address, queue] : queues) {
    for (auto& batch : queue->batches)
      sendBatch(address, std::move(batch));
  }
}

void Deliverer::sendBatch(const std::string& address, std::unique_ptr<RoomBatch> batch) {
  struct Rpc {
    rpc::Controller controller;
    room::DeliverBatchResponse response;
    std::unique_ptr<RoomBatch> batch;
    std::string address;
  };
  auto rpc = std::make_shared<Rpc>();
  rpc->batch = std::move(batch);
  rpc->address = address;
  auto finished = [this, alive = liveness_.token(), rpc] {
    if (!alive.alive()) return;
    const auto& owners = rpc->batch->owners;
    const bool ok = rpc->controller.status().isOk() &&
                    rpc->response.items_size() == static_cast<int>(owners.size());
    if (!ok) {
      LOG_EVERY_SEC(Warn, Center, 1, "DeliverBatch to room {} failed: {}", rpc->address,
                    rpc->controller.status().toString());
    }
    for (size_t k = 0; k < owners.size(); ++k) {
      const auto& [call, index] = owners[k];
      const room::DeliverResponse* r = ok ? &rpc->response.items(static_cast<int>(k)) : nullptr;
      const bool item_ok = r && r->connections_size() == static_cast<int>(index.size());
      for (size_t j = 0; j < index.size(); ++j) {
        if (item_ok) {
          call->outcome.connections[index[j]] += r->connections(static_cast<int>(j));
        } else {
          call->outcome.failed[index[j]] = true;
        }
      }
      if (--call->items_pending == 0) finish(call);
    }
  };
  ++batches_sent_;
  deliverBatches().inc();
  rpc::Channel* channel = rooms_.get(address);
  if (!channel) {
    rpc->controller.setStatus(unavailable("bad room address"));
    return finished();
  }
  room::Room_Stub(channel).DeliverBatch(&rpc->controller, &rpc->batch->request, &rpc->response,
                                        rpc::newCallback(finished));
}

void Deliverer::finish(std::shared_ptr<Call> call) {
  Done done = std::move(call->done);
  done(Status::ok(), std::move(call->outcome));
}

}  // namespace push::center

#include "common/queue/channel.h"

#include <algorithm>
#include <utility>

#include "common/base/log.h"
#include "common/queue/disk_queue.h"
#include "common/queue/queue_engine.h"
#include "common/queue/topic.h"
#include "common/queue/wire.h"

namespace push::queue {

namespace {
constexpr int64_t kTimeoutTickMs = 10;
constexpr size_t kTimeoutSlots = 4096;
}  // namespace

Channel::Channel(Topic& topic, std::string name, const QueueOptions& options,
                 std::unique_ptr<DiskQueue> disk, int64_t now_ms)
    : topic_(topic),
      name_(std::move(name)),
      options_(options),
      ephemeral_(wire::isEphemeralName(name_)),
      disk_(std::move(disk)),
      timeouts_(kTimeoutTickMs, kTimeoutSlots, now_ms, [this](uint64_t id) { onTimeout(id); }),
      now_ms_(now_ms) {}

Channel::~Channel() = default;

bool Channel::hasQueued() const {
  return !memory_.empty() || (disk_ != nullptr && disk_->depth() > 0);
}

void Channel::enqueue(Message message) {
  if (static_cast<int64_t>(memory_.size()) < options_.mem_queue_size) {
    memory_.push_back(std::move(message));
    return;
  }
  if (disk_ == nullptr) {
    // Ephemeral: nsqd drops what does not fit in memory too (a restored one has a disk queue).
    ++counters_.dropped_count;
    return;
  }
  Status status = putMessage(*disk_, message);
  if (!status.isOk()) {
    ++counters_.dropped_count;
    LOG_ERROR(Queue, "channel {}:{}: message {} lost: {}", topic_.name(), name_, message.id,
              status.toString());
  }
}

bool Channel::popQueued(Message* message) {
  bool disk_has = disk_ != nullptr && disk_->depth() > 0;
  bool take_disk = disk_has && (memory_.empty() || read_disk_next_);
  read_disk_next_ = !read_disk_next_;
  if (!take_disk) {
    if (memory_.empty()) return false;
    *message = std::move(memory_.front());
    memory_.pop_front();
    return true;
  }
  uint64_t skipped = 0;
  Result<bool> taken = takeMessage(*disk_, message, &skipped);
  if (skipped > 0) {
    counters_.dropped_count += skipped;
    LOG_ERROR(Queue, "channel {}:{}: {} undecodable records on disk dropped", topic_.name(), name_,
              skipped);
  }
  if (!taken.isOk()) {
    LOG_ERROR(Queue, "channel {}:{}: disk read failed: {}", topic_.name(), name_,
              taken.status().toString());
  } else if (*taken) {
    return true;
  }
  if (memory_.empty()) return false;
  *message = std::move(memory_.front());
  memory_.pop_front();
  return true;
}

void Channel::put(Message message) {
  ++counters_.message_count;
  enqueue(std::move(message));
  dispatch();
}

void Channel::requeueNow(Message message) {
  ++counters_.requeue_count;
  enqueue(std::move(message));
}

void Channel::putDeferred(Message message, int64_t deliver_at_ms) {
  ++counters_.message_count;
  deferred_.push(Deferred{deliver_at_ms, deferred_seq_++, std::move(message)});
}

Status Channel::checkOwner(InFlightMap::const_iterator it, const ChannelClient* client) const {
  if (it == in_flight_.end()) return Status(Code::NOT_FOUND, "ID not in flight");
  if (it->second.client != client) {
    return Status(Code::PERMISSION_DENIED, "client does not own message");
  }
  return Status::ok();
}

bool Channel::isReady(const ChannelClient* client) const {
  return client->ready_count_ > 0 && client->in_flight_ < client->ready_count_;
}

void Channel::markReady(ChannelClient* client) {
  if (!client->in_ready_ring_ && isReady(client)) {
    client->in_ready_ring_ = true;
    ready_ring_.push_back(client);
  }
}

bool Channel::sampledOut(const ChannelClient* client) {
  if (client->sample_rate_ <= 0) return false;
  sample_state_ ^= sample_state_ << 13;
  sample_state_ ^= sample_state_ >> 7;
  sample_state_ ^= sample_state_ << 17;
  // nsqd keeps a message when rand(0..99) <= sample_rate: (sample_rate + 1) percent of them.
  return static_cast<int32_t>(sample_state_ % 100) > client->sample_rate_;
}

void Channel::dispatch() {
  if (paused_ || dispatching_) return;
  dispatching_ = true;
  Message message;
  while (!ready_ring_.empty() && hasQueued()) {
    ChannelClient* client = ready_ring_.front();
    ready_ring_.pop_front();
    if (!isReady(client)) {
      client->in_ready_ring_ = false;
      continue;
    }
    if (!popQueued(&message)) {
      ready_ring_.push_front(client);
      break;
    }
    if (sampledOut(client)) {
      ++counters_.sampled_out_count;
      ready_ring_.push_front(client);  // still ready: it gets the next message's draw
      continue;
    }
    ++message.attempts;
    int64_t deadline = now_ms_ + client->msg_timeout_ms_;
    ++client->in_flight_;
    auto [it, inserted] = in_flight_.try_emplace(message.id, InFlight{message, client, deadline});
    if (!inserted) {
      // The same id twice in flight (a requeued copy raced a published duplicate): keep the
      // newer delivery; the older one can no longer be finished.
      --it->second.client->in_flight_;
      it->second = InFlight{message, client, deadline};
    }
    timeouts_.schedule(message.id, deadline);
    client->sendMessage(message);
    if (isReady(client)) {
      ready_ring_.push_back(client);
    } else {
      client->in_ready_ring_ = false;
    }
  }
  dispatching_ = false;
}

void Channel::addClient(ChannelClient* client, int64_t msg_timeout_ms, int32_t sample_rate) {
  client->msg_timeout_ms_ = msg_timeout_ms;
  client->sample_rate_ = sample_rate;
  client->ready_count_ = 0;
  client->in_flight_ = 0;
  client->in_ready_ring_ = false;
  clients_.push_back(client);
  restore_deadline_ms_ = 0;  // its consumer is back: an ephemeral channel like any other now
}

void Channel::removeClient(ChannelClient* client) {
  auto it = std::find(clients_.begin(), clients_.end(), client);
  if (it == clients_.end()) return;
  clients_.erase(it);
  if (client->in_ready_ring_) {
    ready_ring_.erase(std::find(ready_ring_.begin(), ready_ring_.end(), client));
    client->in_ready_ring_ = false;
  }
  if (client->in_flight_ > 0) {
    for (auto flight = in_flight_.begin(); flight != in_flight_.end();) {
      if (flight->second.client == client) {
        // Back in the queue at once; like a timeout, not counted as a REQ.
        enqueue(std::move(flight->second.message));
        flight = in_flight_.erase(flight);
      } else {
        ++flight;
      }
    }
    client->in_flight_ = 0;
  }
  dispatch();
}

void Channel::setReady(ChannelClient* client, int64_t count) {
  client->ready_count_ = count;
  markReady(client);
  dispatch();
}

Status Channel::finish(ChannelClient* client, uint64_t id) {
  auto it = in_flight_.find(id);
  if (Status owned = checkOwner(it, client); !owned.isOk()) return owned;
  in_flight_.erase(it);
  --client->in_flight_;
  markReady(client);
  dispatch();
  return Status::ok();
}

Status Channel::requeue(ChannelClient* client, uint64_t id, int64_t delay_ms, int64_t now_ms) {
  auto it = in_flight_.find(id);
  if (Status owned = checkOwner(it, client); !owned.isOk()) return owned;
  Message message = std::move(it->second.message);
  in_flight_.erase(it);
  --client->in_flight_;
  if (delay_ms > 0) {
    ++counters_.requeue_count;
    deferred_.push(Deferred{now_ms + delay_ms, deferred_seq_++, std::move(message)});
  } else {
    requeueNow(std::move(message));
  }
  markReady(client);
  dispatch();
  return Status::ok();
}

Status Channel::touch(ChannelClient* client, uint64_t id, int64_t now_ms) {
  auto it = in_flight_.find(id);
  if (Status owned = checkOwner(it, client); !owned.isOk()) return owned;
  it->second.deadline_ms = now_ms + client->msg_timeout_ms_;
  timeouts_.schedule(id, it->second.deadline_ms);
  return Status::ok();
}

void Channel::onTimeout(uint64_t id) {
  auto it = in_flight_.find(id);
  if (it == in_flight_.end()) return;
  if (it->second.deadline_ms > now_ms_) return;  // touched: a later entry is scheduled
  ChannelClient* client = it->second.client;
  Message message = std::move(it->second.message);
  in_flight_.erase(it);
  --client->in_flight_;
  ++counters_.timeout_count;
  enqueue(std::move(message));  // a timeout is not a REQ: requeue_count stays (as nsqd's)
  markReady(client);
}

void Channel::tick(int64_t now_ms) {
  now_ms_ = now_ms;
  timeouts_.advance(now_ms);
  while (!deferred_.empty() && deferred_.top().deliver_at_ms <= now_ms) {
    // priority_queue::top() is const: copy the message (a body reference), then pop.
    Message message = deferred_.top().message;
    deferred_.pop();
    enqueue(std::move(message));
  }
  dispatch();
}

void Channel::pause() {
  paused_ = true;
}

void Channel::unpause() {
  paused_ = false;
  dispatch();
}

Status Channel::empty() {
  memory_.clear();
  in_flight_.clear();
  deferred_ = {};
  for (ChannelClient* client : clients_) {
    client->in_flight_ = 0;
    markReady(client);
  }
  return disk_ != nullptr ? disk_->empty() : Status::ok();
}

void Channel::closeClients() {
  std::vector<ChannelClient*> clients;
  clients.swap(clients_);
  ready_ring_.clear();
  for (ChannelClient* client : clients) {
    client->in_ready_ring_ = false;
    client->onChannelClosing();
  }
}

Status Channel::removeFiles() {
  return disk_ != nullptr ? disk_->removeFiles() : Status::ok();
}

Status Channel::flushToDisk() {
  if (disk_ == nullptr) {
    if (!ephemeral_ || !options_.keep_ephemeral_on_restart || topic_.ephemeral()) {
      return Status::ok();
    }
    ASSIGN_OR_RETURN(
        disk_, topic_.engine().openDiskQueue(topic_.name() + ":" + name_, /*ephemeral=*/false));
  }
  std::vector<Message> pending;
  pending.reserve(memory_.size() + in_flight_.size() + deferred_.size());
  for (Message& message : memory_)
    pending.push_back(std::move(message));
  memory_.clear();
  for (auto& [id, flight] : in_flight_)
    pending.push_back(std::move(flight.message));
  in_flight_.clear();
  while (!deferred_.empty()) {
    pending.push_back(deferred_.top().message);
    deferred_.pop();
  }
  for (const Message& message : pending) {
    Status status = putMessage(*disk_, message);
    if (!status.isOk()) {
      counters_.dropped_count += pending.size();
      return status;
    }
  }
  return disk_->sync();
}

Status Channel::syncDisk() {
  return disk_ != nullptr ? disk_->sync() : Status::ok();
}

Channel::Stats Channel::stats() const {
  Stats stats = counters_;
  stats.backend_depth = disk_ != nullptr ? disk_->depth() : 0;
  stats.depth = memory_.size() + stats.backend_depth;
  stats.in_flight = in_flight_.size();
  stats.deferred = deferred_.size();
  stats.clients = clients_.size();
  return stats;
}

}  // namespace push::queue

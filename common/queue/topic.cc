#include "common/queue/topic.h"

#include <cassert>
#include <utility>
#include <vector>

#include "common/base/log.h"
#include "common/queue/channel.h"
#include "common/queue/disk_queue.h"
#include "common/queue/queue_engine.h"
#include "common/queue/wire.h"

namespace push::queue {

Topic::Topic(QueueEngine& engine, std::string name, const QueueOptions& options,
             std::unique_ptr<DiskQueue> disk)
    : engine_(engine),
      name_(std::move(name)),
      options_(options),
      ephemeral_(wire::isEphemeralName(name_)),
      disk_(std::move(disk)) {}

Topic::~Topic() = default;

void Topic::publish(Message message) {
  publishDeferred(std::move(message), 0);
}

void Topic::publishDeferred(Message message, int64_t deliver_at_ms) {
  ++counters_.message_count;
  counters_.message_bytes += message.body.size();
  if (flowing() && memory_.empty() && (disk_ == nullptr || disk_->depth() == 0)) {
    fanOut(message, deliver_at_ms);
    return;
  }
  buffer(std::move(message), deliver_at_ms);
  if (flowing()) drainBacklog();
}

void Topic::fanOut(const Message& message, int64_t deliver_at_ms) {
  for (auto& [name, channel] : channels_) {
    if (deliver_at_ms > 0) {
      channel->putDeferred(message, deliver_at_ms);
    } else {
      channel->put(message);
    }
  }
}

void Topic::buffer(Message message, int64_t deliver_at_ms) {
  if (static_cast<int64_t>(memory_.size()) < options_.mem_queue_size) {
    memory_.push_back(Pending{std::move(message), deliver_at_ms});
    return;
  }
  if (disk_ == nullptr) {
    ++counters_.dropped_count;
    return;
  }
  Status status = putMessage(*disk_, message);
  if (!status.isOk()) {
    ++counters_.dropped_count;
    LOG_ERROR(Queue, "topic {}: message {} lost: {}", name_, message.id, status.toString());
  }
}

void Topic::drainBacklog() {
  size_t moved = 0;
  while (flowing() && moved < options_.topic_drain_batch) {
    // The older messages first: what went to disk arrived after what is in memory only when
    // memory was full, so memory, then disk.
    if (!memory_.empty()) {
      Pending pending = std::move(memory_.front());
      memory_.pop_front();
      fanOut(pending.message, pending.deliver_at_ms);
    } else if (disk_ != nullptr && disk_->depth() > 0) {
      Message message;
      Result<bool> taken = takeMessage(*disk_, &message, &counters_.dropped_count);
      if (!taken.isOk()) {
        LOG_ERROR(Queue, "topic {}: disk read failed: {}", name_, taken.status().toString());
        return;
      }
      if (*taken) fanOut(message, 0);
    } else {
      return;
    }
    ++moved;
  }
}

Result<Channel*> Topic::getOrCreateChannel(const std::string& name) {
  if (Channel* existing = findChannel(name)) return existing;
  bool ephemeral = wire::isEphemeralName(name);
  ASSIGN_OR_RETURN(std::unique_ptr<DiskQueue> disk,
                   engine_.openDiskQueue(name_ + ":" + name, ephemeral));
  Channel* raw = addChannel(name, std::move(disk));
  // While loading, the other channels of the topic do not exist yet: the first tick drains.
  if (flowing() && !engine_.loading()) drainBacklog();
  return raw;
}

Result<Channel*> Topic::restoreEphemeralChannel(const std::string& name, int64_t deadline_ms) {
  assert(engine_.loading() && wire::isEphemeralName(name) && findChannel(name) == nullptr);
  ASSIGN_OR_RETURN(std::unique_ptr<DiskQueue> disk,
                   engine_.openDiskQueue(name_ + ":" + name, /*ephemeral=*/false));
  Channel* raw = addChannel(name, std::move(disk));
  raw->markRestored(deadline_ms);
  return raw;
}

Channel* Topic::addChannel(const std::string& name, std::unique_ptr<DiskQueue> disk) {
  auto channel = std::make_unique<Channel>(*this, name, options_, std::move(disk), engine_.nowMs());
  Channel* raw = channel.get();
  channels_.emplace(name, std::move(channel));
  engine_.onCreated(name_, name);
  return raw;
}

Channel* Topic::findChannel(const std::string& name) {
  auto it = channels_.find(name);
  return it == channels_.end() ? nullptr : it->second.get();
}

Status Topic::deleteChannel(const std::string& name) {
  auto it = channels_.find(name);
  if (it == channels_.end()) return Status(Code::NOT_FOUND, "CHANNEL_NOT_FOUND");
  std::unique_ptr<Channel> channel = std::move(it->second);
  channels_.erase(it);
  channel->closeClients();
  Status status = channel->removeFiles();
  engine_.onDeleted(name_, name);
  return status;
}

void Topic::pause() {
  paused_ = true;
}

void Topic::unpause() {
  paused_ = false;
  drainBacklog();
}

Status Topic::empty() {
  memory_.clear();
  return disk_ != nullptr ? disk_->empty() : Status::ok();
}

Status Topic::close(bool remove_files) {
  Status first = Status::ok();
  for (auto& [name, channel] : channels_) {
    channel->closeClients();
    Status status = remove_files ? channel->removeFiles() : channel->flushToDisk();
    if (first.isOk() && !status.isOk()) first = status;
  }
  if (disk_ != nullptr) {
    Status status = remove_files ? disk_->removeFiles() : flushToDisk();
    if (first.isOk() && !status.isOk()) first = status;
  }
  return first;
}

Status Topic::flushToDisk() {
  // Like nsqd at a clean stop: what waits in memory goes after what is on disk already.
  while (!memory_.empty()) {
    Status status = putMessage(*disk_, memory_.front().message);
    memory_.pop_front();
    if (!status.isOk()) {
      counters_.dropped_count += memory_.size() + 1;
      memory_.clear();
      return status;
    }
  }
  return disk_->sync();
}

void Topic::tick(int64_t now_ms) {
  if (flowing()) drainBacklog();
  for (auto& [name, channel] : channels_)
    channel->tick(now_ms);
  deleteUnclaimedChannels(now_ms);
}

void Topic::deleteUnclaimedChannels(int64_t now_ms) {
  std::vector<std::string> unclaimed;
  for (const auto& [name, channel] : channels_) {
    int64_t deadline = channel->restoreDeadlineMs();
    if (deadline > 0 && now_ms >= deadline && channel->clientCount() == 0)
      unclaimed.push_back(name);
  }
  for (const std::string& name : unclaimed) {
    // Its consumer (a room) did not come back: it leaves no backlog, as if it had not been kept.
    Channel::Stats stats = channels_.at(name)->stats();
    LOG_INFO(Queue, "channel {}:{}: restored, but no client came: deleted with {} messages", name_,
             name, stats.depth + stats.deferred);
    Status status = deleteChannel(name);
    if (!status.isOk()) {
      LOG_ERROR(Queue, "channel {}:{}: delete failed: {}", name_, name, status.toString());
    }
  }
}

Status Topic::syncDisk() {
  Status first = disk_ != nullptr ? disk_->sync() : Status::ok();
  for (auto& [name, channel] : channels_) {
    Status status = channel->syncDisk();
    if (first.isOk() && !status.isOk()) first = status;
  }
  return first;
}

Topic::Stats Topic::stats() const {
  Stats stats = counters_;
  stats.backend_depth = disk_ != nullptr ? disk_->depth() : 0;
  stats.depth = memory_.size() + stats.backend_depth;
  return stats;
}

}  // namespace push::queue
